#include "dualclip/report/loss_curve.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "dualclip/core/error.h"
#include "dualclip/report/axis_ticks.h"
#include "dualclip/report/canvas.h"
#include "dualclip/report/metrics_log.h"

namespace dualclip::report {

namespace {

// The data range and the pixel rectangle it is drawn into.
struct PlotFrame {
  double left, top, right, bottom;  // pixels
  double x_low, x_high, y_low, y_high;

  double x(double step) const { return left + (step - x_low) / (x_high - x_low) * (right - left); }
  double y(double loss) const { return bottom - (loss - y_low) / (y_high - y_low) * (bottom - top); }
};

PlotFrame fit_frame(const MetricsLog& log, const Canvas& canvas) {
  double x_low = INFINITY, x_high = -INFINITY, y_low = INFINITY, y_high = -INFINITY;
  for (const auto& point : log.training) {
    x_low = std::min(x_low, point.step), x_high = std::max(x_high, point.step);
    y_low = std::min(y_low, point.loss), y_high = std::max(y_high, point.loss);
  }
  for (const auto& point : log.evaluation) {
    x_low = std::min(x_low, point.step), x_high = std::max(x_high, point.step);
    y_low = std::min(y_low, point.eval_loss), y_high = std::max(y_high, point.eval_loss);
  }

  // Steps start the axis at 0; losses get 5% headroom, and a flat curve a unit-wide band.
  if (x_low >= 0) x_low = 0;
  if (x_high <= x_low) x_high = x_low + 1;
  const double pad = y_high > y_low ? 0.05 * (y_high - y_low) : 0.5;
  y_low = (y_low >= 0 && y_low - pad < 0) ? 0 : y_low - pad;
  y_high += pad;

  return PlotFrame{84, 78, canvas.width() - 28.0, canvas.height() - 62.0, x_low, x_high, y_low, y_high};
}

void draw_axes(Canvas& canvas, const PlotFrame& frame) {
  cairo_t* cr = canvas.cr();
  const std::vector<double> x_ticks = nice_ticks(frame.x_low, frame.x_high, 8);
  const std::vector<double> y_ticks = nice_ticks(frame.y_low, frame.y_high, 6);
  const double x_spacing = x_ticks.size() > 1 ? x_ticks[1] - x_ticks[0] : 1;
  const double y_spacing = y_ticks.size() > 1 ? y_ticks[1] - y_ticks[0] : 1;

  // Grid lines first, so the curves lie on top of them.
  cairo_set_line_width(cr, 1);
  canvas.set_colour(palette::kGrid);
  for (double tick : x_ticks) {
    const double px = std::round(frame.x(tick)) + 0.5;
    cairo_move_to(cr, px, frame.top);
    cairo_line_to(cr, px, frame.bottom);
  }
  for (double tick : y_ticks) {
    const double py = std::round(frame.y(tick)) + 0.5;
    cairo_move_to(cr, frame.left, py);
    cairo_line_to(cr, frame.right, py);
  }
  cairo_stroke(cr);

  // The axis lines, tick marks and tick labels.
  canvas.set_colour(palette::kAxis);
  cairo_move_to(cr, frame.left + 0.5, frame.top);
  cairo_line_to(cr, frame.left + 0.5, frame.bottom + 0.5);
  cairo_line_to(cr, frame.right, frame.bottom + 0.5);
  for (double tick : x_ticks) {
    const double px = std::round(frame.x(tick)) + 0.5;
    cairo_move_to(cr, px, frame.bottom);
    cairo_line_to(cr, px, frame.bottom + 5);
  }
  for (double tick : y_ticks) {
    const double py = std::round(frame.y(tick)) + 0.5;
    cairo_move_to(cr, frame.left - 5, py);
    cairo_line_to(cr, frame.left, py);
  }
  cairo_stroke(cr);

  canvas.set_font(12);
  canvas.set_colour(palette::kText);
  for (double tick : x_ticks) {
    canvas.draw_text(format_tick(tick, x_spacing), frame.x(tick), frame.bottom + 9, HAlign::Center, VAlign::Top);
  }
  for (double tick : y_ticks) {
    canvas.draw_text(format_tick(tick, y_spacing), frame.left - 9, frame.y(tick), HAlign::Right, VAlign::Middle);
  }

  // Axis titles.
  canvas.set_font(13);
  canvas.draw_text("optimizer step", (frame.left + frame.right) / 2, canvas.height() - 14, HAlign::Center,
                   VAlign::Bottom);
  canvas.draw_text("contrastive loss", 22, (frame.top + frame.bottom) / 2, HAlign::Center, VAlign::Middle,
                   -M_PI / 2);
}

void draw_polyline(cairo_t* cr, const PlotFrame& frame, const std::vector<double>& steps,
                   const std::vector<double>& values) {
  for (size_t i = 0; i < steps.size(); ++i) {
    if (i == 0) cairo_move_to(cr, frame.x(steps[i]), frame.y(values[i]));
    else cairo_line_to(cr, frame.x(steps[i]), frame.y(values[i]));
  }
}

void draw_training(Canvas& canvas, const PlotFrame& frame, const MetricsLog& log, double weight) {
  std::vector<double> steps, losses;
  for (const auto& point : log.training) steps.push_back(point.step), losses.push_back(point.loss);
  cairo_t* cr = canvas.cr();
  cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);

