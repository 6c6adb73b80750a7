// Caption wording for the shapes dataset: what a scene contains in, and varied English
// descriptions of it out.
#pragma once

#include <string>
#include <vector>

#include "dualclip/data/seeded_random.h"

namespace dualclip::data {

// The facts of a scene that captions may mention.
struct CaptionFacts {
  int colour = 0;
  int shape = 0;
  bool big = false;
  int column = 1;  // 0 left, 1 centre, 2 right
  int row = 1;     // 0 top, 1 middle, 2 bottom
  bool dark_background = false;
  bool has_second_object = false;
  int second_colour = 0;
  int second_shape = 0;
};

// Returns `count` captions of a scene, distinct while the wordings allow. Each names the main
// object as "<colour> <shape>" (e.g. "red circle"), often with its size. A share `plain_fraction`
// of them names the object alone ("a picture of a big red circle"). The others add its position,
// the background or both. Some mention the second object after the main one.
std::vector<std::string> write_scene_captions(SeededRandom& random, const CaptionFacts& facts, int count,
                                              double plain_fraction);

}  // namespace dualclip::data
