// BERT and RoBERTa text towers (HF's BertModel, RobertaModel): word + position +
// token-type embeddings, post-LN encoder layers, and a tanh pooler over the first token.
// RoBERTa differs only in its position ids, which start after the padding id.
#include <torch/nn/modules/embedding.h>

#include "dualclip/core/error.h"
#include "dualclip/models/bert_layers.h"
#include "dualclip/models/config.h"
#include "dualclip/models/towers.h"

namespace dualclip::models {

namespace {

using nlohmann::json;
namespace nn = torch::nn;

struct BertConfig {
  std::string model_type;
  int64_t vocab_size, hidden_size, num_hidden_layers, num_attention_heads, intermediate_size;
  int64_t max_position_embeddings, type_vocab_size, pad_token_id;
  double hidden_dropout_prob, attention_probs_dropout_prob, layer_norm_eps, initializer_range;
  std::string hidden_act;

  BertConfig(const json& config, const std::string& source)
      : model_type(get_string(config, "model_type", source)),
        vocab_size(get_int(config, "vocab_size", source)),
        hidden_size(get_int(config, "hidden_size", source)),
        num_hidden_layers(get_int(config, "num_hidden_layers", source)),
        num_attention_heads(get_int(config, "num_attention_heads", source)),
        intermediate_size(get_int(config, "intermediate_size", source)),
        max_position_embeddings(get_int(config, "max_position_embeddings", source)),
        type_vocab_size(get_int(config, "type_vocab_size", source)),
        pad_token_id(get_int(config, "pad_token_id", source)),
        hidden_dropout_prob(get_double(config, "hidden_dropout_prob", source)),
        attention_probs_dropout_prob(get_double(config, "attention_probs_dropout_prob", source)),
        layer_norm_eps(get_double(config, "layer_norm_eps", source)),
        initializer_range(get_double(config, "initializer_range", source)),
        hidden_act(get_string(config, "hidden_act", source)) {
    check_attention_shape(hidden_size, num_attention_heads, source);
    if (config.contains("position_embedding_type") && config["position_embedding_type"] != "absolute") {
      throw Error(source + ": position_embedding_type " + config["position_embedding_type"].dump() +
                  " is not supported (only \"absolute\")");
    }
  }

  bool roberta() const { return model_type == "roberta" || model_type == "xlm-roberta"; }
};

class BertEmbeddings : public nn::Module {
 public:
  explicit BertEmbeddings(const BertConfig& config) : roberta_(config.roberta()), pad_token_id_(config.pad_token_id) {
    word_embeddings = register_module(
        "word_embeddings", nn::Embedding(nn::EmbeddingOptions(config.vocab_size, config.hidden_size).padding_idx(config.pad_token_id)));
    auto position_options = nn::EmbeddingOptions(config.max_position_embeddings, config.hidden_size);
    if (roberta_) position_options.padding_idx(config.pad_token_id);
    position_embeddings = register_module("position_embeddings", nn::Embedding(position_options));
    token_type_embeddings = register_module("token_type_embeddings", nn::Embedding(config.type_vocab_size, config.hidden_size));
    LayerNorm = register_module("LayerNorm", nn::LayerNorm(nn::LayerNormOptions({config.hidden_size}).eps(config.layer_norm_eps)));
    dropout = register_module("dropout", nn::Dropout(config.hidden_dropout_prob));
  }

  torch::Tensor forward(const torch::Tensor& input_ids, const torch::Tensor& token_type_ids) {
    torch::Tensor positions = position_ids(input_ids);
    const int64_t max_position = position_embeddings->weight.size(0);
    // The exact check reads a value back from the device, so it runs only when the length
    // alone cannot rule out an overflow.
    const int64_t first_position = roberta_ ? pad_token_id_ + 1 : 0;
    if (first_position + input_ids.size(1) > max_position && positions.max().item<int64_t>() >= max_position) {
      throw Error(std::string(roberta_ ? "RoBERTa" : "BERT") + " text tower: " + std::to_string(input_ids.size(1)) +
                  " tokens need position ids up to " + std::to_string(positions.max().item<int64_t>()) +
                  " but max_position_embeddings is " + std::to_string(max_position) + "; truncate the text");
    }
    torch::Tensor types = token_type_ids.defined() ? token_type_ids : torch::zeros_like(input_ids);
    torch::Tensor h = word_embeddings(input_ids) + token_type_embeddings(types) + position_embeddings(positions);
    return dropout(LayerNorm(h));
  }

  nn::Embedding word_embeddings{nullptr}, position_embeddings{nullptr}, token_type_embeddings{nullptr};
  nn::LayerNorm LayerNorm{nullptr};
  nn::Dropout dropout{nullptr};

