// Training progress output: a one-line progress bar on a terminal (step/total,
// epoch, loss, learning rate, pairs per second, ETA), plain log lines otherwise, and
// metrics.jsonl rows in output_dir.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

namespace dualclip::train {

struct ProgressLine {
  int64_t step = 0;
  int64_t total_steps = 0;
  double epoch = 0.0;
  double loss = 0.0;
  double learning_rate = 0.0;
  double pairs_per_second = 0.0;
  double eta_seconds = 0.0;
};

// Formats seconds as H:MM:SS (or M:SS under an hour).
std::string format_duration(double seconds);

class ProgressReporter {
 public:
  // `enabled` false silences it (ranks other than 0); a terminal on stderr gets the bar.
  explicit ProgressReporter(bool enabled, bool disable_bar);
  // Redraws the bar (terminal) or does nothing (log lines come from log_line()).
  void update(const ProgressLine& line);
  // A plain log line; on a terminal it is printed above the bar.
  void log_line(const std::string& text);
  // Ends the bar's line.
  void finish();

 private:
  bool enabled_;
  bool bar_;
  bool bar_drawn_ = false;
  std::chrono::steady_clock::time_point last_draw_{};
};

// Appends rows to output_dir/metrics.jsonl, one JSON object per line, flushed each row.
class MetricsWriter {
 public:
  MetricsWriter() = default;
  // Opens the file, first dropping rows of steps after `keep_up_to_step`. A run stopped after
  // its last checkpoint leaves such rows, and the resumed run logs those steps again.
  void open(const std::filesystem::path& path, int64_t keep_up_to_step);
  void write(const nlohmann::json& row);
  bool is_open() const { return out_.is_open(); }

 private:
  std::ofstream out_;
};

}  // namespace dualclip::train
