// Builders for the towers. Each tower's named_parameters() are the keys of the matching HF
// model's state dict: CLIPVisionModel / CLIPTextModel (with their inner "vision_model." /
// "text_model." prefix), ViTModel, BertModel, RobertaModel.
#pragma once

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "dualclip/models/dual_encoder.h"

namespace dualclip::models {

// `config` is a tower config with defaults filled (see config.h). A CLIP tower is built
// `wrapped` as HF's CLIPVisionModel / CLIPTextModel (keys "vision_model.embeddings...", as
// inside a vision-text-dual-encoder) or unwrapped as the bare transformer that CLIPModel
// holds (keys "embeddings...", which CLIPModel prefixes with "vision_model."). Non-CLIP
// towers ignore `wrapped`.
std::shared_ptr<VisionTower> make_vision_tower(const nlohmann::json& config, bool wrapped = true);
std::shared_ptr<TextTower> make_text_tower(const nlohmann::json& config, bool wrapped = true);

// The builders behind them, one per architecture.
std::shared_ptr<VisionTower> make_clip_vision_tower(const nlohmann::json& config, bool wrapped);
std::shared_ptr<VisionTower> make_vit_tower(const nlohmann::json& config);
std::shared_ptr<TextTower> make_clip_text_tower(const nlohmann::json& config, bool wrapped);
std::shared_ptr<TextTower> make_bert_tower(const nlohmann::json& config);

// Loads a tower checkpoint directory (or hub id) on its own, as HF's AutoModel would: a full
// CLIP checkpoint contributes its vision or text tower, task-model prefixes ("roberta.",
// "bert.", "vit.") are stripped, unused weights (heads such as lm_head) are listed in one
// note, and a pooler the checkpoint lacks keeps its fresh initialisation. Eval mode, CPU.
std::shared_ptr<VisionTower> load_vision_tower(const std::string& name_or_path);
std::shared_ptr<TextTower> load_text_tower(const std::string& name_or_path);

// The prefix HF's task models put before a base model's keys ("roberta", "bert", "vit"),
// empty for CLIP towers.
std::string base_model_prefix(const std::string& model_type);

}  // namespace dualclip::models