 private:
  // BERT counts positions 0..L-1. RoBERTa numbers real tokens from pad_token_id + 1 and
  // gives every padding token the position pad_token_id.
  torch::Tensor position_ids(const torch::Tensor& input_ids) {
    if (!roberta_) return torch::arange(input_ids.size(1), input_ids.options().dtype(torch::kLong)).unsqueeze(0);
    torch::Tensor not_pad = input_ids.ne(pad_token_id_).to(torch::kLong);
    return torch::cumsum(not_pad, 1) * not_pad + pad_token_id_;
  }

  bool roberta_;
  int64_t pad_token_id_;
};

class BertAttention : public nn::Module {
 public:
  explicit BertAttention(const BertConfig& config) {
    self = register_module("self", std::make_shared<BertSelfAttention>(config.hidden_size, config.num_attention_heads,
                                                                        true, config.attention_probs_dropout_prob));
    output = register_module("output", std::make_shared<BertDenseOutput>(config.hidden_size, config.hidden_size,
                                                                          config.hidden_dropout_prob, true, config.layer_norm_eps));
  }

  std::shared_ptr<BertSelfAttention> self;
  std::shared_ptr<BertDenseOutput> output;
};

class BertIntermediate : public nn::Module {
 public:
  BertIntermediate(const BertConfig& config, const std::string& source)
      : activation_(activation_by_name(config.hidden_act, source)) {
    dense = register_module("dense", nn::Linear(config.hidden_size, config.intermediate_size));
  }
  torch::Tensor forward(const torch::Tensor& x) { return activation_(dense(x)); }

  nn::Linear dense{nullptr};

 private:
  Activation activation_;
};

class BertLayer : public EncoderLayer {
 public:
  BertLayer(const BertConfig& config, const std::string& source) {
    attention = register_module("attention", std::make_shared<BertAttention>(config));
    intermediate = register_module("intermediate", std::make_shared<BertIntermediate>(config, source));
    output = register_module("output", std::make_shared<BertDenseOutput>(config.intermediate_size, config.hidden_size,
                                                                          config.hidden_dropout_prob, true, config.layer_norm_eps));
  }

  // Post-LN: each sublayer's output is added to its input, then normalised.
  torch::Tensor forward(const torch::Tensor& hidden_states, const torch::Tensor& mask) override {
    torch::Tensor attended = attention->output->forward(attention->self->forward(hidden_states, mask), hidden_states);
    return output->forward(intermediate->forward(attended), attended);
  }

  std::shared_ptr<BertAttention> attention;
  std::shared_ptr<BertIntermediate> intermediate;
  std::shared_ptr<BertDenseOutput> output;
};

class BertEncoder : public nn::Module {
 public:
  BertEncoder(const BertConfig& config, const std::string& source) {
    layer = register_module("layer", nn::ModuleList());
    for (int64_t i = 0; i < config.num_hidden_layers; ++i) layer->push_back(std::make_shared<BertLayer>(config, source));
  }

  nn::ModuleList layer{nullptr};
};

class BertTower : public TextTower {
 public:
  explicit BertTower(const json& config)
      : settings_(config, "text_config (" + config.value("model_type", std::string()) + ")") {
    config_ = config;
    const std::string source = "text_config (" + settings_.model_type + ")";
    embeddings = register_module("embeddings", std::make_shared<BertEmbeddings>(settings_));
    encoder = register_module("encoder", std::make_shared<BertEncoder>(settings_, source));
    pooler = register_module("pooler", std::make_shared<BertPooler>(settings_.hidden_size));
    init_bert_style(*this, settings_.initializer_range);
  }

  TowerOutput forward(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                      const torch::Tensor& token_type_ids, bool output_hidden_states) override {
    TowerOutput out;
    torch::Tensor h = embeddings->forward(input_ids, token_type_ids);
    torch::Tensor mask = padding_mask(attention_mask, h.scalar_type());
    out.last_hidden_state = run_encoder(encoder->layer, h, mask, checkpointing_,
                                        output_hidden_states ? &out.hidden_states : nullptr);
    out.pooler_output = pooler->forward(out.last_hidden_state);
    return out;
  }

  int64_t hidden_size() const override { return settings_.hidden_size; }
  int64_t max_position_embeddings() const override {
    // RoBERTa spends pad_token_id + 1 positions before the first real token.
    return settings_.roberta() ? settings_.max_position_embeddings - settings_.pad_token_id - 1
                               : settings_.max_position_embeddings;
  }
  std::string model_type() const override { return settings_.model_type; }
  void set_gradient_checkpointing(bool enabled) override { checkpointing_ = enabled; }

  std::shared_ptr<BertEmbeddings> embeddings;
  std::shared_ptr<BertEncoder> encoder;
  std::shared_ptr<BertPooler> pooler;

 private:
  BertConfig settings_;
  bool checkpointing_ = false;
};

}  // namespace

std::shared_ptr<TextTower> make_bert_tower(const json& config) { return std::make_shared<BertTower>(config); }

}  // namespace dualclip::models
