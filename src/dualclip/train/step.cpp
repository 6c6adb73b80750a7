#include "dualclip/train/step.h"

#include <chrono>
#include <cmath>
#include <sstream>

#include <ATen/autocast_mode.h>
#include <torch/torch.h>

#include "dualclip/core/error.h"
#include "dualclip/dist/distributed.h"

namespace dualclip::train {

namespace {

// Runs the forward pass under autocast (bfloat16 on CPU or CUDA, float16 on CUDA) while alive.
class AutocastScope {
 public:
  AutocastScope(Precision precision, const torch::Device& device) {
    if (precision == Precision::Float32) return;
    active_ = true;
    cuda_ = device.is_cuda();
    auto dtype = precision == Precision::BFloat16 ? at::kBFloat16 : at::kHalf;
    if (cuda_) {
      at::autocast::set_enabled(true);
      at::autocast::set_autocast_gpu_dtype(dtype);
    } else {
      at::autocast::set_cpu_enabled(true);
      at::autocast::set_autocast_cpu_dtype(dtype);
    }
    at::autocast::increment_nesting();
  }
  ~AutocastScope() {
    if (!active_) return;
    if (cuda_) {
      at::autocast::set_enabled(false);
    } else {
      at::autocast::set_cpu_enabled(false);
    }
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  }

