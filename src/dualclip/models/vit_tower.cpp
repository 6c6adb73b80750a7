// The ViT vision tower (HF's ViTModel): a patch convolution with bias, a [CLS] token and
// learned positions, pre-LN encoder layers, a final LayerNorm over all tokens and a tanh
// pooler over the first token.
#include <torch/nn/modules/conv.h>

#include "dualclip/core/error.h"
#include "dualclip/models/bert_layers.h"
#include "dualclip/models/config.h"
#include "dualclip/models/towers.h"

namespace dualclip::models {

namespace {

using nlohmann::json;
namespace nn = torch::nn;

struct VitConfig {
  int64_t hidden_size, num_hidden_layers, num_attention_heads, intermediate_size, image_size, patch_size, num_channels;
  double hidden_dropout_prob, attention_probs_dropout_prob, layer_norm_eps, initializer_range;
  bool qkv_bias;
  std::string hidden_act;

  VitConfig(const json& config, const std::string& source)
      : hidden_size(get_int(config, "hidden_size", source)),
        num_hidden_layers(get_int(config, "num_hidden_layers", source)),
        num_attention_heads(get_int(config, "num_attention_heads", source)),
        intermediate_size(get_int(config, "intermediate_size", source)),
        image_size(get_int(config, "image_size", source)),
        patch_size(get_int(config, "patch_size", source)),
        num_channels(get_int(config, "num_channels", source)),
        hidden_dropout_prob(get_double(config, "hidden_dropout_prob", source)),
        attention_probs_dropout_prob(get_double(config, "attention_probs_dropout_prob", source)),
        layer_norm_eps(get_double(config, "layer_norm_eps", source)),
        initializer_range(get_double(config, "initializer_range", source)),
        qkv_bias(get_bool(config, "qkv_bias", source)),
        hidden_act(get_string(config, "hidden_act", source)) {
    check_attention_shape(hidden_size, num_attention_heads, source);
    check_patch_shape(image_size, patch_size, source);
  }
};

class VitPatchEmbeddings : public nn::Module {
 public:
  explicit VitPatchEmbeddings(const VitConfig& config) {
    projection = register_module(
        "projection",
        nn::Conv2d(nn::Conv2dOptions(config.num_channels, config.hidden_size, config.patch_size).stride(config.patch_size)));
  }

  nn::Conv2d projection{nullptr};
};

class VitEmbeddings : public nn::Module {
 public:
  explicit VitEmbeddings(const VitConfig& config) {
    const int64_t grid = config.image_size / config.patch_size;
    cls_token = register_parameter("cls_token", torch::zeros({1, 1, config.hidden_size}));
    position_embeddings = register_parameter("position_embeddings", torch::zeros({1, grid * grid + 1, config.hidden_size}));
    patch_embeddings = register_module("patch_embeddings", std::make_shared<VitPatchEmbeddings>(config));
    dropout = register_module("dropout", nn::Dropout(config.hidden_dropout_prob));
  }

  torch::Tensor forward(const torch::Tensor& pixel_values) {
    const int64_t batch = pixel_values.size(0);
    auto& projection = patch_embeddings->projection;
    torch::Tensor patches = projection(pixel_values.to(projection->weight.dtype())).flatten(2).transpose(1, 2);
    torch::Tensor h = torch::cat({cls_token.expand({batch, -1, -1}), patches}, 1) + position_embeddings;
    return dropout(h);
  }

  torch::Tensor cls_token, position_embeddings;
  std::shared_ptr<VitPatchEmbeddings> patch_embeddings;
  nn::Dropout dropout{nullptr};
};

class VitAttention : public nn::Module {
 public:
  explicit VitAttention(const VitConfig& config) {
    // HF names the self-attention block "attention" inside "attention".
    attention = register_module("attention", std::make_shared<BertSelfAttention>(config.hidden_size, config.num_attention_heads,
                                                                                  config.qkv_bias, config.attention_probs_dropout_prob));
    output = register_module("output", std::make_shared<BertDenseOutput>(config.hidden_size, config.hidden_size,
                                                                          config.hidden_dropout_prob, false, 0.0));
  }

  std::shared_ptr<BertSelfAttention> attention;
  std::shared_ptr<BertDenseOutput> output;
};

class VitIntermediate : public nn::Module {
 public:
  VitIntermediate(const VitConfig& config, const std::string& source) : activation_(activation_by_name(config.hidden_act, source)) {
    dense = register_module("dense", nn::Linear(config.hidden_size, config.intermediate_size));
  }
  torch::Tensor forward(const torch::Tensor& x) { return activation_(dense(x)); }

