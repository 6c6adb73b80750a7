#include "dualclip/train/optimizer.h"

#include <algorithm>
#include <cmath>

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include "dualclip/core/error.h"

namespace dualclip::train {

namespace {

// One AdamW update over a contiguous float32 CPU range, in torch 1.13's order of operations
// (each scalar rounded to float32 as its CPU kernels do). The gradient is first multiplied by
// `grad_scale`, as clip_grad_norm_'s in-place multiply would, and set to zero after use when
// `zero_grad`, so clipping, the update and zero_grad() are one pass over memory instead of
// three. This file is compiled with -O3 -fno-math-errno so that the loop is vectorised. Neither
// flag changes a result, because SIMD sqrt and division are correctly rounded too.
void adamw_update_cpu(float* param, float* grad, float* exp_avg, float* exp_avg_sq, int64_t size,
                      float decay_factor, float beta1, float beta2, float bias_correction2_sqrt, float eps,
                      float step_size, float grad_scale, bool zero_grad) {
  const float one_minus_beta1 = 1.0f - beta1;
  const float one_minus_beta2 = 1.0f - beta2;
  at::parallel_for(0, size, 1 << 14, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      float g = grad_scale == 1.0f ? grad[i] : grad[i] * grad_scale;
      float p = param[i] * decay_factor;
      float m = exp_avg[i] * beta1 + one_minus_beta1 * g;
      float v = exp_avg_sq[i] * beta2 + one_minus_beta2 * g * g;
      float denom = std::sqrt(v) / bias_correction2_sqrt + eps;
      param[i] = p + (-step_size) * m / denom;
      exp_avg[i] = m;
      exp_avg_sq[i] = v;
    }
    if (zero_grad) std::fill(grad + begin, grad + end, 0.0f);
  });
}

}  // namespace

AdamW::AdamW(std::vector<ParameterGroup> groups, AdamWOptions options) : options_(options) {
  torch::NoGradGuard no_grad;
  for (auto& group : groups) {
    if (group.parameters.empty()) continue;

    // One buffer for the group's values, one for its gradients, one per moment.
    int64_t total = 0;
    for (const auto& p : group.parameters) total += p.tensor.numel();
    auto like = group.parameters.front().tensor;
    FlatGroup flat;
    flat.param = torch::empty({total}, like.options().requires_grad(false));
    flat.grad = torch::zeros({total}, like.options().requires_grad(false));
    flat.exp_avg = torch::zeros({total}, like.options().requires_grad(false));
    flat.exp_avg_sq = torch::zeros({total}, like.options().requires_grad(false));

    // Copy each parameter in and make it (and its gradient) a view of the buffers.
    int64_t offset = 0;
    for (auto& p : group.parameters) {
      if (p.tensor.device() != like.device() || p.tensor.scalar_type() != like.scalar_type()) {
        throw Error("parameter " + p.name + " is on another device or dtype than the rest of its group");
      }
      int64_t n = p.tensor.numel();
      auto param_view = flat.param.narrow(0, offset, n).view(p.tensor.sizes());
      param_view.copy_(p.tensor);
      p.tensor.set_data(param_view);
      p.tensor.mutable_grad() = flat.grad.narrow(0, offset, n).view(p.tensor.sizes());
      offset += n;
    }
    groups_.push_back(std::move(group));
    flat_.push_back(flat);
  }
}

void AdamW::reattach_grads() {
  torch::NoGradGuard no_grad;
  for (size_t g = 0; g < groups_.size(); ++g) {
    int64_t offset = 0;
    for (auto& p : groups_[g].parameters) {
      int64_t n = p.tensor.numel();
      auto view = flat_[g].grad.narrow(0, offset, n).view(p.tensor.sizes());
      const auto& grad = p.tensor.grad();
      if (!grad.defined()) {
        view.zero_();
        p.tensor.mutable_grad() = view;
      } else if (grad.data_ptr() != view.data_ptr()) {
        view.copy_(grad);
        p.tensor.mutable_grad() = view;
      }
      offset += n;
    }
  }
}

void AdamW::zero_grad() {
  reattach_grads();
  for (auto& flat : flat_) flat.grad.zero_();
}

double AdamW::grad_norm() const {
  const_cast<AdamW*>(this)->reattach_grads();
  double sum_of_squares = 0.0;
  for (const auto& flat : flat_) {
    double norm = flat.grad.norm().item<double>();
    sum_of_squares += norm * norm;
  }
  return std::sqrt(sum_of_squares);
}

void AdamW::scale_grads(double factor) {
  reattach_grads();
  for (auto& flat : flat_) flat.grad.mul_(factor);
}

