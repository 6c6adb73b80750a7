// Photo-like test images and a JPEG encoder, for benchmarks and tests that need realistic
// JPEG files without shipping any: smooth gradients, a few filled shapes and pixel noise.
#pragma once

#include <cstdint>
#include <string>

#include "dualclip/vision/image.h"

namespace dualclip::vision {

// A width x height image of gradients, discs, rectangles and noise; the same seed gives the
// same pixels.
Image make_synthetic_photo(int64_t width, int64_t height, uint64_t seed);

// Encodes RGB as baseline JPEG with libjpeg's default 4:2:0 chroma subsampling, or with
// full-resolution chroma (4:4:4) when `subsample_chroma` is false.
std::string encode_jpeg(const Image& image, int quality, bool subsample_chroma = true);

}  // namespace dualclip::vision
