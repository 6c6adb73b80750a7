#include "dualclip/models/layers.h"

#include <cmath>
#include <limits>
#include <mutex>

#include <ATen/Context.h>
#include <torch/autograd.h>
#include <torch/nn/functional/activation.h>

#include "dualclip/core/error.h"

namespace dualclip::models {

Activation activation_by_name(const std::string& name, const std::string& source) {
  if (name == "gelu") return [](const torch::Tensor& x) { return torch::gelu(x); };
  if (name == "gelu_new" || name == "gelu_pytorch_tanh" || name == "gelu_fast") {
    return [](const torch::Tensor& x) { return torch::gelu(x, "tanh"); };
  }
  if (name == "quick_gelu") return [](const torch::Tensor& x) { return x * torch::sigmoid(1.702 * x); };
  if (name == "relu") return [](const torch::Tensor& x) { return torch::relu(x); };
  if (name == "silu" || name == "swish") return [](const torch::Tensor& x) { return torch::silu(x); };
  throw Error(source + ": unsupported hidden_act \"" + name +
              "\" (supported: gelu, gelu_new, gelu_pytorch_tanh, gelu_fast, quick_gelu, relu, silu, swish)");
}

torch::Tensor multi_head_attention(const torch::Tensor& query, const torch::Tensor& key, const torch::Tensor& value,
                                   int64_t num_heads, const torch::Tensor& mask, bool scale_query,
                                   torch::nn::Dropout& attention_dropout) {
  const int64_t batch = query.size(0);
  const int64_t hidden = query.size(2);
  const int64_t head_dim = hidden / num_heads;
  const double scale = 1.0 / std::sqrt(static_cast<double>(head_dim));

  // [batch, tokens, hidden] -> [batch, heads, tokens, head_dim]
  auto split_heads = [&](const torch::Tensor& x) { return x.view({batch, -1, num_heads, head_dim}).transpose(1, 2); };
  torch::Tensor q = split_heads(scale_query ? query * scale : query);
  torch::Tensor k = split_heads(key);
  torch::Tensor v = split_heads(value);

  torch::Tensor scores = torch::matmul(q, k.transpose(-1, -2));
  if (!scale_query) scores = scores / std::sqrt(static_cast<double>(head_dim));
  if (mask.defined()) scores = scores + mask;

  torch::Tensor probs = attention_dropout(torch::softmax(scores, -1));
  torch::Tensor context = torch::matmul(probs, v);
  return context.transpose(1, 2).reshape({batch, -1, hidden});
}

namespace {

double lowest(torch::Dtype dtype) {
  switch (dtype) {
    case torch::kFloat64: return std::numeric_limits<double>::lowest();
    case torch::kFloat16: return -65504.0;
    case torch::kBFloat16: return -3.3895313892515355e38;
    default: return std::numeric_limits<float>::lowest();
  }
}

}  // namespace

torch::Tensor padding_mask(const torch::Tensor& attention_mask, torch::Dtype dtype) {
  if (!attention_mask.defined() || attention_mask.all().item<bool>()) return {};
  torch::Tensor blocked = attention_mask.eq(0).unsqueeze(1).unsqueeze(2);
  return torch::zeros(blocked.sizes(), attention_mask.options().dtype(dtype)).masked_fill(blocked, lowest(dtype));
}

torch::Tensor causal_mask(const torch::Tensor& attention_mask, int64_t batch, int64_t tokens, torch::Dtype dtype,
                          torch::Device device) {
  auto bool_options = torch::TensorOptions().dtype(torch::kBool).device(device);
  torch::Tensor blocked = torch::ones({tokens, tokens}, bool_options).triu(1).expand({batch, 1, tokens, tokens});
  if (attention_mask.defined()) blocked = blocked.logical_or(attention_mask.to(device).eq(0).view({batch, 1, 1, tokens}));
  return torch::zeros({batch, 1, tokens, tokens}, torch::TensorOptions().dtype(dtype).device(device))
      .masked_fill(blocked, lowest(dtype));
}

namespace {

// Runs one layer without storing its activations. The backward pass restores the random
// number state of the forward pass (so dropout draws the same mask), reruns the layer with
// grad enabled and backpropagates through it. The layer's parameters receive their
// gradients from that inner backward pass.
struct CheckpointedLayer : public torch::autograd::Function<CheckpointedLayer> {
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx, torch::Tensor hidden_states,
                                                const torch::Tensor* mask_pointer, EncoderLayer* layer) {
    // The mask travels by pointer: autograd rejects an undefined tensor among the inputs.
    const torch::Tensor& mask = *mask_pointer;
    // The layer is a submodule of the model, which outlives the graph built on it.
    ctx->saved_data["layer"] = reinterpret_cast<int64_t>(layer);
    ctx->saved_data["has_mask"] = mask.defined();
    if (mask.defined()) ctx->saved_data["mask"] = mask;
    ctx->saved_data["rng_state"] = get_rng_state(hidden_states.device());
    ctx->save_for_backward({hidden_states});
    return {layer->forward(hidden_states, mask)};
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    auto* layer = reinterpret_cast<EncoderLayer*>(ctx->saved_data["layer"].toInt());
    torch::Tensor mask = ctx->saved_data["has_mask"].toBool() ? ctx->saved_data["mask"].toTensor() : torch::Tensor();
    torch::Tensor hidden_states = ctx->get_saved_variables()[0].detach().requires_grad_(true);

    torch::Tensor current_state = get_rng_state(hidden_states.device());
    set_rng_state(hidden_states.device(), ctx->saved_data["rng_state"].toTensor());
    torch::Tensor output;
    {
      torch::AutoGradMode enable_grad(true);
      output = layer->forward(hidden_states, mask);
    }
    set_rng_state(hidden_states.device(), current_state);

    torch::autograd::backward({output}, {grad_outputs[0]});
    return {hidden_states.grad(), torch::Tensor(), torch::Tensor()};
  }

