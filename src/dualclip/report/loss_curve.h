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
// training or evaluation rows at all, or when `png` cannot be written.
void write_loss_curve_png(const std::filesystem::path& metrics_jsonl, const std::filesystem::path& png,
                          const LossCurveOptions& options = {});

// Smooths `values` with an exponential moving average of weight `weight` (0: no smoothing),
// divided by (1 - weight^n) so that the start is not pulled towards zero, as TensorBoard does.
std::vector<double> smooth_ema(const std::vector<double>& values, double weight);

// Returns the smoothing weight the loss curve uses for `count` points: none for a handful of
// points, rising to 0.95 for thousands.
double smoothing_weight(size_t count);

}  // namespace dualclip::report