  // The raw loss is thin and faint; with only a handful of points it is the curve itself.
  const bool smoothed = weight > 0;
  canvas.set_colour(palette::kTrain, smoothed ? 0.3 : 1.0);
  cairo_set_line_width(cr, smoothed ? 1.0 : 2.0);
  draw_polyline(cr, frame, steps, losses);
  cairo_stroke(cr);

  if (smoothed) {
    canvas.set_colour(palette::kTrain);
    cairo_set_line_width(cr, 2.2);
    draw_polyline(cr, frame, steps, smooth_ema(losses, weight));
    cairo_stroke(cr);
  }
}

void draw_eval_marker(cairo_t* cr, double x, double y) {
  cairo_new_sub_path(cr);
  cairo_arc(cr, x, y, 4.5, 0, 2 * M_PI);
  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_fill_preserve(cr);
  cairo_set_source_rgb(cr, palette::kEval.r, palette::kEval.g, palette::kEval.b);
  cairo_set_line_width(cr, 2);
  cairo_stroke(cr);
}

void draw_evaluation(Canvas& canvas, const PlotFrame& frame, const MetricsLog& log) {
  if (log.evaluation.empty()) return;
  std::vector<double> steps, losses;
  for (const auto& point : log.evaluation) steps.push_back(point.step), losses.push_back(point.eval_loss);
  cairo_t* cr = canvas.cr();

  const double dashes[] = {5, 4};
  cairo_set_dash(cr, dashes, 2, 0);
  canvas.set_colour(palette::kEval, 0.8);
  cairo_set_line_width(cr, 1.5);
  draw_polyline(cr, frame, steps, losses);
  cairo_stroke(cr);
  cairo_set_dash(cr, nullptr, 0, 0);

  for (size_t i = 0; i < steps.size(); ++i) draw_eval_marker(cr, frame.x(steps[i]), frame.y(losses[i]));
}

void draw_legend(Canvas& canvas, const PlotFrame& frame, const MetricsLog& log, double weight) {
  struct Entry {
    std::string label;
    int kind;  // 0 raw line, 1 smoothed line, 2 eval marker
  };
  std::vector<Entry> entries;
  if (!log.training.empty()) {
    entries.push_back({"training loss", 0});
    if (weight > 0) {
      char label[64];
      std::snprintf(label, sizeof label, "training loss, smoothed (EMA %.2f)", weight);
      entries.push_back({label, 1});
    }
  }
  if (!log.evaluation.empty()) entries.push_back({"evaluation loss", 2});

  canvas.set_font(12);
  double text_width = 0;
  for (const auto& entry : entries) text_width = std::max(text_width, canvas.text_width(entry.label));
  const double row = 20, swatch = 28, padding = 10;
  const double box_width = padding * 2 + swatch + 8 + text_width;
  const double box_height = padding * 2 + row * entries.size() - 4;
  const double x0 = frame.right - box_width - 10, y0 = frame.top + 10;

  cairo_t* cr = canvas.cr();
  cairo_rectangle(cr, x0 + 0.5, y0 + 0.5, box_width, box_height);
  cairo_set_source_rgba(cr, 1, 1, 1, 0.92);
  cairo_fill_preserve(cr);
  canvas.set_colour(palette::kGrid);
  cairo_set_line_width(cr, 1);
  cairo_stroke(cr);

  for (size_t i = 0; i < entries.size(); ++i) {
    const double cy = y0 + padding + row * i + 8;
    const double sx = x0 + padding;
    if (entries[i].kind == 2) {
      draw_eval_marker(cr, sx + swatch / 2, cy);
    } else {
      const bool raw = entries[i].kind == 0;
      canvas.set_colour(palette::kTrain, raw && weight > 0 ? 0.3 : 1.0);
      cairo_set_line_width(cr, raw && weight > 0 ? 1.0 : 2.2);
      cairo_move_to(cr, sx, cy);
      cairo_line_to(cr, sx + swatch, cy);
      cairo_stroke(cr);
    }
    canvas.set_colour(palette::kText);
    canvas.draw_text(entries[i].label, sx + swatch + 8, cy, HAlign::Left, VAlign::Middle);
  }
}

// The subtitle: where the loss started and ended, so the picture can be read without a table.
std::string summary_line(const MetricsLog& log, double weight) {
  char text[256];
  std::string summary;
  if (!log.training.empty()) {
    std::vector<double> losses;
    for (const auto& point : log.training) losses.push_back(point.loss);
    const double end = weight > 0 ? smooth_ema(losses, weight).back() : losses.back();
    std::snprintf(text, sizeof text, "training loss %.3f at step %.0f, %.3f%s at step %.0f", losses.front(),
                  log.training.front().step, end, weight > 0 ? " (smoothed)" : "", log.training.back().step);
    summary = text;
  }
  if (!log.evaluation.empty()) {
    std::snprintf(text, sizeof text, "%sevaluation loss %.3f at step %.0f", summary.empty() ? "" : "; ",
                  log.evaluation.back().eval_loss, log.evaluation.back().step);
    summary += text;
  }
  return summary;
}

}  // namespace

