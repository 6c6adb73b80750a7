#include "dualclip/eval/inference.h"

#include <torch/torch.h>

#include "dualclip/core/error.h"
#include "dualclip/core/log.h"
#include "dualclip/core/runtime.h"
#include "dualclip/io/model_dir.h"

namespace dualclip::eval {

torch::Device parse_device(const std::string& text) {
  if (text == "cpu") return torch::kCPU;
  if (text == "cuda" || text.rfind("cuda:", 0) == 0) {
    if (!runtime::cuda_available()) {
      throw Error("--device " + text + " requested, but CUDA is not available in this build or on this machine; use --device cpu");
    }
    try {
      return torch::Device(text);
    } catch (const c10::Error&) {
      throw Error("invalid --device '" + text + "': expected cpu, cuda or cuda:N");
    }
  }
  throw Error("invalid --device '" + text + "': expected cpu, cuda or cuda:N");
}

InferenceModel load_inference_model(const std::string& name_or_path, const InferenceOptions& options) {
  const torch::Device device = parse_device(options.device);
  const std::filesystem::path model_dir = io::resolve_model_dir(name_or_path);

  models::LoadOptions load_options;
  load_options.device = device;
  load_options.dtype = options.bf16 ? torch::kBFloat16 : torch::kFloat32;
  models::DualEncoder model = models::load_dual_encoder(model_dir.string(), load_options);
  model->eval();

  Processor processor(model_dir, options.max_seq_length, model->text_model->max_position_embeddings());
  log::info("loaded " + model_dir.string() + " (" + model->vision_model->model_type() + " + " +
            model->text_model->model_type() + ", " + (options.bf16 ? "bfloat16" : "float32") + ", " +
            device.str() + ")");
  return InferenceModel{model_dir, model, std::move(processor), device};
}

}  // namespace dualclip::eval
