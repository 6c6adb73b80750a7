#include "dualclip/report/metrics_log.h"

#include <cmath>
#include <sstream>

#include <nlohmann/json.hpp>

#include "dualclip/core/fs.h"
#include "dualclip/core/log.h"

namespace dualclip::report {

namespace {

constexpr int kMaxListedWarnings = 5;

// Returns the number at `key`, or NaN when it is absent, null or not a number.
double number_at(const nlohmann::json& row, const char* key) {
  auto it = row.find(key);
  if (it == row.end() || !it->is_number()) return std::nan("");
  return it->get<double>();
}

// Returns an empty string for a usable row, else why the line is skipped.
std::string parse_row(const std::string& line, MetricsLog& log) {
  nlohmann::json row = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (row.is_discarded()) return "not valid JSON";
  if (!row.is_object()) return "not a JSON object";

  const bool is_training = row.contains("loss");
  const bool is_eval = row.contains("eval_loss");
  if (!is_training && !is_eval) return "";  // a summary or other row that the plots do not use

  const double step = number_at(row, "step");
  if (!std::isfinite(step)) return "\"step\" is missing or not a number";

  if (is_training) {
    const double loss = number_at(row, "loss");
    if (!std::isfinite(loss)) return "\"loss\" is not a finite number";
    const double learning_rate = number_at(row, "learning_rate");
    log.training.push_back({step, loss, std::isfinite(learning_rate) ? learning_rate : 0.0});
  }
  if (is_eval) {
    const double eval_loss = number_at(row, "eval_loss");
    if (!std::isfinite(eval_loss)) return "\"eval_loss\" is not a finite number";
    EvalPoint point{step, eval_loss, {}};
    for (const auto& [key, value] : row.items()) {
      if (key != "eval_loss" && key.rfind("eval_", 0) == 0 && value.is_number()) point.extra[key] = value.get<double>();
    }
    log.evaluation.push_back(std::move(point));
  }
  return "";
}

}  // namespace

MetricsLog read_metrics_log(const std::filesystem::path& metrics_jsonl) {
  std::istringstream lines(read_file(metrics_jsonl));
  MetricsLog log;
  std::string line;
  int line_number = 0;
  while (std::getline(lines, line)) {
    ++line_number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;

    const std::string problem = parse_row(line, log);
    if (problem.empty()) continue;
    ++log.skipped_lines;
    if (log.skipped_lines <= kMaxListedWarnings) {
      log::warn(metrics_jsonl.string() + ":" + std::to_string(line_number) + ": skipped line: " + problem);
    }
  }
  if (log.skipped_lines > 0) {
    log::warn("skipped " + std::to_string(log.skipped_lines) + " malformed line(s) in " + metrics_jsonl.string() +
              (log.skipped_lines > kMaxListedWarnings ? " (only the first " + std::to_string(kMaxListedWarnings) +
                                                             " are listed)"
                                                       : ""));
  }
  return log;
}

}  // namespace dualclip::report
