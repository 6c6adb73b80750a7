// Encoding 8-bit RGB pixels as baseline JPEG with libjpeg.
#pragma once

#include <string>

#include "dualclip/vision/image.h"

namespace dualclip::data {

// Returns the JPEG file bytes of `image` at `quality` (1-100). Chroma is stored at full
// resolution (4:4:4) because the images this is used for are tiny and their colours carry
// the labels. Throws dualclip::Error when libjpeg reports an error.
std::string encode_jpeg(const vision::Image& image, int quality);

}  // namespace dualclip::data
