// One scene of the synthetic shapes dataset: a main object (a coloured shape of some size at
// some position) and sometimes a smaller second object, on a light or dark background with
// noise. Its captions vary in wording and always name the main object's colour and shape.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "dualclip/vision/image.h"

namespace dualclip::data {

// The names that captions and class labels use, in class order: class = colour * 4 + shape.
const std::vector<std::string>& shape_names();   // circle, square, triangle, star
const std::vector<std::string>& colour_names();  // red, green, blue, yellow, purple, orange
int shapes_class_count();                        // 24
// "red circle", "red square", ..., "orange star".
std::string shapes_class_name(int class_id);

struct ShapesScene {
  vision::Image image;
  std::vector<std::string> captions;
  int class_id = 0;  // of the main object
  bool has_second_object = false;
};

// Draws scene number `scene_seed` of class `class_id` as an `image_size` square. The same
// arguments give the same pixels and captions. `plain_caption_fraction` is the share of captions
// that name the main object alone (see write_scene_captions).
ShapesScene make_shapes_scene(uint64_t scene_seed, int class_id, int image_size, int captions_per_image,
                              double second_object_fraction, double plain_caption_fraction);

}  // namespace dualclip::data
