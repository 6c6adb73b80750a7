// CLIP's vision and text transformers (HF's modeling_clip): pre-LN encoder layers with
// q/k/v/out projections, an MLP of fc1/fc2, and the activation from hidden_act.
#include <cmath>

#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include "dualclip/core/error.h"
#include "dualclip/models/config.h"
#include "dualclip/models/layers.h"
#include "dualclip/models/towers.h"

namespace dualclip::models {

namespace {

using nlohmann::json;
namespace nn = torch::nn;

// The numbers one CLIP encoder needs, read from a vision or text config.
struct ClipEncoderConfig {
  int64_t hidden_size, intermediate_size, num_hidden_layers, num_attention_heads;
  double layer_norm_eps, attention_dropout, initializer_factor;
  std::string hidden_act;

  ClipEncoderConfig(const json& config, const std::string& source)
      : hidden_size(get_int(config, "hidden_size", source)),
        intermediate_size(get_int(config, "intermediate_size", source)),
        num_hidden_layers(get_int(config, "num_hidden_layers", source)),
        num_attention_heads(get_int(config, "num_attention_heads", source)),
        layer_norm_eps(get_double(config, "layer_norm_eps", source)),
        attention_dropout(get_double(config, "attention_dropout", source)),
        initializer_factor(get_double(config, "initializer_factor", source)),
        hidden_act(get_string(config, "hidden_act", source)) {
    check_attention_shape(hidden_size, num_attention_heads, source);
  }
};

class ClipAttention : public nn::Module {
 public:
  explicit ClipAttention(const ClipEncoderConfig& config) : num_heads_(config.num_attention_heads) {
    k_proj = register_module("k_proj", nn::Linear(config.hidden_size, config.hidden_size));
    v_proj = register_module("v_proj", nn::Linear(config.hidden_size, config.hidden_size));
    q_proj = register_module("q_proj", nn::Linear(config.hidden_size, config.hidden_size));
    out_proj = register_module("out_proj", nn::Linear(config.hidden_size, config.hidden_size));
    dropout = register_module("dropout", nn::Dropout(config.attention_dropout));
  }

  torch::Tensor forward(const torch::Tensor& hidden_states, const torch::Tensor& mask) {
    torch::Tensor context = multi_head_attention(q_proj(hidden_states), k_proj(hidden_states), v_proj(hidden_states),
                                                 num_heads_, mask, /*scale_query=*/true, dropout);
    return out_proj(context);
  }

  nn::Linear k_proj{nullptr}, v_proj{nullptr}, q_proj{nullptr}, out_proj{nullptr};
  nn::Dropout dropout{nullptr};

 private:
  int64_t num_heads_;
};

class ClipMlp : public nn::Module {
 public:
  ClipMlp(const ClipEncoderConfig& config, const std::string& source)
      : activation_(activation_by_name(config.hidden_act, source)) {
    fc1 = register_module("fc1", nn::Linear(config.hidden_size, config.intermediate_size));
    fc2 = register_module("fc2", nn::Linear(config.intermediate_size, config.hidden_size));
  }

  torch::Tensor forward(const torch::Tensor& x) { return fc2(activation_(fc1(x))); }

  nn::Linear fc1{nullptr}, fc2{nullptr};

 private:
  Activation activation_;
};

class ClipEncoderLayer : public EncoderLayer {
 public:
  ClipEncoderLayer(const ClipEncoderConfig& config, const std::string& source) {
    auto norm_options = nn::LayerNormOptions({config.hidden_size}).eps(config.layer_norm_eps);
    self_attn = register_module("self_attn", std::make_shared<ClipAttention>(config));
    layer_norm1 = register_module("layer_norm1", nn::LayerNorm(norm_options));
    mlp = register_module("mlp", std::make_shared<ClipMlp>(config, source));
    layer_norm2 = register_module("layer_norm2", nn::LayerNorm(norm_options));
  }

