// Embedding throughput of the full-size dual encoder (CLIP ViT-B/32 vision tower, RoBERTa-base
// text tower, projection_dim 512; random weights, which cost the same time as trained ones):
// images/s through get_image_features and texts/s through get_text_features, in float32 and
// bfloat16. Only the model is timed: pixel_values and input_ids are random tensors, so image
// decoding and tokenisation are not included.
//
//   bench_embed [--device cpu|cuda] [--batch_size 32] [--seq_len 32] [--iterations 3]
//               [--dtypes float32,bfloat16] [--output bench_embed.json]
// Each figure is printed as soon as it is measured and the JSON is rewritten after each dtype:
// without bfloat16 instructions (most x86 CPUs before AVX512-BF16 or AMX) a bfloat16 batch
// takes minutes.

#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "dualclip/core/fs.h"
#include "dualclip/core/runtime.h"
#include "dualclip/eval/inference.h"
#include "dualclip/models/dual_encoder.h"

namespace {

// The vision tower is CLIPVisionConfig's defaults in transformers 4.40 (the ViT-B/32 of
// openai/clip-vit-base-patch32); the text tower has roberta-base's published config.json sizes.
nlohmann::json full_size_config() {
  return {{"model_type", "vision-text-dual-encoder"},
          {"projection_dim", 512},
          {"logit_scale_init_value", 2.6592},
          {"vision_config",
           {{"model_type", "clip_vision_model"}, {"hidden_size", 768}, {"intermediate_size", 3072},
            {"num_hidden_layers", 12}, {"num_attention_heads", 12}, {"image_size", 224}, {"patch_size", 32},
            {"num_channels", 3}, {"hidden_act", "quick_gelu"}, {"layer_norm_eps", 1e-5}, {"projection_dim", 512}}},
          {"text_config",
           {{"model_type", "roberta"}, {"vocab_size", 50265}, {"hidden_size", 768}, {"intermediate_size", 3072},
            {"num_hidden_layers", 12}, {"num_attention_heads", 12}, {"max_position_embeddings", 514},
            {"type_vocab_size", 1}, {"pad_token_id", 1}, {"bos_token_id", 0}, {"eos_token_id", 2},
            {"hidden_act", "gelu"}, {"layer_norm_eps", 1e-5}, {"hidden_dropout_prob", 0.1},
            {"attention_probs_dropout_prob", 0.1}}}};
}

struct Settings {
  std::string device = "cpu";
  int64_t batch_size = 32;
  int64_t seq_len = 32;
  int64_t iterations = 3;
  std::string dtypes = "float32,bfloat16";
  std::string output = "bench_embed.json";
};

Settings parse_settings(int argc, char** argv) {
  Settings settings;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string name = argv[i], value = argv[i + 1];
    if (name == "--device") settings.device = value;
    else if (name == "--batch_size") settings.batch_size = std::stoll(value);
    else if (name == "--seq_len") settings.seq_len = std::stoll(value);
    else if (name == "--iterations") settings.iterations = std::stoll(value);
    else if (name == "--dtypes") settings.dtypes = value;
    else if (name == "--output") settings.output = value;
    else throw std::invalid_argument("unknown option " + name);
  }
  return settings;
}

// Items per second of `step`, which embeds one batch: one untimed warm-up call, then the mean
// over `iterations` calls.
template <typename Step>
double measure(const Step& step, int64_t batch_size, int64_t iterations, const torch::Device& device) {
  auto synchronize = [&] {
    if (device.is_cuda()) torch::cuda::synchronize();
  };
  step();
  synchronize();
  const auto start = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < iterations; ++i) step();
  synchronize();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return batch_size * iterations / seconds;
}

}  // namespace

int main(int argc, char** argv) {
  const Settings settings = parse_settings(argc, argv);
  const torch::Device device = dualclip::eval::parse_device(settings.device);
  const int threads = dualclip::runtime::configure_threads();
  torch::manual_seed(0);
  torch::NoGradGuard no_grad;

  nlohmann::json results = nlohmann::json::array();
  auto report = [&] {
    return nlohmann::json{{"benchmark", "bench_embed"},
                          {"model", "CLIP ViT-B/32 vision + RoBERTa-base text, projection_dim 512 (random weights)"},
                          {"device", device.str()},
                          {"threads", threads},
                          {"blas", dualclip::runtime::blas_description()},
                          {"torch", dualclip::runtime::torch_version()},
                          {"batch_size", settings.batch_size},
                          {"seq_len", settings.seq_len},
                          {"iterations", settings.iterations},
                          {"results", results}};
  };
  std::printf("%-10s %-8s %-8s %12s\n", "dtype", "device", "input", "items/s");
  for (const auto dtype : {torch::kFloat32, torch::kBFloat16}) {
    const std::string dtype_name = dtype == torch::kFloat32 ? "float32" : "bfloat16";
    if (settings.dtypes.find(dtype_name) == std::string::npos) continue;
    dualclip::models::DualEncoder model(full_size_config());
    model->to(device, dtype);
    model->eval();

    const torch::Tensor pixel_values = torch::randn({settings.batch_size, 3, 224, 224}).to(device, dtype);
    const torch::Tensor input_ids = torch::randint(3, 50265, {settings.batch_size, settings.seq_len}, torch::kInt64).to(device);
    const torch::Tensor attention_mask = torch::ones_like(input_ids);

    const double images_per_second = measure([&] { model->get_image_features(pixel_values); }, settings.batch_size,
                                             settings.iterations, device);
    std::printf("%-10s %-8s %-8s %12.1f\n", dtype_name.c_str(), device.str().c_str(), "images", images_per_second);
    std::fflush(stdout);
    const double texts_per_second = measure([&] { model->get_text_features(input_ids, attention_mask); },
                                            settings.batch_size, settings.iterations, device);
    std::printf("%-10s %-8s %-8s %12.1f\n", dtype_name.c_str(), device.str().c_str(), "texts", texts_per_second);
    std::fflush(stdout);
    results.push_back({{"dtype", dtype_name}, {"images_per_second", images_per_second}, {"texts_per_second", texts_per_second}});
    dualclip::write_file_atomic(settings.output, report().dump(2) + "\n");
  }

  std::cout << "wrote " << settings.output << "\n";
  return 0;
}