bool AdamW::grads_finite() const {
  const_cast<AdamW*>(this)->reattach_grads();
  for (const auto& flat : flat_) {
    if (!torch::isfinite(flat.grad).all().item<bool>()) return false;
  }
  return true;
}

void AdamW::step(double lr, double grad_scale, bool zero_grads) {
  torch::NoGradGuard no_grad;
  reattach_grads();
  ++step_count_;

  // Bias corrections in double, as torch computes them from the Python step count.
  double t = static_cast<double>(step_count_);
  double bias_correction1 = 1.0 - std::pow(options_.beta1, t);
  double bias_correction2 = 1.0 - std::pow(options_.beta2, t);
  double step_size = lr / bias_correction1;
  double bias_correction2_sqrt = std::sqrt(bias_correction2);

  for (size_t g = 0; g < groups_.size(); ++g) {
    FlatGroup& flat = flat_[g];
    double decay_factor = 1.0 - lr * groups_[g].weight_decay;
    if (flat.param.is_cpu() && flat.param.scalar_type() == torch::kFloat32) {
      adamw_update_cpu(flat.param.data_ptr<float>(), flat.grad.data_ptr<float>(), flat.exp_avg.data_ptr<float>(),
                       flat.exp_avg_sq.data_ptr<float>(), flat.param.numel(), static_cast<float>(decay_factor),
                       static_cast<float>(options_.beta1), static_cast<float>(options_.beta2),
                       static_cast<float>(bias_correction2_sqrt), static_cast<float>(options_.eps),
                       static_cast<float>(step_size), static_cast<float>(grad_scale), zero_grads);
      continue;
    }

    // Other devices: the same steps as tensor operations over the flat buffers.
    if (grad_scale != 1.0) flat.grad.mul_(grad_scale);
    flat.param.mul_(decay_factor);
    flat.exp_avg.mul_(options_.beta1).add_(flat.grad, 1.0 - options_.beta1);
    flat.exp_avg_sq.mul_(options_.beta2).addcmul_(flat.grad, flat.grad, 1.0 - options_.beta2);
    auto denom = (flat.exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(options_.eps);
    flat.param.addcdiv_(flat.exp_avg, denom, -step_size);
    if (zero_grads) flat.grad.zero_();
  }
}

std::vector<torch::Tensor> AdamW::parameters() const {
  std::vector<torch::Tensor> all;
  for (const auto& group : groups_) {
    for (const auto& p : group.parameters) all.push_back(p.tensor);
  }
  return all;
}

io::TensorMap AdamW::state_tensors() const {
  io::TensorMap state;
  for (size_t g = 0; g < groups_.size(); ++g) {
    int64_t offset = 0;
    for (const auto& p : groups_[g].parameters) {
      int64_t n = p.tensor.numel();
      state["exp_avg." + p.name] = flat_[g].exp_avg.narrow(0, offset, n).view(p.tensor.sizes());
      state["exp_avg_sq." + p.name] = flat_[g].exp_avg_sq.narrow(0, offset, n).view(p.tensor.sizes());
      offset += n;
    }
  }
  state["step"] = torch::tensor({step_count_}, torch::kInt64);
  return state;
}

void AdamW::load_state_tensors(const io::TensorMap& state, const std::string& source) {
  torch::NoGradGuard no_grad;
  auto find = [&](const std::string& key, const torch::Tensor& like) {
    auto it = state.find(key);
    if (it == state.end()) {
      throw Error(source + " has no '" + key + "'; the checkpoint does not match this model's trainable parameters "
                  "(was it written with other --freeze_* options?)");
    }
    if (it->second.sizes() != like.sizes()) {
      throw Error(source + ": '" + key + "' has another shape than the parameter it belongs to");
    }
    return it->second;
  };

  for (size_t g = 0; g < groups_.size(); ++g) {
    int64_t offset = 0;
    for (const auto& p : groups_[g].parameters) {
      int64_t n = p.tensor.numel();
      flat_[g].exp_avg.narrow(0, offset, n).view(p.tensor.sizes()).copy_(find("exp_avg." + p.name, p.tensor));
      flat_[g].exp_avg_sq.narrow(0, offset, n).view(p.tensor.sizes()).copy_(find("exp_avg_sq." + p.name, p.tensor));
      offset += n;
    }
  }
  auto step = state.find("step");
  if (step == state.end()) throw Error(source + " has no 'step' entry");
  step_count_ = step->second.to(torch::kInt64).item<int64_t>();
}

}  // namespace dualclip::train
