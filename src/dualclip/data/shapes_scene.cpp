#include "dualclip/data/shapes_scene.h"

#include <algorithm>
#include <array>
#include <cmath>

#include <cairo.h>

#include "dualclip/data/seeded_random.h"
#include "dualclip/data/shapes_captions.h"

namespace dualclip::data {

namespace {

// Size of an object as a fraction of the image side (its bounding box, before rotation).
constexpr double kBigLow = 0.44, kBigHigh = 0.54;
constexpr double kSmallLow = 0.22, kSmallHigh = 0.30;
constexpr double kSecondLow = 0.14, kSecondHigh = 0.20;
constexpr double kEdgeMargin = 0.05;  // free border kept around every object

// A base colour per colour name (0-255), jittered per object so that no two reds are alike.
constexpr std::array<std::array<double, 3>, 6> kBaseColours = {{
    {205, 35, 35},   // red
    {40, 160, 60},   // green
    {35, 75, 215},   // blue
    {235, 205, 35},  // yellow
    {135, 55, 185},  // purple
    {240, 135, 25},  // orange
}};

struct SceneObject {
  int colour = 0;
  int shape = 0;
  double cx = 0, cy = 0, size = 0;  // fractions of the image side
  double angle = 0;                 // radians
  std::array<double, 3> fill{};     // 0-1
};

// The centre coordinate for grid index 0, 1 or 2 (left/top, centre, right/bottom): pushed
// towards that side as far as the object fits, with a little jitter inward.
double grid_centre(SeededRandom& random, int index, double size) {
  const double edge = kEdgeMargin + size / 2;
  if (index == 0) return edge + random.uniform(0, 0.05);
  if (index == 2) return 1 - edge - random.uniform(0, 0.05);
  return 0.5 + random.uniform(-0.04, 0.04);
}

std::array<double, 3> jittered_colour(SeededRandom& random, int colour) {
  std::array<double, 3> fill{};
  for (int c = 0; c < 3; ++c) fill[c] = std::clamp(kBaseColours[colour][c] + random.uniform(-16, 16), 0.0, 255.0) / 255;
  return fill;
}

// Squares, triangles and stars get a small random tilt; a circle's would not show.
double tilt(SeededRandom& random, int shape) { return shape == 0 ? 0 : random.uniform(-0.25, 0.25); }

// Places the second object where it does not touch the main one; false when no place is found.
bool place_second_object(SeededRandom& random, const SceneObject& main, SceneObject& second) {
  for (int attempt = 0; attempt < 30; ++attempt) {
    const double low = kEdgeMargin + second.size / 2, high = 1 - low;
    second.cx = random.uniform(low, high);
    second.cy = random.uniform(low, high);
    const double distance = std::hypot(second.cx - main.cx, second.cy - main.cy);
    if (distance > 0.62 * (main.size + second.size) + 0.03) return true;
  }
  return false;
}

void paint_background(cairo_t* cr, SeededRandom& random, int image_size, bool dark) {
  // Near-grey tones, so that no background is mistaken for an object colour.
  auto tone = [&] {
    const double grey = dark ? random.uniform(20, 75) : random.uniform(185, 240);
    std::array<double, 3> rgb{};
    for (double& c : rgb) c = std::clamp(grey + random.uniform(-12, 12), 0.0, 255.0) / 255;
    return rgb;
  };
  const auto first = tone();
  if (random.chance(0.5)) {
    cairo_set_source_rgb(cr, first[0], first[1], first[2]);
    cairo_paint(cr);
    return;
  }

  // A linear gradient between two tones of the same lightness family, in a random direction.
  const auto second = tone();
  const double angle = random.uniform(0, 2 * M_PI);
  const double half = image_size / 2.0;
  cairo_pattern_t* gradient = cairo_pattern_create_linear(half - half * std::cos(angle), half - half * std::sin(angle),
                                                          half + half * std::cos(angle), half + half * std::sin(angle));
  cairo_pattern_add_color_stop_rgb(gradient, 0, first[0], first[1], first[2]);
  cairo_pattern_add_color_stop_rgb(gradient, 1, second[0], second[1], second[2]);
  cairo_set_source(cr, gradient);
  cairo_paint(cr);
  cairo_pattern_destroy(gradient);
}

// Star and triangle outlines as polygons around the origin with circumradius `radius`.
void polygon_path(cairo_t* cr, int corners, double radius, double inner_ratio) {
  const int points = inner_ratio > 0 ? corners * 2 : corners;
  for (int k = 0; k < points; ++k) {
    const double r = (inner_ratio > 0 && k % 2 == 1) ? radius * inner_ratio : radius;
    const double a = -M_PI / 2 + 2 * M_PI * k / points;
    if (k == 0) cairo_move_to(cr, r * std::cos(a), r * std::sin(a));
    else cairo_line_to(cr, r * std::cos(a), r * std::sin(a));
  }
  cairo_close_path(cr);
}

void draw_object(cairo_t* cr, const SceneObject& object, int image_size) {
  const double s = object.size * image_size;
  cairo_save(cr);
  cairo_translate(cr, object.cx * image_size, object.cy * image_size);
  cairo_rotate(cr, object.angle);

  // Each shape's extent is scaled so the four look about equally large at one size.
  // The triangle moves down by a quarter of its circumradius so that its box is centred.
  if (object.shape == 0) {
    cairo_arc(cr, 0, 0, s / 2, 0, 2 * M_PI);
  } else if (object.shape == 1) {
    cairo_rectangle(cr, -0.43 * s, -0.43 * s, 0.86 * s, 0.86 * s);
  } else if (object.shape == 2) {
    cairo_translate(cr, 0, 0.15 * s);
    polygon_path(cr, 3, 0.6 * s, 0);
  } else {
    polygon_path(cr, 5, 0.56 * s, 0.45);
  }
  cairo_set_source_rgb(cr, object.fill[0], object.fill[1], object.fill[2]);
  cairo_fill(cr);
  cairo_restore(cr);
}

// Copies the cairo surface into RGB bytes, adding Gaussian pixel noise of a per-image strength.
vision::Image surface_to_noisy_rgb(cairo_surface_t* surface, int image_size, SeededRandom& random) {
  cairo_surface_flush(surface);
  const unsigned char* data = cairo_image_surface_get_data(surface);
  const int stride = cairo_image_surface_get_stride(surface);
  const double sigma = random.uniform(2, 8);

  vision::Image image;
  image.width = image.height = image_size;
  image.rgb.resize(static_cast<size_t>(image_size) * image_size * 3);
  for (int y = 0; y < image_size; ++y) {
    const auto* row = reinterpret_cast<const uint32_t*>(data + y * stride);
    for (int x = 0; x < image_size; ++x) {
      const uint32_t pixel = row[x];
      const int channels[3] = {static_cast<int>((pixel >> 16) & 0xff), static_cast<int>((pixel >> 8) & 0xff),
                               static_cast<int>(pixel & 0xff)};
      for (int c = 0; c < 3; ++c) {
        const double noisy = channels[c] + sigma * random.normal();
        image.rgb[(static_cast<size_t>(y) * image_size + x) * 3 + c] =
            static_cast<uint8_t>(std::clamp(std::lround(noisy), 0L, 255L));
      }
    }
  }
  return image;
}

}  // namespace

const std::vector<std::string>& shape_names() {
  static const std::vector<std::string> names = {"circle", "square", "triangle", "star"};
  return names;
}

const std::vector<std::string>& colour_names() {
  static const std::vector<std::string> names = {"red", "green", "blue", "yellow", "purple", "orange"};
  return names;
}

int shapes_class_count() { return static_cast<int>(colour_names().size() * shape_names().size()); }

std::string shapes_class_name(int class_id) {
  const int shapes = static_cast<int>(shape_names().size());
  return colour_names()[class_id / shapes] + " " + shape_names()[class_id % shapes];
}

ShapesScene make_shapes_scene(uint64_t scene_seed, int class_id, int image_size, int captions_per_image,
                              double second_object_fraction, double plain_caption_fraction) {
  SeededRandom random(scene_seed);
  const int shapes = static_cast<int>(shape_names().size());

  // The main object: its class is given, size and grid position are drawn.
  CaptionFacts facts;
  facts.colour = class_id / shapes;
  facts.shape = class_id % shapes;
  facts.big = random.chance(0.5);
  facts.column = random.below(3);
  facts.row = random.below(3);
  facts.dark_background = random.chance(0.5);

  SceneObject main;
  main.colour = facts.colour;
  main.shape = facts.shape;
  main.size = facts.big ? random.uniform(kBigLow, kBigHigh) : random.uniform(kSmallLow, kSmallHigh);
  main.cx = grid_centre(random, facts.column, main.size);
  main.cy = grid_centre(random, facts.row, main.size);
  main.angle = tilt(random, main.shape);
  main.fill = jittered_colour(random, main.colour);

  // Sometimes a smaller object of another class, placed clear of the main one.
  SceneObject second;
  if (random.chance(second_object_fraction)) {
    do {
      second.colour = random.below(static_cast<int>(colour_names().size()));
      second.shape = random.below(shapes);
    } while (second.colour * shapes + second.shape == class_id);
    second.size = random.uniform(kSecondLow, kSecondHigh);
    second.angle = tilt(random, second.shape);
    second.fill = jittered_colour(random, second.colour);
    facts.has_second_object = place_second_object(random, main, second);
    facts.second_colour = second.colour;
    facts.second_shape = second.shape;
  }

  // Draw: background, objects (antialiased by cairo), then noise.
  cairo_surface_t* surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, image_size, image_size);
  cairo_t* cr = cairo_create(surface);
  paint_background(cr, random, image_size, facts.dark_background);
  draw_object(cr, main, image_size);
  if (facts.has_second_object) draw_object(cr, second, image_size);
  cairo_destroy(cr);

  ShapesScene scene;
  scene.image = surface_to_noisy_rgb(surface, image_size, random);
  cairo_surface_destroy(surface);
  scene.captions = write_scene_captions(random, facts, captions_per_image, plain_caption_fraction);
  scene.class_id = class_id;
  scene.has_second_object = facts.has_second_object;
  return scene;
}

}  // namespace dualclip::data