  torch::Tensor forward(const torch::Tensor& hidden_states, const torch::Tensor& mask) override {
    torch::Tensor h = hidden_states + self_attn->forward(layer_norm1(hidden_states), mask);
    return h + mlp->forward(layer_norm2(h));
  }

  std::shared_ptr<ClipAttention> self_attn;
  nn::LayerNorm layer_norm1{nullptr};
  std::shared_ptr<ClipMlp> mlp;
  nn::LayerNorm layer_norm2{nullptr};
};

class ClipEncoder : public nn::Module {
 public:
  ClipEncoder(const ClipEncoderConfig& config, const std::string& source) {
    layers = register_module("layers", nn::ModuleList());
    for (int64_t i = 0; i < config.num_hidden_layers; ++i) layers->push_back(std::make_shared<ClipEncoderLayer>(config, source));
  }

  // HF's CLIP initialisation: std scaled by hidden size and depth (CLIPPreTrainedModel._init_weights).
  void init_weights(const ClipEncoderConfig& config) {
    const double factor = config.initializer_factor;
    const double in_proj_std = std::pow(config.hidden_size, -0.5) * std::pow(2.0 * config.num_hidden_layers, -0.5) * factor;
    const double out_proj_std = std::pow(config.hidden_size, -0.5) * factor;
    const double fc_std = std::pow(2.0 * config.hidden_size, -0.5) * factor;
    for (const auto& module : *layers) {
      auto* layer = dynamic_cast<ClipEncoderLayer*>(module.get());
      auto& attention = *layer->self_attn;
      for (auto* linear : {&attention.q_proj, &attention.k_proj, &attention.v_proj}) init_normal((*linear)->weight, in_proj_std);
      init_normal(attention.out_proj->weight, out_proj_std);
      init_normal(layer->mlp->fc1->weight, fc_std);
      init_normal(layer->mlp->fc2->weight, in_proj_std);
      for (auto* linear : {&attention.q_proj, &attention.k_proj, &attention.v_proj, &attention.out_proj,
                           &layer->mlp->fc1, &layer->mlp->fc2}) {
        init_zeros((*linear)->bias);
      }
    }
  }

  nn::ModuleList layers{nullptr};
};

// ---- vision ----

class ClipVisionEmbeddings : public nn::Module {
 public:
  ClipVisionEmbeddings(int64_t hidden_size, int64_t num_channels, int64_t image_size, int64_t patch_size) {
    int64_t num_positions = (image_size / patch_size) * (image_size / patch_size) + 1;
    class_embedding = register_parameter("class_embedding", torch::randn({hidden_size}));
    patch_embedding = register_module(
        "patch_embedding", nn::Conv2d(nn::Conv2dOptions(num_channels, hidden_size, patch_size).stride(patch_size).bias(false)));
    position_embedding = register_module("position_embedding", nn::Embedding(num_positions, hidden_size));
  }

  torch::Tensor forward(const torch::Tensor& pixel_values) {
    const int64_t batch = pixel_values.size(0);
    torch::Tensor patches = patch_embedding(pixel_values.to(patch_embedding->weight.dtype()));  // [B, H, g, g]
    patches = patches.flatten(2).transpose(1, 2);                                                // [B, g*g, H]
    torch::Tensor cls = class_embedding.expand({batch, 1, -1});
    return torch::cat({cls, patches}, 1) + position_embedding->weight.unsqueeze(0);
  }

  torch::Tensor class_embedding;
  nn::Conv2d patch_embedding{nullptr};
  nn::Embedding position_embedding{nullptr};
};

class ClipVisionTransformer : public nn::Module {
 public:
  ClipVisionTransformer(const json& config, const std::string& source)
      : encoder_config(config, source),
        image_size(get_int(config, "image_size", source)),
        patch_size(get_int(config, "patch_size", source)),
        initializer_range(get_double(config, "initializer_range", source)) {
    check_patch_shape(image_size, patch_size, source);
    const int64_t hidden = encoder_config.hidden_size;
    auto norm_options = nn::LayerNormOptions({hidden}).eps(encoder_config.layer_norm_eps);
    embeddings = register_module("embeddings", std::make_shared<ClipVisionEmbeddings>(
                                                   hidden, get_int(config, "num_channels", source), image_size, patch_size));
    pre_layrnorm = register_module("pre_layrnorm", nn::LayerNorm(norm_options));  // HF's spelling
    encoder = register_module("encoder", std::make_shared<ClipEncoder>(encoder_config, source));
    post_layernorm = register_module("post_layernorm", nn::LayerNorm(norm_options));
  }

