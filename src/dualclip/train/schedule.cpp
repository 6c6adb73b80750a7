#include "dualclip/train/schedule.h"

#include <algorithm>
#include <cmath>

#include "dualclip/core/error.h"

namespace dualclip::train {

ScheduleKind parse_schedule_kind(const std::string& name) {
  if (name == "linear") return ScheduleKind::Linear;
  if (name == "cosine") return ScheduleKind::Cosine;
  if (name == "constant" || name == "constant_with_warmup") return ScheduleKind::Constant;
  throw Error("--lr_scheduler_type '" + name + "' is not supported; use linear, cosine or constant");
}

std::string schedule_name(ScheduleKind kind) {
  switch (kind) {
    case ScheduleKind::Linear: return "linear";
    case ScheduleKind::Cosine: return "cosine";
    case ScheduleKind::Constant: return "constant";
  }
  return "linear";
}

double Schedule::factor(int64_t completed_steps) const {
  double s = static_cast<double>(completed_steps);
  if (completed_steps < warmup_steps) return s / static_cast<double>(std::max<int64_t>(1, warmup_steps));

  double decay_steps = static_cast<double>(std::max<int64_t>(1, total_steps - warmup_steps));
  switch (kind) {
    case ScheduleKind::Linear:
      return std::max(0.0, static_cast<double>(total_steps - completed_steps) / decay_steps);
    case ScheduleKind::Cosine: {
      double progress = static_cast<double>(completed_steps - warmup_steps) / decay_steps;
      return std::max(0.0, 0.5 * (1.0 + std::cos(M_PI * progress)));
    }
    case ScheduleKind::Constant:
      return 1.0;
  }
  return 1.0;
}

int64_t warmup_steps_for(int64_t warmup_steps, double warmup_ratio, int64_t total_steps) {
  if (warmup_steps > 0) return warmup_steps;
  return static_cast<int64_t>(std::ceil(warmup_ratio * static_cast<double>(total_steps)));
}

}  // namespace dualclip::train
