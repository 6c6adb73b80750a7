#include "dualclip/models/config.h"

#include <map>

#include "dualclip/core/error.h"

namespace dualclip::models {

namespace {

using nlohmann::json;

// PretrainedConfig().to_dict() of transformers 4.40.2: the generic keys every config class has.
// bos/pad/eos_token_id differ by class and are set in kClassDefaults.
const char* const kGenericDefaults = R"({
  "return_dict": true, "output_hidden_states": false, "output_attentions": false, "torchscript": false,
  "torch_dtype": null, "use_bfloat16": false, "tf_legacy_loss": false, "pruned_heads": {},
  "tie_word_embeddings": true, "chunk_size_feed_forward": 0, "is_encoder_decoder": false, "is_decoder": false,
  "cross_attention_hidden_size": null, "add_cross_attention": false, "tie_encoder_decoder": false,
  "max_length": 20, "min_length": 0, "do_sample": false, "early_stopping": false, "num_beams": 1,
  "num_beam_groups": 1, "diversity_penalty": 0.0, "temperature": 1.0, "top_k": 50, "top_p": 1.0,
  "typical_p": 1.0, "repetition_penalty": 1.0, "length_penalty": 1.0, "no_repeat_ngram_size": 0,
  "encoder_no_repeat_ngram_size": 0, "bad_words_ids": null, "num_return_sequences": 1, "output_scores": false,
  "return_dict_in_generate": false, "forced_bos_token_id": null, "forced_eos_token_id": null,
  "remove_invalid_values": false, "exponential_decay_length_penalty": null, "suppress_tokens": null,
  "begin_suppress_tokens": null, "architectures": null, "finetuning_task": null,
  "id2label": {"0": "LABEL_0", "1": "LABEL_1"}, "label2id": {"LABEL_0": 0, "LABEL_1": 1},
  "tokenizer_class": null, "prefix": null, "bos_token_id": null, "pad_token_id": null, "eos_token_id": null,
  "sep_token_id": null, "decoder_start_token_id": null, "task_specific_params": null, "problem_type": null,
  "_name_or_path": "", "transformers_version": "4.40.2"
})";

// The class-specific defaults of CLIPVisionConfig, CLIPTextConfig, ViTConfig, BertConfig and
// RobertaConfig in transformers 4.40.2.
const std::map<std::string, const char*>& class_defaults() {
  static const std::map<std::string, const char*> defaults = {
      {"clip_vision_model", R"({
        "hidden_size": 768, "intermediate_size": 3072, "projection_dim": 512, "num_hidden_layers": 12,
        "num_attention_heads": 12, "num_channels": 3, "patch_size": 32, "image_size": 224,
        "initializer_range": 0.02, "initializer_factor": 1.0, "attention_dropout": 0.0, "layer_norm_eps": 1e-05,
        "hidden_act": "quick_gelu", "model_type": "clip_vision_model"})"},
      {"clip_text_model", R"({
        "bos_token_id": 49406, "pad_token_id": 1, "eos_token_id": 49407,
        "vocab_size": 49408, "hidden_size": 512, "intermediate_size": 2048, "projection_dim": 512,
        "num_hidden_layers": 12, "num_attention_heads": 8, "max_position_embeddings": 77, "layer_norm_eps": 1e-05,
        "hidden_act": "quick_gelu", "initializer_range": 0.02, "initializer_factor": 1.0, "attention_dropout": 0.0,
        "model_type": "clip_text_model"})"},
      {"vit", R"({
        "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072,
        "hidden_act": "gelu", "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0,
        "initializer_range": 0.02, "layer_norm_eps": 1e-12, "image_size": 224, "patch_size": 16, "num_channels": 3,
        "qkv_bias": true, "encoder_stride": 16, "model_type": "vit"})"},
      {"bert", R"({
        "pad_token_id": 0,
        "vocab_size": 30522, "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
        "hidden_act": "gelu", "intermediate_size": 3072, "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1, "max_position_embeddings": 512, "type_vocab_size": 2,
        "initializer_range": 0.02, "layer_norm_eps": 1e-12, "position_embedding_type": "absolute",
        "use_cache": true, "classifier_dropout": null, "model_type": "bert"})"},
      {"roberta", R"({
        "bos_token_id": 0, "pad_token_id": 1, "eos_token_id": 2,
        "vocab_size": 50265, "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
        "hidden_act": "gelu", "intermediate_size": 3072, "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1, "max_position_embeddings": 512, "type_vocab_size": 2,
        "initializer_range": 0.02, "layer_norm_eps": 1e-12, "position_embedding_type": "absolute",
        "use_cache": true, "classifier_dropout": null, "model_type": "roberta"})"},
  };
  return defaults;
}

std::string join(const std::vector<std::string>& names) {
  std::string text;
  for (const auto& name : names) text += (text.empty() ? "" : ", ") + name;
  return text;
}

std::string model_type_of(const json& config, const std::string& source) {
  if (!config.is_object()) throw Error(source + ": the config is not a JSON object");
  if (!config.contains("model_type") || !config["model_type"].is_string()) {
    throw Error(source + ": the config has no \"model_type\"; a Hugging Face config.json names its model type");
  }
  return config["model_type"].get<std::string>();
}

