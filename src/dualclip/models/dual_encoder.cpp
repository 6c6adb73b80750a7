#include "dualclip/models/dual_encoder.h"

#include <cmath>

#include <torch/nn/functional/loss.h>
#include <torch/nn/modules/dropout.h>

#include "dualclip/core/error.h"
#include "dualclip/models/config.h"
#include "dualclip/models/layers.h"
#include "dualclip/models/towers.h"

namespace dualclip::models {

using nlohmann::json;

std::shared_ptr<VisionTower> make_vision_tower(const json& config, bool wrapped) {
  std::string model_type = get_string(config, "model_type", "vision_config");
  if (model_type == "clip_vision_model") return make_clip_vision_tower(config, wrapped);
  if (model_type == "vit") return make_vit_tower(config);
  throw Error("vision_config: model_type \"" + model_type + "\" is not a vision tower (supported: clip, clip_vision_model, vit)");
}

std::shared_ptr<TextTower> make_text_tower(const json& config, bool wrapped) {
  std::string model_type = get_string(config, "model_type", "text_config");
  if (model_type == "clip_text_model") return make_clip_text_tower(config, wrapped);
  if (model_type == "bert" || model_type == "roberta" || model_type == "xlm-roberta") return make_bert_tower(config);
  throw Error("text_config: model_type \"" + model_type +
              "\" is not a text tower (supported: roberta, xlm-roberta, bert, clip, clip_text_model)");
}

std::string base_model_prefix(const std::string& model_type) {
  if (model_type == "roberta" || model_type == "xlm-roberta") return "roberta";
  if (model_type == "bert") return "bert";
  if (model_type == "vit") return "vit";
  return "";
}

DualEncoderImpl::DualEncoderImpl(const json& config) : config_(config) {
  // Step 1: the tower configs. A full CLIP config contains both; a dual encoder config nests them.
  const std::string model_type = config.is_object() ? config.value("model_type", std::string()) : std::string();
  const bool clip = model_type == "clip";
  if (!clip && model_type != "vision-text-dual-encoder") {
    throw Error("config.json: model_type \"" + model_type +
                "\" is not a dual encoder (expected \"vision-text-dual-encoder\" or \"clip\"); build one from two "
                "towers with `dualclip create`");
  }
  json vision_config, text_config;
  if (clip) {
    vision_config = vision_tower_config(config, "config.json");
    text_config = text_tower_config(config, "config.json");
  } else {
    for (const char* key : {"vision_config", "text_config"}) {
      if (!config.contains(key) || !config[key].is_object()) {
        throw Error(std::string("config.json: required field \"") + key + "\" is missing from the dual encoder config");
      }
    }
    vision_config = vision_tower_config(config["vision_config"], "config.json vision_config");
    text_config = text_tower_config(config["text_config"], "config.json text_config");
  }
  projection_dim_ = config.contains("projection_dim") ? get_int(config, "projection_dim", "config.json") : 512;
  double logit_scale_init_value =
      config.contains("logit_scale_init_value") ? get_double(config, "logit_scale_init_value", "config.json") : 2.6592;
  if (projection_dim_ <= 0) throw Error("config.json: projection_dim must be positive, got " + std::to_string(projection_dim_));

  // Step 2: the towers. HF's dual encoder wraps a CLIP tower in CLIPVisionModel /
  // CLIPTextModel (a second "vision_model." / "text_model." in the keys); CLIPModel does not.
  vision_model = register_module("vision_model", make_vision_tower(vision_config, /*wrapped=*/!clip));
  text_model = register_module("text_model", make_text_tower(text_config, /*wrapped=*/!clip));

  // Step 3: bias-free projections and the temperature.
  visual_projection = register_module(
      "visual_projection", torch::nn::Linear(torch::nn::LinearOptions(vision_model->hidden_size(), projection_dim_).bias(false)));
  text_projection = register_module(
      "text_projection", torch::nn::Linear(torch::nn::LinearOptions(text_model->hidden_size(), projection_dim_).bias(false)));
  logit_scale = register_parameter("logit_scale", torch::tensor(static_cast<float>(logit_scale_init_value)));

  // VisionTextDualEncoderModel keeps nn.Linear's kaiming-uniform default for the projections;
  // CLIPModel draws them from N(0, hidden_size^-0.5 * initializer_factor).
  if (clip) {
    double factor = config.value("initializer_factor", 1.0);
    init_normal(visual_projection->weight, std::pow(vision_model->hidden_size(), -0.5) * factor);
    init_normal(text_projection->weight, std::pow(text_model->hidden_size(), -0.5) * factor);
  }
}

torch::Tensor DualEncoderImpl::get_image_features(const torch::Tensor& pixel_values) {
  return visual_projection(vision_model->forward(pixel_values).pooler_output);
}

torch::Tensor DualEncoderImpl::get_text_features(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                                                 const torch::Tensor& token_type_ids) {
  return text_projection(text_model->forward(input_ids, attention_mask, token_type_ids).pooler_output);
}

DualEncoderOutput DualEncoderImpl::forward(const torch::Tensor& pixel_values, const torch::Tensor& input_ids,
                                           const torch::Tensor& attention_mask, const torch::Tensor& token_type_ids,
                                           bool return_loss, bool output_hidden_states) {
  DualEncoderOutput out;
  out.vision_model_output = vision_model->forward(pixel_values, output_hidden_states);
  out.text_model_output = text_model->forward(input_ids, attention_mask, token_type_ids, output_hidden_states);

  // Project each pooled output and divide by its L2 norm.
  torch::Tensor image_embeds = visual_projection(out.vision_model_output.pooler_output);
  torch::Tensor text_embeds = text_projection(out.text_model_output.pooler_output);
  out.image_embeds = image_embeds / image_embeds.norm(2, -1, true);
  out.text_embeds = text_embeds / text_embeds.norm(2, -1, true);

  // Cosine similarities scaled by the learned temperature.
  out.logits_per_text = torch::matmul(out.text_embeds, out.image_embeds.t()) * logit_scale.exp();
  out.logits_per_image = out.logits_per_text.t();
  if (return_loss) out.loss = contrastive_loss(out.logits_per_text);
  return out;
}

void DualEncoderImpl::set_dropout(double p) {
  if (p < 0.0 || p >= 1.0) throw Error("dropout probability must be in [0, 1), got " + std::to_string(p));
  for (const auto& module : modules()) {
    if (auto* dropout = module->as<torch::nn::Dropout>()) dropout->options.p(p);
  }
}

void DualEncoderImpl::set_gradient_checkpointing(bool enabled) {
  vision_model->set_gradient_checkpointing(enabled);
  text_model->set_gradient_checkpointing(enabled);
}

torch::Tensor contrastive_loss(const torch::Tensor& logits_per_text) {
  if (logits_per_text.dim() != 2 || logits_per_text.size(0) != logits_per_text.size(1)) {
    throw Error("the contrastive loss needs as many texts as images (one caption per image), got logits of shape [" +
                std::to_string(logits_per_text.size(0)) + ", " +
                std::to_string(logits_per_text.dim() > 1 ? logits_per_text.size(1) : 0) + "]");
  }
  // Computed in float32 even for a bfloat16 model, so the loss keeps its precision.
  torch::Tensor logits = logits_per_text.to(torch::kFloat32);
  torch::Tensor targets = torch::arange(logits.size(0), logits.options().dtype(torch::kLong));
  torch::Tensor caption_loss = torch::nn::functional::cross_entropy(logits, targets);
  torch::Tensor image_loss = torch::nn::functional::cross_entropy(logits.t(), targets);
  return (caption_loss + image_loss) / 2.0;
}

}  // namespace dualclip::models
