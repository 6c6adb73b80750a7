#include "dualclip/report/canvas.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "dualclip/core/error.h"
#include "dualclip/core/fs.h"

namespace dualclip::report {

Rgb viridis(double t) {
  // Eleven evenly spaced samples of matplotlib's viridis, from 0 to 1.
  static const std::array<Rgb, 11> samples = {{
      {0x44 / 255.0, 0x01 / 255.0, 0x54 / 255.0},
      {0x48 / 255.0, 0x24 / 255.0, 0x75 / 255.0},
      {0x41 / 255.0, 0x44 / 255.0, 0x87 / 255.0},
      {0x35 / 255.0, 0x5f / 255.0, 0x8d / 255.0},
      {0x2a / 255.0, 0x78 / 255.0, 0x8e / 255.0},
      {0x21 / 255.0, 0x91 / 255.0, 0x8c / 255.0},
      {0x22 / 255.0, 0xa8 / 255.0, 0x84 / 255.0},
      {0x44 / 255.0, 0xbf / 255.0, 0x70 / 255.0},
      {0x7a / 255.0, 0xd1 / 255.0, 0x51 / 255.0},
      {0xbd / 255.0, 0xdf / 255.0, 0x26 / 255.0},
      {0xfd / 255.0, 0xe7 / 255.0, 0x25 / 255.0},
  }};
  if (!std::isfinite(t)) t = 0;
  t = std::clamp(t, 0.0, 1.0) * (samples.size() - 1);
  const size_t i = std::min(static_cast<size_t>(t), samples.size() - 2);
  const double f = t - static_cast<double>(i);
  const Rgb& a = samples[i];
  const Rgb& b = samples[i + 1];
  return {a.r + f * (b.r - a.r), a.g + f * (b.g - a.g), a.b + f * (b.b - a.b)};
}

double luminance(const Rgb& colour) {
  auto linear = [](double c) { return c <= 0.04045 ? c / 12.92 : std::pow((c + 0.055) / 1.055, 2.4); };
  return 0.2126 * linear(colour.r) + 0.7152 * linear(colour.g) + 0.0722 * linear(colour.b);
}

Canvas::Canvas(int width, int height) : width_(width), height_(height) {
  surface_ = cairo_image_surface_create(CAIRO_FORMAT_RGB24, width, height);
  cr_ = cairo_create(surface_);
  cairo_set_source_rgb(cr_, 1, 1, 1);
  cairo_paint(cr_);

  // Grey-level antialiasing and hinted metrics keep small labels crisp in a PNG.
  cairo_font_options_t* options = cairo_font_options_create();
  cairo_font_options_set_antialias(options, CAIRO_ANTIALIAS_GRAY);
  cairo_font_options_set_hint_metrics(options, CAIRO_HINT_METRICS_ON);
  cairo_set_font_options(cr_, options);
  cairo_font_options_destroy(options);
}

Canvas::~Canvas() {
  cairo_destroy(cr_);
  cairo_surface_destroy(surface_);
}

void Canvas::set_colour(const Rgb& colour, double alpha) {
  cairo_set_source_rgba(cr_, colour.r, colour.g, colour.b, alpha);
}

void Canvas::set_font(double size, bool bold) {
  cairo_select_font_face(cr_, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL,
                         bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr_, size);
}

double Canvas::text_width(const std::string& text) {
  cairo_text_extents_t extents;
  cairo_text_extents(cr_, text.c_str(), &extents);
  return extents.x_advance;
}

void Canvas::draw_text(const std::string& text, double x, double y, HAlign halign, VAlign valign, double angle) {
  cairo_font_extents_t font;
  cairo_font_extents(cr_, &font);
  const double width = text_width(text);

  // Offsets from the anchor to the start of the baseline, in the text's own (rotated) frame.
  double dx = 0;
  if (halign == HAlign::Center) dx = -width / 2;
  if (halign == HAlign::Right) dx = -width;
  double dy = 0;
  if (valign == VAlign::Top) dy = font.ascent;
  if (valign == VAlign::Middle) dy = (font.ascent - font.descent) / 2;
  if (valign == VAlign::Bottom) dy = -font.descent;

  cairo_save(cr_);
  cairo_translate(cr_, x, y);
  cairo_rotate(cr_, angle);
  cairo_move_to(cr_, dx, dy);
  cairo_show_text(cr_, text.c_str());
  cairo_restore(cr_);
}

std::vector<std::string> Canvas::wrap_text(const std::string& text, double max_width) {
  std::istringstream words(text);
  std::vector<std::string> lines;
  std::string word, line;
  while (words >> word) {
    const std::string candidate = line.empty() ? word : line + " " + word;
    if (!line.empty() && text_width(candidate) > max_width) {
      lines.push_back(line);
      line = word;
    } else {
      line = candidate;
    }
  }
  if (!line.empty()) lines.push_back(line);
  return lines;
}

void Canvas::write_png(const std::filesystem::path& png) {
  cairo_surface_flush(surface_);
  write_atomic(png, [&](const std::filesystem::path& tmp) {
    const cairo_status_t status = cairo_surface_write_to_png(surface_, tmp.c_str());
    if (status != CAIRO_STATUS_SUCCESS) {
      throw Error("cannot write " + png.string() + ": " + cairo_status_to_string(status) +
                  "; check that the folder exists and is writable");
    }
  });
}

}  // namespace dualclip::report
