// Decoding image files to 8-bit RGB, with the colour conversions Pillow's convert("RGB")
// applies (grayscale replicated, alpha dropped, palette mapped, CMYK converted).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace dualclip::vision {

struct Image {
  int64_t width = 0;
  int64_t height = 0;
  std::vector<uint8_t> rgb;  // height * width * 3, row-major HWC
};

struct DecodeOptions {
  // Rotate/flip by the EXIF orientation tag, as transformers.image_utils.load_image does.
  bool apply_exif_orientation = true;
  // Refuse images with more pixels than this (a guard against decompression bombs, as
  // Pillow's Image.MAX_IMAGE_PIXELS * 2).
  int64_t max_pixels = 178956970;
  // Fast path: a JPEG may be decoded at a reduced DCT scale (1/2, 1/4, 1/8) as long as its
  // shorter side stays at least this long. 0 decodes at full size.
  int64_t min_shorter_side = 0;
  // The columns [first, second) that the caller will read, given the decoded width and height
  // (after DCT scaling). A JPEG decoder then decodes only those columns and a margin around
  // them, and leaves the other columns zero. Unset: every column is decoded. Not used when an
  // EXIF orientation other than 1 is to be applied, because that moves the columns.
  std::function<std::pair<int64_t, int64_t>(int64_t width, int64_t height)> needed_columns;
};

// Decodes `path`; throws dualclip::Error naming the file for a missing, empty, truncated,
// oversized or unsupported file.
Image decode_image_file(const std::filesystem::path& path, const DecodeOptions& options = {});

}  // namespace dualclip::vision
