// Modules shared by the BERT-style towers (BERT, RoBERTa, ViT), named as in HF's
// modeling_bert / modeling_vit so the parameter names match their state dicts.
#pragma once

#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include "dualclip/models/layers.h"

namespace dualclip::models {

// query/key/value projections and attention over them (HF's BertSelfAttention, ViTSelfAttention).
class BertSelfAttention : public torch::nn::Module {
 public:
  BertSelfAttention(int64_t hidden_size, int64_t num_heads, bool bias, double attention_dropout);
  torch::Tensor forward(const torch::Tensor& hidden_states, const torch::Tensor& mask);

  torch::nn::Linear query{nullptr}, key{nullptr}, value{nullptr};
  torch::nn::Dropout dropout{nullptr};

 private:
  int64_t num_heads_;
};

// A dense layer, dropout and, for BERT's post-LN layers, the residual LayerNorm
// (HF's BertSelfOutput / BertOutput; ViTSelfOutput / ViTOutput have no LayerNorm).
class BertDenseOutput : public torch::nn::Module {
 public:
  BertDenseOutput(int64_t in_features, int64_t out_features, double dropout, bool layer_norm, double layer_norm_eps);
  // With a LayerNorm: LayerNorm(dropout(dense(x)) + residual); without: dropout(dense(x)).
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& residual);

  torch::nn::Linear dense{nullptr};
  torch::nn::LayerNorm LayerNorm{nullptr};
  torch::nn::Dropout dropout{nullptr};
};

// The pooler: tanh(dense(h[:, 0])).
class BertPooler : public torch::nn::Module {
 public:
  explicit BertPooler(int64_t hidden_size);
  torch::Tensor forward(const torch::Tensor& hidden_states);

  torch::nn::Linear dense{nullptr};
};

// HF's _init_weights for BERT and ViT: Linear and Conv2d weights N(0, std) with zero bias,
// embeddings N(0, std) with the padding row zeroed, LayerNorm weight 1 and bias 0.
void init_bert_style(torch::nn::Module& module, double std);

}  // namespace dualclip::models