  void init_weights() {
    const double factor = encoder_config.initializer_factor;
    init_normal(embeddings->class_embedding, std::pow(encoder_config.hidden_size, -0.5) * factor);
    init_normal(embeddings->patch_embedding->weight, initializer_range * factor);
    init_normal(embeddings->position_embedding->weight, initializer_range * factor);
    encoder->init_weights(encoder_config);
  }

  ClipEncoderConfig encoder_config;
  int64_t image_size, patch_size;
  double initializer_range;
  std::shared_ptr<ClipVisionEmbeddings> embeddings;
  nn::LayerNorm pre_layrnorm{nullptr};
  std::shared_ptr<ClipEncoder> encoder;
  nn::LayerNorm post_layernorm{nullptr};
};

class ClipVisionTower : public VisionTower {
 public:
  ClipVisionTower(const json& config, bool wrapped) {
    config_ = config;
    transformer_ = std::make_shared<ClipVisionTransformer>(config, "vision_config (clip_vision_model)");
    if (wrapped) {
      register_module("vision_model", transformer_);
    } else {
      register_module("embeddings", transformer_->embeddings);
      register_module("pre_layrnorm", transformer_->pre_layrnorm);
      register_module("encoder", transformer_->encoder);
      register_module("post_layernorm", transformer_->post_layernorm);
    }
    transformer_->init_weights();
  }

  TowerOutput forward(const torch::Tensor& pixel_values, bool output_hidden_states) override {
    check_pixel_values(pixel_values, transformer_->embeddings->patch_embedding->weight.size(1), transformer_->image_size,
                       "CLIP vision tower");

    TowerOutput out;
    torch::Tensor h = transformer_->pre_layrnorm(transformer_->embeddings->forward(pixel_values));
    out.last_hidden_state = run_encoder(transformer_->encoder->layers, h, {}, checkpointing_,
                                        output_hidden_states ? &out.hidden_states : nullptr);
    out.pooler_output = transformer_->post_layernorm(out.last_hidden_state.select(1, 0));
    return out;
  }

  int64_t hidden_size() const override { return transformer_->encoder_config.hidden_size; }
  int64_t image_size() const override { return transformer_->image_size; }
  std::string model_type() const override { return "clip_vision_model"; }
  void set_gradient_checkpointing(bool enabled) override { checkpointing_ = enabled; }

 private:
  std::shared_ptr<ClipVisionTransformer> transformer_;
  bool checkpointing_ = false;
};

// ---- text ----

class ClipTextEmbeddings : public nn::Module {
 public:
  ClipTextEmbeddings(int64_t vocab_size, int64_t hidden_size, int64_t max_position_embeddings) {
    token_embedding = register_module("token_embedding", nn::Embedding(vocab_size, hidden_size));
    position_embedding = register_module("position_embedding", nn::Embedding(max_position_embeddings, hidden_size));
  }

  torch::Tensor forward(const torch::Tensor& input_ids) {
    const int64_t tokens = input_ids.size(1);
    return token_embedding(input_ids) + position_embedding->weight.slice(0, 0, tokens).unsqueeze(0);
  }

