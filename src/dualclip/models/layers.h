// Pieces the towers share: activation functions by HF's hidden_act names, multi-head
// attention written as matmul + softmax (libtorch 1.13 has no fused attention), additive
// masks, and gradient checkpointing of encoder layers.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/dropout.h>
#include <torch/types.h>

namespace dualclip::models {

// An activation by HF's name: gelu (erf form), gelu_new / gelu_pytorch_tanh / gelu_fast
// (tanh form), quick_gelu (x * sigmoid(1.702 x)), relu, silu / swish. Throws dualclip::Error
// naming `source` for any other name.
using Activation = std::function<torch::Tensor(const torch::Tensor&)>;
Activation activation_by_name(const std::string& name, const std::string& source);

// Scaled dot-product attention over [batch, tokens, hidden] projections split into
// `num_heads` heads. `mask` is additive and broadcasts to [batch, heads, queries, keys], or is
// undefined for none. `scale_query` applies 1/sqrt(head_dim) to the queries before the
// product (CLIP) rather than to the scores after it (BERT, ViT). Returns [batch, tokens, hidden].
torch::Tensor multi_head_attention(const torch::Tensor& query, const torch::Tensor& key, const torch::Tensor& value,
                                   int64_t num_heads, const torch::Tensor& mask, bool scale_query,
                                   torch::nn::Dropout& attention_dropout);

// The additive mask for padding: [batch, 1, 1, keys] with the dtype's lowest value where
// attention_mask is 0. Undefined when attention_mask is undefined or all ones, so the
// attention skips the addition.
torch::Tensor padding_mask(const torch::Tensor& attention_mask, torch::Dtype dtype);

// The additive mask for causal (left-to-right) attention combined with padding:
// [batch, 1, tokens, tokens]. Blocked positions get the dtype's lowest value once, never twice.
torch::Tensor causal_mask(const torch::Tensor& attention_mask, int64_t batch, int64_t tokens, torch::Dtype dtype,
                          torch::Device device);

// One transformer layer: hidden states and an additive mask in, hidden states out.
class EncoderLayer : public torch::nn::Module {
 public:
  virtual torch::Tensor forward(const torch::Tensor& hidden_states, const torch::Tensor& mask) = 0;
};

// Runs `layers` in order, optionally storing every input and the final output in
// `hidden_states`. With `checkpointing` in training mode under grad mode, each layer's
// activations are recomputed in the backward pass instead of being stored.
torch::Tensor run_encoder(torch::nn::ModuleList& layers, torch::Tensor hidden_states, const torch::Tensor& mask,
                          bool checkpointing, std::vector<torch::Tensor>* all_hidden_states);

// Throws dualclip::Error naming `tower` unless pixel_values is
// [batch, channels, image_size, image_size], the only shape the position embeddings fit.
void check_pixel_values(const torch::Tensor& pixel_values, int64_t channels, int64_t image_size, const std::string& tower);

// Initialisations HF's _init_weights uses.
void init_normal(torch::Tensor& tensor, double std);
void init_zeros(torch::Tensor& tensor);

}  // namespace dualclip::models
