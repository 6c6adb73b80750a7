#include "dualclip/report/heatmap.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include <torch/torch.h>

#include "dualclip/core/error.h"
#include "dualclip/report/axis_ticks.h"
#include "dualclip/report/canvas.h"

namespace dualclip::report {

namespace {

constexpr double kMargin = 24;
constexpr double kAxisTitle = 22;  // the strip holding "images" above or "texts" beside the grid
constexpr double kLabelFont = 13;
constexpr double kLabelLine = 16;
constexpr double kMaxLabelWidth = 340;
constexpr Rgb kOutline{0.84, 0.10, 0.11};

// Pixel positions of each block of the picture, worked out before the canvas exists.
struct Layout {
  double cell = 64;
  double label_width = 0;  // the text labels left of the grid
  double grid_left = 0, grid_top = 0;
  double bar_left = 0;
  int width = 0, height = 0;
  std::vector<std::vector<std::string>> label_lines;  // each text, wrapped
};

// Wraps each text to the label column, keeping at most as many lines as fit in a row; a
// text cut short ends with "...".
std::vector<std::vector<std::string>> wrap_labels(Canvas& scratch, const std::vector<std::string>& texts,
                                                  double width, double cell) {
  const size_t max_lines = std::max<size_t>(1, static_cast<size_t>((cell - 4) / kLabelLine));
  std::vector<std::vector<std::string>> wrapped;
  for (const std::string& text : texts) {
    std::vector<std::string> lines = scratch.wrap_text(text, width);
    if (lines.size() > max_lines) {
      lines.resize(max_lines);
      lines.back() += "...";
    }
    wrapped.push_back(lines);
  }
  return wrapped;
}

Layout plan_layout(const std::vector<std::string>& texts, size_t image_count, const std::string& title,
                   const std::string& subtitle, const HeatmapOptions& options) {
  Canvas scratch(1, 1);
  Layout layout;
  layout.cell = options.cell_size;

  scratch.set_font(kLabelFont);
  for (const std::string& text : texts) layout.label_width = std::max(layout.label_width, scratch.text_width(text));
  layout.label_width = std::min(layout.label_width, kMaxLabelWidth);
  layout.label_lines = wrap_labels(scratch, texts, layout.label_width, layout.cell);

  // Title and subtitle, the "images" axis title, then a thumbnail and its label per column.
  layout.grid_top = 76 + kAxisTitle + layout.cell + 18;
  layout.grid_left = kMargin + kAxisTitle + layout.label_width + 10;
  const double grid_right = layout.grid_left + layout.cell * image_count;
  layout.bar_left = grid_right + 24;
  const double bar_labels = 40, bar_name = 22;
  double width = layout.bar_left + 16 + 8 + bar_labels + bar_name + kMargin;

  scratch.set_font(18, true);
  width = std::max(width, kMargin * 2 + scratch.text_width(title));
  scratch.set_font(12);
  width = std::max(width, kMargin * 2 + scratch.text_width(subtitle));
  layout.width = static_cast<int>(std::ceil(width));
  layout.height = static_cast<int>(std::ceil(layout.grid_top + layout.cell * texts.size() + kMargin));
  return layout;
}

// Draws an RGB image scaled to fit a `size` square centred at (cx, cy).
void draw_thumbnail(cairo_t* cr, const vision::Image& image, double cx, double cy, double size) {
  if (image.width <= 0 || image.height <= 0) return;
  cairo_surface_t* surface =
      cairo_image_surface_create(CAIRO_FORMAT_RGB24, static_cast<int>(image.width), static_cast<int>(image.height));
  cairo_surface_flush(surface);
  unsigned char* data = cairo_image_surface_get_data(surface);
  const int stride = cairo_image_surface_get_stride(surface);
  for (int64_t y = 0; y < image.height; ++y) {
    auto* row = reinterpret_cast<uint32_t*>(data + y * stride);
    for (int64_t x = 0; x < image.width; ++x) {
      const uint8_t* p = &image.rgb[(y * image.width + x) * 3];
      row[x] = (uint32_t{p[0]} << 16) | (uint32_t{p[1]} << 8) | uint32_t{p[2]};
    }
  }
  cairo_surface_mark_dirty(surface);

  // Shrinking averages pixels; enlarging a tiny image keeps its pixels square and sharp.
  const double scale = size / static_cast<double>(std::max(image.width, image.height));
  cairo_save(cr);
  cairo_translate(cr, cx - image.width * scale / 2, cy - image.height * scale / 2);
  cairo_scale(cr, scale, scale);
  cairo_set_source_surface(cr, surface, 0, 0);
  cairo_pattern_set_filter(cairo_get_source(cr), scale >= 2 ? CAIRO_FILTER_NEAREST : CAIRO_FILTER_GOOD);
  cairo_rectangle(cr, 0, 0, static_cast<double>(image.width), static_cast<double>(image.height));
  cairo_fill(cr);
  cairo_restore(cr);
  cairo_surface_destroy(surface);
}

void draw_columns(Canvas& canvas, const Layout& layout, const std::vector<vision::Image>& images,
                  const std::vector<std::string>& labels, size_t image_count) {
  const double grid_width = layout.cell * image_count;
  canvas.set_font(13, true);
  canvas.set_colour(palette::kText);
  canvas.draw_text("images (columns)", layout.grid_left + grid_width / 2, 76 + kAxisTitle / 2, HAlign::Center,
                   VAlign::Middle);

  const double thumb_top = 76 + kAxisTitle;
  canvas.set_font(10);
  for (size_t i = 0; i < image_count; ++i) {
    const double cx = layout.grid_left + layout.cell * (i + 0.5);
    if (!images.empty()) draw_thumbnail(canvas.cr(), images[i], cx, thumb_top + layout.cell / 2, layout.cell - 6);
    std::string label = labels.empty() ? "image " + std::to_string(i + 1) : labels[i];
    while (label.size() > 1 && canvas.text_width(label) > layout.cell - 2) label.pop_back();
    canvas.set_colour(palette::kMutedText);
    canvas.draw_text(label, cx, thumb_top + layout.cell + 3, HAlign::Center, VAlign::Top);
  }
}

void draw_rows(Canvas& canvas, const Layout& layout, size_t text_count) {
  const double grid_height = layout.cell * text_count;
  canvas.set_font(13, true);
  canvas.set_colour(palette::kText);
  canvas.draw_text("texts (rows)", kMargin + kAxisTitle / 2, layout.grid_top + grid_height / 2, HAlign::Center,
                   VAlign::Middle, -M_PI / 2);

  canvas.set_font(kLabelFont);
  for (size_t j = 0; j < text_count; ++j) {
    const auto& lines = layout.label_lines[j];
    const double cy = layout.grid_top + layout.cell * (j + 0.5);
    double y = cy - kLabelLine * (lines.size() - 1) / 2.0;
    for (const std::string& line : lines) {
      canvas.draw_text(line, layout.grid_left - 10, y, HAlign::Right, VAlign::Middle);
      y += kLabelLine;
    }
  }
}

// The value range the colours span: [0, 1] for probabilities, else the data's own range.
std::pair<double, double> value_range(const torch::Tensor& values) {
  const double low = values.min().item<double>();
  const double high = values.max().item<double>();
  if (low >= 0 && high <= 1) return {0.0, 1.0};
  return {low, high > low ? high : low + 1};
}

void draw_cells(Canvas& canvas, const Layout& layout, const torch::Tensor& values, std::pair<double, double> range) {
  cairo_t* cr = canvas.cr();
  const int64_t image_count = values.size(0), text_count = values.size(1);
  auto accessor = values.accessor<float, 2>();
  canvas.set_font(std::max(9.0, layout.cell * 0.22));

  for (int64_t i = 0; i < image_count; ++i) {
    for (int64_t j = 0; j < text_count; ++j) {
      const double value = accessor[i][j];
      const Rgb colour = viridis((value - range.first) / (range.second - range.first));
      const double x = layout.grid_left + layout.cell * i, y = layout.grid_top + layout.cell * j;
      canvas.set_colour(colour);
      cairo_rectangle(cr, x, y, layout.cell, layout.cell);
      cairo_fill(cr);

      // Dark text on the light end of the colour map, white on the dark end.
      char text[32];
      std::snprintf(text, sizeof text, "%.2f", value);
      if (luminance(colour) > 0.35) cairo_set_source_rgb(cr, 0.05, 0.05, 0.05);
      else cairo_set_source_rgb(cr, 1, 1, 1);
      canvas.draw_text(text, x + layout.cell / 2, y + layout.cell / 2, HAlign::Center, VAlign::Middle);
    }
  }

  // Outline each column's largest value: the text the model picks for that image.
  canvas.set_colour(kOutline);
  cairo_set_line_width(cr, 3);
  for (int64_t i = 0; i < image_count; ++i) {
    const int64_t best = values[i].argmax().item<int64_t>();
    cairo_rectangle(cr, layout.grid_left + layout.cell * i + 1.5, layout.grid_top + layout.cell * best + 1.5,
                    layout.cell - 3, layout.cell - 3);
  }
  cairo_stroke(cr);
}

void draw_colour_bar(Canvas& canvas, const Layout& layout, size_t text_count, std::pair<double, double> range,
                     const std::string& value_name) {
  cairo_t* cr = canvas.cr();
  const double top = layout.grid_top, bottom = layout.grid_top + layout.cell * text_count;
  const double left = layout.bar_left, width = 16;

  // A vertical gradient built from the colour map's samples: low at the bottom.
  cairo_pattern_t* gradient = cairo_pattern_create_linear(0, bottom, 0, top);
  for (int k = 0; k <= 20; ++k) {
    const Rgb colour = viridis(k / 20.0);
    cairo_pattern_add_color_stop_rgb(gradient, k / 20.0, colour.r, colour.g, colour.b);
  }
  cairo_rectangle(cr, left, top, width, bottom - top);
  cairo_set_source(cr, gradient);
  cairo_fill(cr);
  cairo_pattern_destroy(gradient);

  canvas.set_colour(palette::kAxis);
  cairo_set_line_width(cr, 1);
  cairo_rectangle(cr, left + 0.5, top + 0.5, width - 1, bottom - top - 1);
  cairo_stroke(cr);

  const std::vector<double> ticks = nice_ticks(range.first, range.second, 5);
  const double spacing = ticks.size() > 1 ? ticks[1] - ticks[0] : 1;
  canvas.set_font(11);
  for (double tick : ticks) {
    const double y = bottom - (tick - range.first) / (range.second - range.first) * (bottom - top);
    canvas.set_colour(palette::kAxis);
    cairo_move_to(cr, left + width, std::round(y) + 0.5);
    cairo_line_to(cr, left + width + 4, std::round(y) + 0.5);
    cairo_stroke(cr);
    canvas.set_colour(palette::kText);
    canvas.draw_text(format_tick(tick, spacing), left + width + 7, y, HAlign::Left, VAlign::Middle);
  }
  canvas.set_font(12);
  canvas.draw_text(value_name, left + width + 58, (top + bottom) / 2, HAlign::Center, VAlign::Middle, -M_PI / 2);
}

}  // namespace

void write_similarity_heatmap_png(const torch::Tensor& probs, const std::vector<std::string>& texts,
                                  const std::vector<vision::Image>& images, const std::string& title,
                                  const std::filesystem::path& png, const HeatmapOptions& options) {
  // Check that every list matches the matrix before drawing anything.
  if (probs.dim() != 2 || probs.size(0) == 0 || probs.size(1) == 0) {
    throw Error("heatmap for " + png.string() + ": expected a non-empty [images, texts] matrix, got shape " +
                c10::str(probs.sizes()));
  }
  const auto image_count = static_cast<size_t>(probs.size(0));
  if (texts.size() != static_cast<size_t>(probs.size(1))) {
    throw Error("heatmap for " + png.string() + ": " + std::to_string(texts.size()) + " texts for a matrix with " +
                std::to_string(probs.size(1)) + " text columns");
  }
  if (!images.empty() && images.size() != image_count) {
    throw Error("heatmap for " + png.string() + ": " + std::to_string(images.size()) + " thumbnails for " +
                std::to_string(image_count) + " images; pass one per image or none");
  }
  if (!options.image_labels.empty() && options.image_labels.size() != image_count) {
    throw Error("heatmap for " + png.string() + ": " + std::to_string(options.image_labels.size()) +
                " image labels for " + std::to_string(image_count) + " images; pass one per image or none");
  }
  if (options.cell_size < 24) {
    throw Error("heatmap cell_size " + std::to_string(options.cell_size) + " is too small to hold a value; use 24 or more");
  }
  const torch::Tensor values = probs.detach().to(torch::kCPU, torch::kFloat).contiguous();
  if (!torch::isfinite(values).all().item<bool>()) {
    throw Error("heatmap for " + png.string() + ": the matrix contains NaN or infinite values");
  }

  const std::string subtitle = !options.subtitle.empty()
                                   ? options.subtitle
                                   : "Columns are images, rows are texts; the outlined cell is the highest value in "
                                     "each image's column.";
  const Layout layout = plan_layout(texts, image_count, title, subtitle, options);
  Canvas canvas(layout.width, layout.height);

  canvas.set_font(18, true);
  canvas.set_colour(palette::kText);
  canvas.draw_text(title, kMargin, 36, HAlign::Left, VAlign::Baseline);
  canvas.set_font(12);
  canvas.set_colour(palette::kMutedText);
  canvas.draw_text(subtitle, kMargin, 58, HAlign::Left, VAlign::Baseline);

  const auto range = value_range(values);
  draw_columns(canvas, layout, images, options.image_labels, image_count);
  draw_rows(canvas, layout, texts.size());
  draw_cells(canvas, layout, values, range);
  draw_colour_bar(canvas, layout, texts.size(), range, options.value_name);
  canvas.write_png(png);
}

}  // namespace dualclip::report