std::vector<double> smooth_ema(const std::vector<double>& values, double weight) {
  std::vector<double> smoothed;
  smoothed.reserve(values.size());
  double average = 0, correction = 1;
  for (double value : values) {
    average = weight * average + (1 - weight) * value;
    correction *= weight;
    smoothed.push_back(average / (1 - correction));
  }
  return smoothed;
}

double smoothing_weight(size_t count) {
  if (count < 10) return 0;
  return std::min(0.95, 1.0 - 8.0 / static_cast<double>(count));
}

void write_loss_curve_png(const std::filesystem::path& metrics_jsonl, const std::filesystem::path& png,
                          const LossCurveOptions& options) {
  const MetricsLog log = read_metrics_log(metrics_jsonl);
  if (log.training.empty() && log.evaluation.empty()) {
    throw Error("no training or evaluation rows in " + metrics_jsonl.string() +
                " (expected JSON lines with \"step\" and \"loss\" or \"eval_loss\"); is this a dualclip metrics.jsonl?");
  }
  const double weight = smoothing_weight(log.training.size());

  Canvas canvas(options.width, options.height);
  const PlotFrame frame = fit_frame(log, canvas);
  draw_axes(canvas, frame);

  // Clip the curves to the plot area so that a line width never spills over the axes.
  cairo_save(canvas.cr());
  cairo_rectangle(canvas.cr(), frame.left + 1, frame.top - 6, frame.right - frame.left + 6, frame.bottom - frame.top + 6);
  cairo_clip(canvas.cr());
  draw_training(canvas, frame, log, weight);
  draw_evaluation(canvas, frame, log);
  cairo_restore(canvas.cr());
  draw_legend(canvas, frame, log, weight);

  std::string title = options.title;
  if (title.empty()) {
    const std::filesystem::path folder = std::filesystem::absolute(metrics_jsonl).parent_path();
    title = "Contrastive loss: " + folder.filename().string();
  }
  canvas.set_font(18, /*bold=*/true);
  canvas.set_colour(palette::kText);
  canvas.draw_text(title, frame.left, 30, HAlign::Left, VAlign::Baseline);
  canvas.set_font(12);
  canvas.set_colour(palette::kMutedText);
  canvas.draw_text(summary_line(log, weight), frame.left, 52, HAlign::Left, VAlign::Baseline);

  canvas.write_png(png);
}

}  // namespace dualclip::report
