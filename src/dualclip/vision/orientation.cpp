// The EXIF Orientation tag and the transposes Pillow's ImageOps.exif_transpose applies for it.
// Only IFD0 of the TIFF block is read (that is where Orientation lives); every offset is
// checked against the block, and anything unreadable counts as "no orientation".
#include <cstring>

#include "dualclip/vision/codecs.h"

namespace dualclip::vision::detail {
namespace {

constexpr uint16_t kOrientationTag = 0x0112;
constexpr uint16_t kTypeShort = 3;
constexpr uint16_t kTypeLong = 4;

struct TiffReader {
  const uint8_t* data;
  size_t size;
  bool little_endian;

  bool has(size_t offset, size_t length) const { return offset <= size && length <= size - offset; }
  uint16_t u16(size_t offset) const {
    const uint8_t* p = data + offset;
    return little_endian ? static_cast<uint16_t>(p[0] | p[1] << 8) : static_cast<uint16_t>(p[0] << 8 | p[1]);
  }
  uint32_t u32(size_t offset) const {
    const uint8_t* p = data + offset;
    return little_endian ? (uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24)
                         : (uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | uint32_t(p[3]));
  }
};

}  // namespace

int exif_orientation(const std::string& exif) {
  size_t start = 0;
  if (exif.size() >= 6 && std::memcmp(exif.data(), "Exif\0\0", 6) == 0) start = 6;
  TiffReader tiff{reinterpret_cast<const uint8_t*>(exif.data()) + start, exif.size() - start, true};
  if (!tiff.has(0, 8)) return 1;
  if (std::memcmp(tiff.data, "II*\0", 4) == 0) {
    tiff.little_endian = true;
  } else if (std::memcmp(tiff.data, "MM\0*", 4) == 0) {
    tiff.little_endian = false;
  } else {
    return 1;
  }

  const size_t ifd = tiff.u32(4);
  if (!tiff.has(ifd, 2)) return 1;
  const int entries = tiff.u16(ifd);
  for (int i = 0; i < entries; ++i) {
    const size_t entry = ifd + 2 + static_cast<size_t>(i) * 12;
    if (!tiff.has(entry, 12)) return 1;
    if (tiff.u16(entry) != kOrientationTag) continue;
    const uint16_t type = tiff.u16(entry + 2);
    uint32_t value = 0;
    if (type == kTypeShort) {
      value = tiff.u16(entry + 8);
    } else if (type == kTypeLong) {
      value = tiff.u32(entry + 8);
    } else {
      return 1;
    }
    return (value >= 1 && value <= 8) ? static_cast<int>(value) : 1;
  }
  return 1;
}

Image apply_orientation(const Image& image, int orientation) {
  if (orientation <= 1 || orientation > 8) return image;
  const int64_t h = image.height;
  const int64_t w = image.width;
  const bool swaps_sides = orientation >= 5;

  Image out;
  out.height = swaps_sides ? w : h;
  out.width = swaps_sides ? h : w;
  out.rgb.resize(image.rgb.size());
  for (int64_t y = 0; y < out.height; ++y) {
    for (int64_t x = 0; x < out.width; ++x) {
      // The source pixel (sy, sx) of output pixel (y, x) for each of Pillow's transposes.
      int64_t sy = y;
      int64_t sx = x;
      switch (orientation) {
        case 2: sx = w - 1 - x; break;                   // FLIP_LEFT_RIGHT
        case 3: sy = h - 1 - y; sx = w - 1 - x; break;   // ROTATE_180
        case 4: sy = h - 1 - y; break;                   // FLIP_TOP_BOTTOM
        case 5: sy = x; sx = y; break;                   // TRANSPOSE
        case 6: sy = h - 1 - x; sx = y; break;           // ROTATE_270 (90 degrees clockwise)
        case 7: sy = h - 1 - x; sx = w - 1 - y; break;   // TRANSVERSE
        case 8: sy = x; sx = w - 1 - y; break;           // ROTATE_90 (90 degrees counter-clockwise)
      }
      std::memcpy(&out.rgb[(y * out.width + x) * 3], &image.rgb[(sy * w + sx) * 3], 3);
    }
  }
  return out;
}

}  // namespace dualclip::vision::detail
