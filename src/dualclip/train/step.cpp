#include "dualclip/train/step.h"

#include <cmath>
#include <sstream>

#include <ATen/autocast_mode.h>
#include <torch/torch.h>

#include "dualclip/core/error.h"
#include "dualclip/dist/distributed.h"

namespace dualclip::train {

namespace {

// Runs the forward pass under autocast (bfloat16 on CPU or CUDA, float16 on CUDA) while alive.
class AutocastScope {
 public:
  AutocastScope(Precision precision, const torch::Device& device) {
    if (precision == Precision::Float32) return;
    active_ = true;
    cuda_ = device.is_cuda();
    auto dtype = precision == Precision::BFloat16 ? at::kBFloat16 : at::kHalf;
    if (cuda_) {
      at::autocast::set_enabled(true);
      at::autocast::set_autocast_gpu_dtype(dtype);
    } else {
      at::autocast::set_cpu_enabled(true);
      at::autocast::set_autocast_cpu_dtype(dtype);
    }
    at::autocast::increment_nesting();
  }
  ~AutocastScope() {
    if (!active_) return;
    if (cuda_) {
      at::autocast::set_enabled(false);
    } else {
      at::autocast::set_cpu_enabled(false);
    }
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  }

 private:
  bool active_ = false;
  bool cuda_ = false;
};

}  // namespace

torch::Tensor batch_loss(models::DualEncoder& model, const torch::Tensor& pixel_values,
                         const text::BatchEncoding& text, bool local_loss, Precision precision) {
  models::DualEncoderOutput out;
  {
    AutocastScope autocast(precision, pixel_values.device());
    out = model->forward(pixel_values, text.input_ids, text.attention_mask, text.token_type_ids);
  }

  // One process (or --local_loss): the in-batch logits the model computed.
  if (!dist::is_distributed() || local_loss) {
    return models::contrastive_loss(out.logits_per_text.to(torch::kFloat32));
  }

  // Several processes: every rank scores its texts against the images of all ranks and the
  // other way round, as open_clip's gather_with_grad; gradients reach each rank's own slice.
  auto image_embeds = dist::all_gather_with_grad(out.image_embeds.to(torch::kFloat32));
  auto text_embeds = dist::all_gather_with_grad(out.text_embeds.to(torch::kFloat32));
  auto logits_per_text = torch::matmul(text_embeds, image_embeds.t()) * model->logit_scale.exp();
  return models::contrastive_loss(logits_per_text);
}

StepRunner::StepRunner(models::DualEncoder model, AdamW& optimizer, StepOptions options,
                       dist::GradientReducer* reducer)
    : model_(std::move(model)), optimizer_(optimizer), options_(options), reducer_(reducer) {}

double StepRunner::accumulate(const torch::Tensor& pixel_values, const text::BatchEncoding& text,
                              int64_t micro_batches, bool last) {
  if (reducer_ != nullptr) reducer_->set_enabled(last);
  auto loss = batch_loss(model_, pixel_values, text, options_.local_loss, options_.precision);
  double value = loss.item<double>();
  if (!std::isfinite(value)) loss_finite_ = false;
  loss_sum_ += value;
  ++micro_batches_done_;
  pairs_ += pixel_values.size(0);

  // Float16 scales the loss so small gradients survive; apply() divides it back out.
  auto scaled = loss / static_cast<double>(micro_batches);
  if (options_.precision == Precision::Float16) scaled = scaled * scaler_.scale;
  scaled.backward();
  if (reducer_ != nullptr && last) {
    reducer_->synchronize();
    reduced_ = true;
  }
  return value;
}

StepStats StepRunner::apply(double lr, int64_t step) {
  StepStats stats;
  stats.loss = micro_batches_done_ > 0 ? loss_sum_ / static_cast<double>(micro_batches_done_) : 0.0;
  stats.pairs = pairs_;

  // A step whose last micro-batch was empty (unreadable images) still averages over ranks.
  if (reducer_ != nullptr && !reduced_) {
    reducer_->set_enabled(true);
    reducer_->synchronize();
  }
  reduced_ = false;
  bool loss_finite = loss_finite_;
  loss_sum_ = 0.0;
  micro_batches_done_ = 0;
  loss_finite_ = true;
  pairs_ = 0;

  // Undo the float16 loss scale before anything looks at the gradients.
  if (options_.precision == Precision::Float16) optimizer_.scale_grads(1.0 / scaler_.scale);

  // A non-finite loss or gradient: skip (float16 overflow, --skip_nonfinite) or stop.
  stats.grad_norm = optimizer_.grad_norm();
  bool finite = loss_finite && std::isfinite(stats.grad_norm);
  if (dist::is_distributed()) finite = dist::all_reduce_sum(finite ? 0.0 : 1.0) == 0.0;
  if (!finite) {
    optimizer_.zero_grad();
    stats.skipped = true;
    if (options_.precision == Precision::Float16) {
      scaler_.scale *= 0.5;
      scaler_.growth_tracker = 0;
      return stats;
    }
    if (options_.skip_nonfinite) return stats;
    std::ostringstream message;
    message << "step " << step << ": the loss (" << stats.loss << ") or the gradient norm (" << stats.grad_norm
            << ") is not finite; the model was not updated and no checkpoint was written at this step. Lower "
               "--learning_rate, check the data, or pass --skip_nonfinite to skip such steps";
    throw Error(message.str());
  }

  // clip_grad_norm_: coefficient max_norm / (norm + 1e-6), clamped to 1.
  if (options_.max_grad_norm > 0.0) {
    stats.clip_coef = std::min(1.0, options_.max_grad_norm / (stats.grad_norm + 1e-6));
    if (stats.clip_coef < 1.0) optimizer_.scale_grads(stats.clip_coef);
  }

  optimizer_.step(lr);
  optimizer_.zero_grad();

  // CLIP and open_clip keep the temperature at most 100: logit_scale <= ln(100).
  if (options_.logit_scale_clamp) {
    torch::NoGradGuard no_grad;
    model_->logit_scale.clamp_max_(std::log(100.0));
  }

  if (options_.precision == Precision::Float16 && ++scaler_.growth_tracker >= 2000) {
    scaler_.scale *= 2.0;
    scaler_.growth_tracker = 0;
  }
  return stats;
}

}  // namespace dualclip::train