 private:
  bool active_ = false;
  bool cuda_ = false;
};

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

torch::Tensor batch_loss(models::DualEncoder& model, const torch::Tensor& pixel_values,
                         const text::BatchEncoding& text, bool local_loss, Precision precision,
                         int64_t max_rows_per_rank) {
  models::DualEncoderOutput out;
  {
    AutocastScope autocast(precision, pixel_values.device());
    out = model->forward(pixel_values, text.input_ids, text.attention_mask, text.token_type_ids);
  }

  // One process (or --local_loss): the in-batch logits the model computed.
  if (!dist::is_distributed() || local_loss) {
    return models::contrastive_loss(out.logits_per_text.to(torch::kFloat32));
  }

  // Several processes: every rank scores its texts against the images of all ranks and the
  // other way round, as open_clip's gather_with_grad; gradients reach each rank's own slice.
  // Both embeddings travel in one gather: every collective is a point where each rank waits
  // for the slowest, and on a busy CPU those waits add up.
  const int64_t image_dim = out.image_embeds.size(1);
  auto both = torch::cat({out.image_embeds.to(torch::kFloat32), out.text_embeds.to(torch::kFloat32)}, 1);
  auto gathered = dist::all_gather_with_grad(both, max_rows_per_rank);
  auto image_embeds = gathered.narrow(1, 0, image_dim);
  auto text_embeds = gathered.narrow(1, image_dim, gathered.size(1) - image_dim);
  auto logits_per_text = torch::matmul(text_embeds, image_embeds.t()) * model->logit_scale.exp();
  return models::contrastive_loss(logits_per_text);
}

StepRunner::StepRunner(models::DualEncoder model, AdamW& optimizer, StepOptions options,
                       dist::GradientReducer* reducer)
    : model_(std::move(model)), optimizer_(optimizer), options_(options), reducer_(reducer) {}

double StepRunner::accumulate(const torch::Tensor& pixel_values, const text::BatchEncoding& text,
                              int64_t micro_batches, bool last) {
  if (reducer_ != nullptr) reducer_->set_enabled(last);
  auto phase_start = std::chrono::steady_clock::now();
  auto loss = batch_loss(model_, pixel_values, text, options_.local_loss, options_.precision,
                         options_.max_rows_per_rank);
  double value = loss.item<double>();
  forward_seconds_ += seconds_since(phase_start);
  if (!std::isfinite(value)) loss_finite_ = false;
  loss_sum_ += value;
  ++micro_batches_done_;
  pairs_ += pixel_values.size(0);

  // Float16 scales the loss so small gradients survive; apply() divides it back out.
  auto scaled = loss / static_cast<double>(micro_batches);
  if (options_.precision == Precision::Float16) scaled = scaled * scaler_.scale;
  phase_start = std::chrono::steady_clock::now();
  scaled.backward();
  backward_seconds_ += seconds_since(phase_start);
  if (reducer_ != nullptr && last) {
    phase_start = std::chrono::steady_clock::now();
    reducer_->synchronize();
    communication_seconds_ += seconds_since(phase_start);
    reduced_ = true;
  }
  return value;
}

StepStats StepRunner::apply(double lr, int64_t step, bool stop_requested) {
  // The optimizer phase is the time apply() takes, less the wait for a late all-reduce.
  const auto optimizer_start = std::chrono::steady_clock::now();
  const double communication_before = communication_seconds_;
  StepStats stats = finish_step(lr, step, stop_requested);
  stats.optimizer_seconds =
      seconds_since(optimizer_start) - (stats.communication_seconds - communication_before);
  return stats;
}

StepStats StepRunner::finish_step(double lr, int64_t step, bool stop_requested) {
  StepStats stats;
  stats.stop_requested = stop_requested;
  stats.forward_seconds = forward_seconds_;
  stats.backward_seconds = backward_seconds_;
  stats.communication_seconds = communication_seconds_;
  forward_seconds_ = backward_seconds_ = communication_seconds_ = 0.0;
  stats.loss = micro_batches_done_ > 0 ? loss_sum_ / static_cast<double>(micro_batches_done_) : 0.0;
  stats.pairs = pairs_;

  // A step whose last micro-batch was empty (unreadable images) still averages over ranks.
  if (reducer_ != nullptr && !reduced_) {
    const auto communication_start = std::chrono::steady_clock::now();
    reducer_->set_enabled(true);
    reducer_->synchronize();
    stats.communication_seconds += seconds_since(communication_start);
  }
  reduced_ = false;
  bool loss_finite = loss_finite_;
  loss_sum_ = 0.0;
  micro_batches_done_ = 0;
  loss_finite_ = true;
  pairs_ = 0;

  // Undo the float16 loss scale before anything looks at the gradients.
  if (options_.precision == Precision::Float16) optimizer_.scale_grads(1.0 / scaler_.scale);

  // A non-finite loss or gradient: skip (float16 overflow, --skip_nonfinite) or stop.
  stats.grad_norm = optimizer_.grad_norm();
  bool finite = loss_finite && std::isfinite(stats.grad_norm);
  if (dist::is_distributed()) {
    const auto flags = dist::all_reduce_sum(std::vector<double>{finite ? 0.0 : 1.0, stop_requested ? 1.0 : 0.0});
    finite = flags[0] == 0.0;
    stats.stop_requested = flags[1] > 0.0;
  }
  if (!finite) {
    optimizer_.zero_grad();
    stats.skipped = true;
    if (options_.precision == Precision::Float16) {
      scaler_.scale *= 0.5;
      scaler_.growth_tracker = 0;
      return stats;
    }
    if (options_.skip_nonfinite) return stats;
    std::ostringstream message;
    message << "step " << step << ": the loss (" << stats.loss << ") or the gradient norm (" << stats.grad_norm
            << ") is not finite; the model was not updated and no checkpoint was written at this step. Lower "
               "--learning_rate, check the data, or pass --skip_nonfinite to skip such steps";
    throw Error(message.str());
  }

  // clip_grad_norm_: coefficient max_norm / (norm + 1e-6), clamped to 1.
  if (options_.max_grad_norm > 0.0) {
    stats.clip_coef = std::min(1.0, options_.max_grad_norm / (stats.grad_norm + 1e-6));
  }

  // The clipping multiply, AdamW and zero_grad in one pass over the flat buffers.
  optimizer_.step(lr, stats.clip_coef, true);

  // CLIP and open_clip keep the temperature at most 100: logit_scale <= ln(100).
  if (options_.logit_scale_clamp) {
    torch::NoGradGuard no_grad;
    model_->logit_scale.clamp_max_(std::log(100.0));
  }

  if (options_.precision == Precision::Float16 && ++scaler_.growth_tracker >= 2000) {
    scaler_.scale *= 2.0;
    scaler_.growth_tracker = 0;
  }
  return stats;
}

}  // namespace dualclip::train
