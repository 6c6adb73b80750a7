#include "dualclip/models/bert_layers.h"

#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/embedding.h>

namespace dualclip::models {

namespace nn = torch::nn;

BertSelfAttention::BertSelfAttention(int64_t hidden_size, int64_t num_heads, bool bias, double attention_dropout)
    : num_heads_(num_heads) {
  query = register_module("query", nn::Linear(nn::LinearOptions(hidden_size, hidden_size).bias(bias)));
  key = register_module("key", nn::Linear(nn::LinearOptions(hidden_size, hidden_size).bias(bias)));
  value = register_module("value", nn::Linear(nn::LinearOptions(hidden_size, hidden_size).bias(bias)));
  dropout = register_module("dropout", nn::Dropout(attention_dropout));
}

torch::Tensor BertSelfAttention::forward(const torch::Tensor& hidden_states, const torch::Tensor& mask) {
  return multi_head_attention(query(hidden_states), key(hidden_states), value(hidden_states), num_heads_, mask,
                              /*scale_query=*/false, dropout);
}

BertDenseOutput::BertDenseOutput(int64_t in_features, int64_t out_features, double dropout_p, bool layer_norm,
                                 double layer_norm_eps) {
  dense = register_module("dense", nn::Linear(in_features, out_features));
  if (layer_norm) {
    LayerNorm = register_module("LayerNorm", nn::LayerNorm(nn::LayerNormOptions({out_features}).eps(layer_norm_eps)));
  }
  dropout = register_module("dropout", nn::Dropout(dropout_p));
}

torch::Tensor BertDenseOutput::forward(const torch::Tensor& x, const torch::Tensor& residual) {
  torch::Tensor h = dropout(dense(x));
  return LayerNorm ? LayerNorm(h + residual) : h;
}

BertPooler::BertPooler(int64_t hidden_size) {
  dense = register_module("dense", nn::Linear(hidden_size, hidden_size));
}

torch::Tensor BertPooler::forward(const torch::Tensor& hidden_states) {
  return torch::tanh(dense(hidden_states.select(1, 0)));
}

void init_bert_style(nn::Module& module, double std) {
  torch::NoGradGuard no_grad;
  for (const auto& child : module.modules(/*include_self=*/false)) {
    if (auto* linear = child->as<nn::Linear>()) {
      linear->weight.normal_(0.0, std);
      if (linear->bias.defined()) linear->bias.zero_();
    } else if (auto* conv = child->as<nn::Conv2d>()) {
      conv->weight.normal_(0.0, std);
      if (conv->bias.defined()) conv->bias.zero_();
    } else if (auto* embedding = child->as<nn::Embedding>()) {
      embedding->weight.normal_(0.0, std);
      if (auto padding = embedding->options.padding_idx()) embedding->weight[*padding].zero_();
    } else if (auto* norm = child->as<nn::LayerNorm>()) {
      norm->weight.fill_(1.0);
      norm->bias.zero_();
    }
  }
}

}  // namespace dualclip::models