  nn::Linear dense{nullptr};

 private:
  Activation activation_;
};

class VitLayer : public EncoderLayer {
 public:
  VitLayer(const VitConfig& config, const std::string& source) {
    auto norm_options = nn::LayerNormOptions({config.hidden_size}).eps(config.layer_norm_eps);
    attention = register_module("attention", std::make_shared<VitAttention>(config));
    intermediate = register_module("intermediate", std::make_shared<VitIntermediate>(config, source));
    output = register_module("output", std::make_shared<BertDenseOutput>(config.intermediate_size, config.hidden_size,
                                                                          config.hidden_dropout_prob, false, 0.0));
    layernorm_before = register_module("layernorm_before", nn::LayerNorm(norm_options));
    layernorm_after = register_module("layernorm_after", nn::LayerNorm(norm_options));
  }

  // Pre-LN: normalise, transform, add the residual.
  torch::Tensor forward(const torch::Tensor& hidden_states, const torch::Tensor& mask) override {
    torch::Tensor attended = attention->attention->forward(layernorm_before(hidden_states), mask);
    torch::Tensor h = attention->output->forward(attended, {}) + hidden_states;
    return output->forward(intermediate->forward(layernorm_after(h)), {}) + h;
  }

  std::shared_ptr<VitAttention> attention;
  std::shared_ptr<VitIntermediate> intermediate;
  std::shared_ptr<BertDenseOutput> output;
  nn::LayerNorm layernorm_before{nullptr}, layernorm_after{nullptr};
};

class VitEncoder : public nn::Module {
 public:
  VitEncoder(const VitConfig& config, const std::string& source) {
    layer = register_module("layer", nn::ModuleList());
    for (int64_t i = 0; i < config.num_hidden_layers; ++i) layer->push_back(std::make_shared<VitLayer>(config, source));
  }

  nn::ModuleList layer{nullptr};
};

class VitTower : public VisionTower {
 public:
  explicit VitTower(const json& config) : settings_(config, "vision_config (vit)") {
    config_ = config;
    embeddings = register_module("embeddings", std::make_shared<VitEmbeddings>(settings_));
    encoder = register_module("encoder", std::make_shared<VitEncoder>(settings_, "vision_config (vit)"));
    layernorm = register_module(
        "layernorm", nn::LayerNorm(nn::LayerNormOptions({settings_.hidden_size}).eps(settings_.layer_norm_eps)));
    pooler = register_module("pooler", std::make_shared<BertPooler>(settings_.hidden_size));

    // NOTE: HF draws ViT's weights from a normal truncated at +-2 (absolute); plain normal
    // draws differ from it only beyond 2, which is negligible at the usual std of 0.02.
    init_bert_style(*this, settings_.initializer_range);
    init_normal(embeddings->cls_token, settings_.initializer_range);
    init_normal(embeddings->position_embeddings, settings_.initializer_range);
  }

  TowerOutput forward(const torch::Tensor& pixel_values, bool output_hidden_states) override {
    check_pixel_values(pixel_values, settings_.num_channels, settings_.image_size, "ViT vision tower");

    TowerOutput out;
    torch::Tensor h = embeddings->forward(pixel_values);
    h = run_encoder(encoder->layer, h, {}, checkpointing_, output_hidden_states ? &out.hidden_states : nullptr);
    out.last_hidden_state = layernorm(h);
    out.pooler_output = pooler->forward(out.last_hidden_state);
    return out;
  }

  int64_t hidden_size() const override { return settings_.hidden_size; }
  int64_t image_size() const override { return settings_.image_size; }
  std::string model_type() const override { return "vit"; }
  void set_gradient_checkpointing(bool enabled) override { checkpointing_ = enabled; }

  std::shared_ptr<VitEmbeddings> embeddings;
  std::shared_ptr<VitEncoder> encoder;
  nn::LayerNorm layernorm{nullptr};
  std::shared_ptr<BertPooler> pooler;

 private:
  VitConfig settings_;
  bool checkpointing_ = false;
};

}  // namespace

std::shared_ptr<VisionTower> make_vit_tower(const json& config) { return std::make_shared<VitTower>(config); }

}  // namespace dualclip::models
