#include "dualclip/train/parameter_groups.h"

#include <set>

#include <torch/nn/modules/normalization.h>

#include "dualclip/core/error.h"

namespace dualclip::train {

namespace {

// Full names of the parameters that live in LayerNorm modules.
std::set<std::string> layer_norm_parameter_names(torch::nn::Module& model) {
  std::set<std::string> names;
  if (dynamic_cast<torch::nn::LayerNormImpl*>(&model) != nullptr) {
    for (const auto& p : model.named_parameters(/*recurse=*/false)) names.insert(p.key());
  }
  // Without the model itself, which need not be owned by a shared_ptr here.
  for (const auto& item : model.named_modules("", /*include_self=*/false)) {
    if (dynamic_cast<torch::nn::LayerNormImpl*>(item.value().get()) == nullptr) continue;
    std::string prefix = item.key().empty() ? "" : item.key() + ".";
    for (const auto& p : item.value()->named_parameters(/*recurse=*/false)) names.insert(prefix + p.key());
  }
  return names;
}

}  // namespace

DecayRule parse_decay_rule(const std::string& name) {
  if (name == "hf") return DecayRule::HuggingFace;
  if (name == "open_clip") return DecayRule::OpenClip;
  throw Error("--weight_decay_rule '" + name + "' is not supported; use hf (the Trainer's rule) or open_clip");
}

std::vector<ParameterGroup> make_parameter_groups(torch::nn::Module& model, double weight_decay, DecayRule rule) {
  std::set<std::string> layer_norm = layer_norm_parameter_names(model);
  std::vector<ParameterGroup> groups(2);
  groups[0].weight_decay = weight_decay;
  groups[1].weight_decay = 0.0;

  for (const auto& item : model.named_parameters()) {
    const std::string& name = item.key();
    const torch::Tensor& tensor = item.value();
    if (!tensor.requires_grad()) continue;

    bool decay;
    if (rule == DecayRule::HuggingFace) {
      decay = name.find("bias") == std::string::npos && layer_norm.count(name) == 0;
    } else {
      decay = tensor.dim() >= 2;
    }
    groups[decay ? 0 : 1].parameters.push_back({name, tensor});
  }
  return groups;
}

}  // namespace dualclip::train
