// The training-loss picture of a run: training loss per logged step (raw and smoothed) and
// evaluation loss as markers, from the run's metrics.jsonl.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace dualclip::report {

struct LossCurveOptions {
  std::string title;  // empty: "Contrastive loss: " + the name of the folder holding metrics.jsonl
  int width = 960;    // pixels
  int height = 560;   // pixels
};

// Draws the loss curve of `metrics_jsonl` into `png`. Malformed lines are skipped with a
// warning (see read_metrics_log). Throws dualclip::Error naming the file when it has no
// training or evaluation rows at all, when the size is under 320x240 pixels, or when `png`
// cannot be written.
void write_loss_curve_png(const std::filesystem::path& metrics_jsonl, const std::filesystem::path& png,
                          const LossCurveOptions& options = {});

// Smooths `values` with an exponential moving average of weight `weight` (0: no smoothing),
// divided by (1 - weight^n) so that the start is not pulled towards zero, as TensorBoard does.
std::vector<double> smooth_ema(const std::vector<double>& values, double weight);

// Smooths `values` with smooth_ema forwards, then backwards over the result, so that the
// curve does not lag behind the data as a one-way average does on a falling loss.
std::vector<double> smooth_zero_phase(const std::vector<double>& values, double weight);

// Returns the smoothing weight the loss curve uses for `count` points: none up to 40 points,
// then 1 - 40 / count, at most 0.95.
double smoothing_weight(size_t count);

}  // namespace dualclip::report
