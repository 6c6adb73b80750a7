// The optimizer phase of a training step at full size (212,888,065 float32 parameters, the
// CLIP ViT-B/32 + RoBERTa-base dual encoder), two ways over the same flat buffers:
//   separate: grad_norm, scale_grads (the clipping multiply), step, zero_grad
//   fused:    grad_norm, step(lr, clip_coef, zero_grads) in one pass
// Prints the mean seconds of each over several rounds, alternating the two.
//
// usage: bench_adamw [--parameters N] [--rounds N]
#include <chrono>
#include <cstdio>
#include <string>

#include <torch/torch.h>

#include "dualclip/core/runtime.h"
#include "dualclip/train/optimizer.h"

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  int64_t parameters = 212888065;
  int rounds = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string key = argv[i], value = argv[i + 1];
    if (key == "--parameters") parameters = std::stoll(value);
    else if (key == "--rounds") rounds = std::stoi(value);
    else {
      std::fprintf(stderr, "invalid option %s; usage: bench_adamw [--parameters N] [--rounds N]\n", key.c_str());
      return 2;
    }
  }
  const int threads = dualclip::runtime::configure_threads();

  // Two equal optimizers, each over one parameter tensor of the full model's size.
  auto make_optimizer = [&](torch::Tensor& weight) {
    weight = torch::randn({parameters}).requires_grad_(true);
    dualclip::train::AdamW optimizer({dualclip::train::ParameterGroup{0.1, {{"weight", weight}}}});
    return optimizer;
  };
  torch::Tensor separate_weight, fused_weight;
  dualclip::train::AdamW separate = make_optimizer(separate_weight);
  dualclip::train::AdamW fused = make_optimizer(fused_weight);
  const torch::Tensor gradient = torch::randn({parameters});

  double separate_seconds = 0.0, fused_seconds = 0.0;
  for (int round = 0; round <= rounds; ++round) {
    separate_weight.mutable_grad().copy_(gradient);
    auto start = std::chrono::steady_clock::now();
    double clip_coef = std::min(1.0, 1.0 / (separate.grad_norm() + 1e-6));
    separate.scale_grads(clip_coef);
    separate.step(5e-5);
    separate.zero_grad();
    const double separate_round = seconds_since(start);

    fused_weight.mutable_grad().copy_(gradient);
    start = std::chrono::steady_clock::now();
    clip_coef = std::min(1.0, 1.0 / (fused.grad_norm() + 1e-6));
    fused.step(5e-5, clip_coef, true);
    const double fused_round = seconds_since(start);

    // Round 0 touches the moment buffers for the first time and is left out.
    if (round > 0) {
      separate_seconds += separate_round;
      fused_seconds += fused_round;
    }
  }
  std::printf("%lld parameters, %d threads, mean of %d rounds\n", static_cast<long long>(parameters), threads, rounds);
  std::printf("separate (norm, clip, step, zero_grad): %.3f s\n", separate_seconds / rounds);
  std::printf("fused    (norm, one pass):              %.3f s\n", fused_seconds / rounds);
  return 0;
}