// A nested config of a full CLIP config, with its model_type as HF implies it.
json nested_clip_config(const json& config, const char* key, const char* model_type, const std::string& source) {
  json nested = config.contains(key) && config[key].is_object() ? config[key] : json::object();
  nested["model_type"] = model_type;
  return nested;
}

}  // namespace

const std::vector<std::string>& supported_vision_types() {
  static const std::vector<std::string> types = {"clip", "clip_vision_model", "vit"};
  return types;
}

const std::vector<std::string>& supported_text_types() {
  static const std::vector<std::string> types = {"roberta", "xlm-roberta", "bert", "clip", "clip_text_model"};
  return types;
}

json with_defaults(const json& config, const std::string& source) {
  std::string model_type = model_type_of(config, source);
  // XLMRobertaConfig is RobertaConfig with a smaller default vocabulary.
  const bool xlm_roberta = model_type == "xlm-roberta";
  auto found = class_defaults().find(xlm_roberta ? "roberta" : model_type);
  if (found == class_defaults().end()) {
    throw Error(source + ": unsupported model_type \"" + model_type + "\" (vision towers: " +
                join(supported_vision_types()) + "; text towers: " + join(supported_text_types()) + ")");
  }

  json filled = json::parse(kGenericDefaults);
  filled.update(json::parse(found->second));
  if (xlm_roberta) filled["vocab_size"] = 30522;
  filled.update(config);
  return filled;
}

json vision_tower_config(const json& config, const std::string& source) {
  std::string model_type = model_type_of(config, source);
  if (model_type == "clip") return with_defaults(nested_clip_config(config, "vision_config", "clip_vision_model", source), source);
  if (model_type == "clip_vision_model" || model_type == "vit") return with_defaults(config, source);
  throw Error(source + ": model_type \"" + model_type + "\" is not a vision tower (supported: " +
              join(supported_vision_types()) + ")");
}

json text_tower_config(const json& config, const std::string& source) {
  std::string model_type = model_type_of(config, source);
  if (model_type == "clip") return with_defaults(nested_clip_config(config, "text_config", "clip_text_model", source), source);
  if (model_type == "clip_text_model" || model_type == "roberta" || model_type == "xlm-roberta" || model_type == "bert") {
    return with_defaults(config, source);
  }
  throw Error(source + ": model_type \"" + model_type + "\" is not a text tower (supported: " +
              join(supported_text_types()) + ")");
}

json make_dual_encoder_config(const json& vision_config, const json& text_config, int64_t projection_dim,
                              double logit_scale_init_value) {
  // HF writes a composition config's nested configs with to_dict() minus transformers_version.
  json vision = with_defaults(vision_config, "vision_config");
  json text = with_defaults(text_config, "text_config");
  vision.erase("transformers_version");
  text.erase("transformers_version");

  return json{
      {"architectures", {"VisionTextDualEncoderModel"}},
      {"logit_scale_init_value", logit_scale_init_value},
      {"model_type", "vision-text-dual-encoder"},
      {"projection_dim", projection_dim},
      {"text_config", text},
      {"torch_dtype", "float32"},
      // The transformers release whose config layout this file follows.
      {"transformers_version", "4.40.2"},
      {"vision_config", vision},
  };
}

namespace {

const json& field(const json& config, const std::string& key, const std::string& source) {
  if (!config.contains(key) || config[key].is_null()) {
    throw Error(source + ": required field \"" + key + "\" is missing from the config");
  }
  return config[key];
}

[[noreturn]] void wrong_type(const json& value, const std::string& key, const std::string& expected,
                             const std::string& source) {
  throw Error(source + ": field \"" + key + "\" is " + value.dump() + ", expected " + expected);
}

}  // namespace

void check_attention_shape(int64_t hidden_size, int64_t num_attention_heads, const std::string& source) {
  if (hidden_size <= 0 || num_attention_heads <= 0 || hidden_size % num_attention_heads != 0) {
    throw Error(source + ": hidden_size " + std::to_string(hidden_size) + " is not a multiple of num_attention_heads " +
                std::to_string(num_attention_heads));
  }
}

void check_patch_shape(int64_t image_size, int64_t patch_size, const std::string& source) {
  if (patch_size <= 0 || image_size <= 0 || image_size % patch_size != 0) {
    throw Error(source + ": image_size " + std::to_string(image_size) + " is not a multiple of patch_size " +
                std::to_string(patch_size));
  }
}

int64_t get_int(const json& config, const std::string& key, const std::string& source) {
  const json& value = field(config, key, source);
  if (!value.is_number_integer()) wrong_type(value, key, "an integer", source);
  return value.get<int64_t>();
}

double get_double(const json& config, const std::string& key, const std::string& source) {
  const json& value = field(config, key, source);
  if (!value.is_number()) wrong_type(value, key, "a number", source);
  return value.get<double>();
}

std::string get_string(const json& config, const std::string& key, const std::string& source) {
  const json& value = field(config, key, source);
  if (!value.is_string()) wrong_type(value, key, "a string", source);
  return value.get<std::string>();
}

bool get_bool(const json& config, const std::string& key, const std::string& source) {
  const json& value = field(config, key, source);
  if (!value.is_boolean()) wrong_type(value, key, "true or false", source);
  return value.get<bool>();
}

}  // namespace dualclip::models
