#include "dualclip/train/progress.h"

#include <cstdio>
#include <iostream>
#include <sstream>
#include <vector>

#include <unistd.h>

#include "dualclip/core/error.h"
#include "dualclip/core/fs.h"
#include "dualclip/core/log.h"

namespace dualclip::train {

std::string format_duration(double seconds) {
  if (!(seconds >= 0.0) || seconds > 1e8) return "?";
  int64_t total = static_cast<int64_t>(seconds + 0.5);
  char text[32];
  if (total >= 3600) {
    std::snprintf(text, sizeof(text), "%lld:%02lld:%02lld", static_cast<long long>(total / 3600),
                  static_cast<long long>(total / 60 % 60), static_cast<long long>(total % 60));
  } else {
    std::snprintf(text, sizeof(text), "%lld:%02lld", static_cast<long long>(total / 60),
                  static_cast<long long>(total % 60));
  }
  return text;
}

ProgressReporter::ProgressReporter(bool enabled, bool disable_bar)
    : enabled_(enabled), bar_(enabled && !disable_bar && isatty(STDERR_FILENO) == 1) {}

void ProgressReporter::update(const ProgressLine& line) {
  if (!bar_) return;

  // Redraw at most ten times a second, and always on the last step.
  auto now = std::chrono::steady_clock::now();
  if (line.step != line.total_steps && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;

  constexpr int kWidth = 24;
  double done = line.total_steps > 0 ? static_cast<double>(line.step) / static_cast<double>(line.total_steps) : 0.0;
  int filled = static_cast<int>(done * kWidth);
  std::string bar(static_cast<size_t>(filled), '#');
  bar += std::string(static_cast<size_t>(kWidth - filled), '.');
  char text[256];
  std::snprintf(text, sizeof(text), "\r[%s] %lld/%lld  epoch %.2f  loss %.4f  lr %.3g  %.1f pairs/s  ETA %s\033[K",
                bar.c_str(), static_cast<long long>(line.step), static_cast<long long>(line.total_steps), line.epoch,
                line.loss, line.learning_rate, line.pairs_per_second, format_duration(line.eta_seconds).c_str());
  std::cerr << text << std::flush;
  bar_drawn_ = true;
}

void ProgressReporter::log_line(const std::string& text) {
  if (!enabled_) return;
  if (bar_drawn_) std::cerr << "\r\033[K";
  log::info(text);
}

void ProgressReporter::finish() {
  if (bar_drawn_) std::cerr << "\n";
  bar_drawn_ = false;
}

void MetricsWriter::open(const std::filesystem::path& path, int64_t keep_up_to_step) {
  // Keep the rows of steps the resumed state already contains.
  if (std::filesystem::exists(path)) {
    std::istringstream lines(read_file(path));
    std::string kept;
    std::string line;
    while (std::getline(lines, line)) {
      if (line.empty()) continue;
      auto row = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (row.is_discarded()) continue;
      if (row.value("step", int64_t{0}) <= keep_up_to_step) kept += line + "\n";
    }
    write_file_atomic(path, kept);
  }
  out_.open(path, std::ios::app);
  if (!out_) throw Error("cannot open " + path.string() + " for writing");
}

void MetricsWriter::write(const nlohmann::json& row) {
  if (!out_.is_open()) return;
  out_ << row.dump() << "\n";
  out_.flush();
}

}  // namespace dualclip::train
