// AdamW over flat parameter buffers. The trainable parameters of each group (with and without
// weight decay) are moved into one contiguous buffer, each parameter and its gradient becoming
// a view into it, so one update is a single pass over a few long arrays instead of a loop of
// small kernels per parameter. The arithmetic per element is torch 1.13's AdamW:
//   p *= 1 - lr * wd
//   m = b1 * m + (1 - b1) * g
//   v = b2 * v + (1 - b2) * g * g
//   p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <torch/types.h>

#include "dualclip/io/safetensors.h"

namespace dualclip::train {

struct NamedParameter {
  std::string name;
  torch::Tensor tensor;
};

struct ParameterGroup {
  double weight_decay = 0.0;
  std::vector<NamedParameter> parameters;
};

struct AdamWOptions {
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
};

class AdamW {
 public:
  // Moves every group's parameters (all on one device, float32) into flat buffers and gives
  // each a zeroed gradient view. Parameters of empty groups are skipped.
  AdamW(std::vector<ParameterGroup> groups, AdamWOptions options = {});

  // Sets every gradient to zero in place (the views stay valid).
  void zero_grad();

  // The total L2 norm over all gradients (as clip_grad_norm_ computes it).
  double grad_norm() const;
  // Multiplies every gradient by `factor` (clipping, unscaling of fp16 loss).
  void scale_grads(double factor);
  // True when every gradient element is finite.
  bool grads_finite() const;

  // Applies one AdamW update with learning rate `lr` to the gradients multiplied by
  // `grad_scale` (the clipping coefficient) and increments the step count. With `zero_grads`
  // it also sets every gradient to zero, as zero_grad() would. On CPU this is one fused pass.
  void step(double lr, double grad_scale = 1.0, bool zero_grads = false);

  int64_t step_count() const { return step_count_; }
  // Every trainable parameter, in group order.
  std::vector<torch::Tensor> parameters() const;

  // exp_avg.<name> and exp_avg_sq.<name> for every parameter, plus the step count.
  io::TensorMap state_tensors() const;
  // Restores the state written by state_tensors(); throws dualclip::Error naming `source` and
  // the parameter when a moment is missing or has another shape.
  void load_state_tensors(const io::TensorMap& state, const std::string& source);

  const std::vector<ParameterGroup>& groups() const { return groups_; }

 private:
  struct FlatGroup {
    torch::Tensor param;
    torch::Tensor grad;
    torch::Tensor exp_avg;
    torch::Tensor exp_avg_sq;
  };
  // Puts back a gradient view that something replaced (a reducer assigning .grad()).
  void reattach_grads();

  std::vector<ParameterGroup> groups_;
  std::vector<FlatGroup> flat_;
  AdamWOptions options_;
  int64_t step_count_ = 0;
};

}  // namespace dualclip::train
