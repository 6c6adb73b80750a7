// Reading a training run's metrics.jsonl: one JSON object per line, either a training row
// ("step", "loss", "learning_rate", ...) or an evaluation row ("step", "eval_loss", ...).
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace dualclip::report {

struct TrainingPoint {
  double step = 0;
  double loss = 0;
  double learning_rate = 0;  // 0 when the row has none
};

struct EvalPoint {
  double step = 0;
  double eval_loss = 0;
  // Every other numeric "eval_*" field of the row (eval_i2t_recall@1, ...), keyed by name.
  std::map<std::string, double> extra;
};

struct MetricsLog {
  std::vector<TrainingPoint> training;  // in file order
  std::vector<EvalPoint> evaluation;    // in file order
  int skipped_lines = 0;                // malformed lines, each reported by a warning
};

// Reads `metrics_jsonl`. A line that is not a JSON object, or a training/evaluation row whose
// "step" or loss is not a finite number, is skipped with a warning naming the file and line
// (the first few are listed one by one, then a total). Rows of other kinds and blank lines
// are ignored. Throws dualclip::Error when the file cannot be read.
MetricsLog read_metrics_log(const std::filesystem::path& metrics_jsonl);

}  // namespace dualclip::report
