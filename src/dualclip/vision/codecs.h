// Internal to vision/: one decoder per file format, each turning the bytes of a whole file
// into 8-bit RGB as Pillow's convert("RGB") would, plus the EXIF block it carries (if any).
// Errors are thrown as dualclip::Error with a message that the caller prefixes with the path.
#pragma once

#include <cstdint>
#include <string>

#include "dualclip/vision/image.h"

namespace dualclip::vision::detail {

struct DecodedImage {
  Image image;
  std::string exif;  // the TIFF block of the EXIF data, with or without its "Exif\0\0" prefix
};

// The message for an image over the `max_pixels` limit, or "" when width * height fits.
std::string pixel_limit_problem(int64_t width, int64_t height, int64_t max_pixels);

DecodedImage decode_jpeg(const std::string& bytes, const DecodeOptions& options);
DecodedImage decode_png(const std::string& bytes, const DecodeOptions& options);
DecodedImage decode_gif(const std::string& bytes, const DecodeOptions& options);
DecodedImage decode_webp(const std::string& bytes, const DecodeOptions& options);

// The EXIF Orientation tag (1..8) of an EXIF block, or 1 when absent or unreadable.
int exif_orientation(const std::string& exif);

// Applies the transpose Pillow's ImageOps.exif_transpose picks for `orientation`.
Image apply_orientation(const Image& image, int orientation);

}  // namespace dualclip::vision::detail
