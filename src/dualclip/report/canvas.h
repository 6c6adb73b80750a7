// A cairo drawing surface with the text, colour and PNG helpers that the report's pictures
// share. Internal to report/: the public headers stay free of cairo types.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <cairo.h>

namespace dualclip::report {

struct Rgb {
  double r = 0, g = 0, b = 0;  // each in [0, 1]
};

// Colours used across the pictures, so that the loss curve and the heatmap look like one set.
namespace palette {
constexpr Rgb kText{0.13, 0.13, 0.13};
constexpr Rgb kMutedText{0.38, 0.38, 0.38};
constexpr Rgb kGrid{0.88, 0.88, 0.88};
constexpr Rgb kAxis{0.25, 0.25, 0.25};
constexpr Rgb kTrain{0.12, 0.40, 0.70};
constexpr Rgb kEval{0.87, 0.40, 0.05};
}  // namespace palette

// Maps t in [0, 1] to a colour of the viridis colour map (dark purple to yellow), linearly
// interpolated between eleven samples of it. Values outside [0, 1] are clamped.
Rgb viridis(double t);

// Relative luminance (sRGB weights) of a colour, used to pick black or white text on it.
double luminance(const Rgb& colour);

enum class HAlign { Left, Center, Right };
enum class VAlign { Top, Middle, Baseline, Bottom };

class Canvas {
 public:
  // A white `width` x `height` pixel RGB surface.
  Canvas(int width, int height);
  ~Canvas();
  Canvas(const Canvas&) = delete;
  Canvas& operator=(const Canvas&) = delete;

  cairo_t* cr() { return cr_; }
  int width() const { return width_; }
  int height() const { return height_; }

  void set_colour(const Rgb& colour, double alpha = 1.0);
  // Selects DejaVu Sans (fontconfig falls back to another sans-serif when it is missing).
  void set_font(double size, bool bold = false);
  double text_width(const std::string& text);
  // Draws `text` anchored at (x, y), rotated by `angle` radians around the anchor.
  void draw_text(const std::string& text, double x, double y, HAlign halign, VAlign valign, double angle = 0);
  // Splits `text` at spaces into lines no wider than `max_width` in the current font; a
  // single word wider than that stays on a line of its own.
  std::vector<std::string> wrap_text(const std::string& text, double max_width);

  // Writes the surface as PNG through a temporary file and rename; throws dualclip::Error
  // naming `png` when cairo cannot write it.
  void write_png(const std::filesystem::path& png);

 private:
  int width_;
  int height_;
  cairo_surface_t* surface_;
  cairo_t* cr_;
};

}  // namespace dualclip::report