  nn::Embedding token_embedding{nullptr};
  nn::Embedding position_embedding{nullptr};
};

class ClipTextTransformer : public nn::Module {
 public:
  ClipTextTransformer(const json& config, const std::string& source)
      : encoder_config(config, source),
        max_position_embeddings(get_int(config, "max_position_embeddings", source)),
        eos_token_id(get_int(config, "eos_token_id", source)) {
    embeddings = register_module("embeddings", std::make_shared<ClipTextEmbeddings>(
                                                   get_int(config, "vocab_size", source), encoder_config.hidden_size,
                                                   max_position_embeddings));
    encoder = register_module("encoder", std::make_shared<ClipEncoder>(encoder_config, source));
    final_layer_norm = register_module(
        "final_layer_norm", nn::LayerNorm(nn::LayerNormOptions({encoder_config.hidden_size}).eps(encoder_config.layer_norm_eps)));
  }

  void init_weights() {
    init_normal(embeddings->token_embedding->weight, 0.02 * encoder_config.initializer_factor);
    init_normal(embeddings->position_embedding->weight, 0.02 * encoder_config.initializer_factor);
    encoder->init_weights(encoder_config);
  }

  ClipEncoderConfig encoder_config;
  int64_t max_position_embeddings, eos_token_id;
  std::shared_ptr<ClipTextEmbeddings> embeddings;
  std::shared_ptr<ClipEncoder> encoder;
  nn::LayerNorm final_layer_norm{nullptr};
};

class ClipTextTower : public TextTower {
 public:
  ClipTextTower(const json& config, bool wrapped) {
    config_ = config;
    transformer_ = std::make_shared<ClipTextTransformer>(config, "text_config (clip_text_model)");
    if (wrapped) {
      register_module("text_model", transformer_);
    } else {
      register_module("embeddings", transformer_->embeddings);
      register_module("encoder", transformer_->encoder);
      register_module("final_layer_norm", transformer_->final_layer_norm);
    }
    transformer_->init_weights();
  }

  TowerOutput forward(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                      const torch::Tensor& token_type_ids, bool output_hidden_states) override {
    const int64_t batch = input_ids.size(0);
    const int64_t tokens = input_ids.size(1);
    if (tokens > transformer_->max_position_embeddings) {
      throw Error("CLIP text tower: " + std::to_string(tokens) + " tokens exceed max_position_embeddings " +
                  std::to_string(transformer_->max_position_embeddings) + "; truncate the text to that length");
    }

    TowerOutput out;
    torch::Tensor h = transformer_->embeddings->forward(input_ids);
    torch::Tensor mask = causal_mask(attention_mask, batch, tokens, h.scalar_type(), h.device());
    h = run_encoder(transformer_->encoder->layers, h, mask, checkpointing_, output_hidden_states ? &out.hidden_states : nullptr);
    out.last_hidden_state = transformer_->final_layer_norm(h);

    // The pooled token, as HF 4.40 picks it: eos_token_id 2 marks old configs whose
    // end-of-text token is the highest id (argmax); otherwise the first eos_token_id.
    torch::Tensor index = transformer_->eos_token_id == 2
                              ? input_ids.argmax(-1)
                              : input_ids.eq(transformer_->eos_token_id).to(torch::kInt32).argmax(-1);
    torch::Tensor rows = torch::arange(batch, input_ids.options().dtype(torch::kLong));
    out.pooler_output = out.last_hidden_state.index({rows, index});
    return out;
  }

  int64_t hidden_size() const override { return transformer_->encoder_config.hidden_size; }
  int64_t max_position_embeddings() const override { return transformer_->max_position_embeddings; }
  std::string model_type() const override { return "clip_text_model"; }
  void set_gradient_checkpointing(bool enabled) override { checkpointing_ = enabled; }

 private:
  std::shared_ptr<ClipTextTransformer> transformer_;
  bool checkpointing_ = false;
};

}  // namespace

std::shared_ptr<VisionTower> make_clip_vision_tower(const json& config, bool wrapped) {
  return std::make_shared<ClipVisionTower>(config, wrapped);
}

std::shared_ptr<TextTower> make_clip_text_tower(const json& config, bool wrapped) {
  return std::make_shared<ClipTextTower>(config, wrapped);
}

}  // namespace dualclip::models
