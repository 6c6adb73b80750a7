// One optimizer step of contrastive training, in the Hugging Face Trainer's order:
// forward and backward of each micro-batch (loss divided by their count), gradient
// all-reduce over ranks, a non-finite check, clip_grad_norm_, AdamW, then logit_scale
// clamped to ln(100) as CLIP and open_clip do.
#pragma once

#include <cstdint>
#include <memory>

#include <torch/types.h>

#include "dualclip/models/dual_encoder.h"
#include "dualclip/text/tokenizer.h"
#include "dualclip/train/optimizer.h"

namespace dualclip::dist {
class GradientReducer;
}

namespace dualclip::train {

enum class Precision { Float32, BFloat16, Float16 };

struct StepOptions {
  double max_grad_norm = 1.0;  // 0 turns clipping off
  bool logit_scale_clamp = true;
  // Each rank's loss over its own batch instead of over the gathered global batch.
  bool local_loss = false;
  Precision precision = Precision::Float32;
  bool skip_nonfinite = false;
  // The maximum number of pairs in one rank's micro-batch (the per-device batch size). With
  // it, one gather carries the embeddings and their row counts. With 0, the counts travel in
  // a collective of their own.
  int64_t max_rows_per_rank = 0;
};

// Dynamic loss scaling for float16, as PyTorch's GradScaler (init 2^16, x0.5 on overflow,
// x2 after 2000 steps without one).
struct GradScalerState {
  double scale = 65536.0;
  int64_t growth_tracker = 0;
};

struct StepStats {
  double loss = 0.0;        // mean micro-batch loss (unscaled)
  double grad_norm = 0.0;   // total norm before clipping
  double clip_coef = 1.0;
  bool skipped = false;     // the update was skipped (non-finite loss or gradients)
  bool stop_requested = false;  // a stop signal reached this rank or, with several processes, any rank
  int64_t pairs = 0;        // image-text pairs this rank trained on

  // Seconds this rank spent in each phase of the step. Forward includes the all_gather of the
  // embeddings. Communication is the wait for the gradient all-reduce after the backward pass,
  // because the buckets sent during backward overlap with it. On CUDA these are host times, so
  // kernels still queued when a phase returns count in the phase that waits for them.
  double forward_seconds = 0.0;
  double backward_seconds = 0.0;
  double communication_seconds = 0.0;
  double optimizer_seconds = 0.0;  // non-finite check, clipping, AdamW, logit_scale clamp
};

// The loss of one batch: the model's contrastive loss, over the global batch when several
// ranks train (embeddings gathered with gradient) unless `local_loss`. `max_rows_per_rank`
// is StepOptions::max_rows_per_rank.
torch::Tensor batch_loss(models::DualEncoder& model, const torch::Tensor& pixel_values,
                         const text::BatchEncoding& text, bool local_loss, Precision precision,
                         int64_t max_rows_per_rank = 0);

class StepRunner {
 public:
  // `reducer` may be null (one process).
  StepRunner(models::DualEncoder model, AdamW& optimizer, StepOptions options,
             dist::GradientReducer* reducer = nullptr);

  // Forward and backward of one micro-batch whose loss counts 1/`micro_batches` of the step.
  // With several processes, gradients are averaged over ranks during the backward pass of the
  // `last` micro-batch only. Returns the unscaled loss.
  double accumulate(const torch::Tensor& pixel_values, const text::BatchEncoding& text, int64_t micro_batches,
                    bool last = true);

  // Finishes the step with learning rate `lr`; `step` (1-based) names the step in messages.
  // A non-finite loss or gradient raises dualclip::Error naming the step, unless
  // skip_nonfinite (or float16 overflow) makes it a skipped step. `stop_requested` (this
  // rank received a stop signal) travels with the ranks' non-finite check, so that every
  // rank learns of a stop without a collective of its own; StepStats::stop_requested has it.
  StepStats apply(double lr, int64_t step, bool stop_requested = false);

  GradScalerState& scaler() { return scaler_; }

 private:
  // apply() without its own timing.
  StepStats finish_step(double lr, int64_t step, bool stop_requested);

  models::DualEncoder model_;
  AdamW& optimizer_;
  StepOptions options_;
  dist::GradientReducer* reducer_;
  GradScalerState scaler_;
  double loss_sum_ = 0.0;
  int64_t micro_batches_done_ = 0;
  bool loss_finite_ = true;
  int64_t pairs_ = 0;
  double forward_seconds_ = 0.0;
  double backward_seconds_ = 0.0;
  double communication_seconds_ = 0.0;
  bool reduced_ = false;  // the gradients of this step were averaged over ranks
};

}  // namespace dualclip::train