  // The default generator of the device that dropout on these activations draws from.
  static torch::Tensor get_rng_state(torch::Device device) {
    at::Generator generator = at::globalContext().defaultGenerator(device);
    std::lock_guard<std::mutex> lock(generator.mutex());
    return generator.get_state();
  }
  static void set_rng_state(torch::Device device, const torch::Tensor& state) {
    at::Generator generator = at::globalContext().defaultGenerator(device);
    std::lock_guard<std::mutex> lock(generator.mutex());
    generator.set_state(state);
  }
};

}  // namespace

torch::Tensor run_encoder(torch::nn::ModuleList& layers, torch::Tensor hidden_states, const torch::Tensor& mask,
                          bool checkpointing, std::vector<torch::Tensor>* all_hidden_states) {
  for (const auto& module : *layers) {
    if (all_hidden_states) all_hidden_states->push_back(hidden_states);
    auto* layer = dynamic_cast<EncoderLayer*>(module.get());

    // Checkpointing needs an input that requires grad: otherwise no backward pass would
    // reach the layer to rerun it (and its parameters would get no gradient).
    bool recompute = checkpointing && layer->is_training() && torch::GradMode::is_enabled() &&
                     hidden_states.requires_grad();
    hidden_states = recompute ? CheckpointedLayer::apply(hidden_states, &mask, layer)[0]
                              : layer->forward(hidden_states, mask);
  }
  if (all_hidden_states) all_hidden_states->push_back(hidden_states);
  return hidden_states;
}

void check_pixel_values(const torch::Tensor& pixel_values, int64_t channels, int64_t image_size, const std::string& tower) {
  if (pixel_values.dim() == 4 && pixel_values.size(1) == channels && pixel_values.size(2) == image_size &&
      pixel_values.size(3) == image_size) {
    return;
  }
  throw Error(tower + ": pixel_values has shape " + c10::str(pixel_values.sizes()) + ", expected [batch, " +
              std::to_string(channels) + ", " + std::to_string(image_size) + ", " + std::to_string(image_size) +
              "] (image_size from the config); resize the images with the model's preprocessor_config.json");
}

void init_normal(torch::Tensor& tensor, double std) {
  torch::NoGradGuard no_grad;
  tensor.normal_(0.0, std);
}

void init_zeros(torch::Tensor& tensor) {
  torch::NoGradGuard no_grad;
  tensor.zero_();
}

}  // namespace dualclip::models
