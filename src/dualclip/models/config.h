// Tower configurations as Hugging Face writes them in config.json. HF saves a diff against
// each config class's defaults (nested CLIP configs omit every default value), so readers
// first fill in the defaults of transformers 4.40.2, encoded here, then read fields.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace dualclip::models {

// The tower model_types dualclip builds, for error messages.
const std::vector<std::string>& supported_vision_types();
const std::vector<std::string>& supported_text_types();

// Returns `config` with every key of its class's to_dict() that it lacks added at the
// class default ("clip_vision_model", "clip_text_model", "vit", "bert", "roberta",
// "xlm-roberta"). Throws dualclip::Error naming `source` for a missing or unsupported model_type.
nlohmann::json with_defaults(const nlohmann::json& config, const std::string& source);

// The vision tower's config from a tower config.json: a full CLIP config contributes its
// vision_config (model_type "clip_vision_model"), a ViT or CLIP vision config itself.
// The result has all defaults filled in.
nlohmann::json vision_tower_config(const nlohmann::json& config, const std::string& source);
// The same for text towers: CLIP's text_config, or a BERT / RoBERTa / CLIP text config.
nlohmann::json text_tower_config(const nlohmann::json& config, const std::string& source);

// A "vision-text-dual-encoder" config.json as HF's VisionTextDualEncoderConfig writes it:
// both tower configs in full (defaults filled, no transformers_version), projection_dim
// and logit_scale_init_value.
nlohmann::json make_dual_encoder_config(const nlohmann::json& vision_config, const nlohmann::json& text_config,
                                        int64_t projection_dim = 512, double logit_scale_init_value = 2.6592);

// Throws dualclip::Error naming `source` unless hidden_size splits evenly into heads.
void check_attention_shape(int64_t hidden_size, int64_t num_attention_heads, const std::string& source);
// Throws dualclip::Error naming `source` unless image_size is a whole number of patches.
void check_patch_shape(int64_t image_size, int64_t patch_size, const std::string& source);

// Typed field access that names the config and key on a missing or mistyped value.
int64_t get_int(const nlohmann::json& config, const std::string& key, const std::string& source);
double get_double(const nlohmann::json& config, const std::string& key, const std::string& source);
std::string get_string(const nlohmann::json& config, const std::string& key, const std::string& source);
bool get_bool(const nlohmann::json& config, const std::string& key, const std::string& source);

}  // namespace dualclip::models
