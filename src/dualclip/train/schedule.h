// Learning-rate schedules as Hugging Face's get_scheduler builds them: a LambdaLR whose factor
// for optimizer step t (1-based) is f(t - 1), so with warmup the first step runs at lr 0.
#pragma once

#include <cstdint>
#include <string>

namespace dualclip::train {

enum class ScheduleKind { Linear, Cosine, Constant };

// Parses "linear", "cosine", "constant" or "constant_with_warmup" (the same as "constant":
// every schedule here honours the warmup); throws dualclip::Error naming --lr_scheduler_type.
ScheduleKind parse_schedule_kind(const std::string& name);
std::string schedule_name(ScheduleKind kind);

struct Schedule {
  ScheduleKind kind = ScheduleKind::Linear;
  double base_lr = 5e-5;
  int64_t warmup_steps = 0;
  int64_t total_steps = 1;

  // The factor f(s) after s completed steps:
  //   warmup (s < warmup): s / warmup
  //   linear:   max(0, (total - s) / max(1, total - warmup))
  //   cosine:   max(0, 0.5 * (1 + cos(pi * progress))), progress = (s - warmup) / max(1, total - warmup)
  //   constant: 1
  double factor(int64_t completed_steps) const;
  // The learning rate optimizer step `step` (1-based) uses.
  double lr_for_step(int64_t step) const { return base_lr * factor(step - 1); }
};

// Warmup steps from --warmup_steps, or from --warmup_ratio when no steps are given:
// ceil(ratio * total), as TrainingArguments.get_warmup_steps.
int64_t warmup_steps_for(int64_t warmup_steps, double warmup_ratio, int64_t total_steps);

}  // namespace dualclip::train
