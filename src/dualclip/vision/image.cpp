// decode_image_file: reads the file, picks the decoder by the file's signature (not its
// extension), applies the EXIF orientation and puts the path into every error.
#include "dualclip/vision/image.h"

#include <cstring>

#include "dualclip/core/error.h"
#include "dualclip/core/fs.h"
#include "dualclip/vision/codecs.h"

namespace dualclip::vision {
namespace detail {

std::string pixel_limit_problem(int64_t width, int64_t height, int64_t max_pixels) {
  if (width <= 0 || height <= 0) {
    return "the image header gives an invalid size " + std::to_string(width) + "x" + std::to_string(height);
  }
  if (max_pixels > 0 && width > max_pixels / height) {
    return "the image is " + std::to_string(width) + "x" + std::to_string(height) + " = " +
           std::to_string(width * height) + " pixels, over the limit of " + std::to_string(max_pixels) +
           " (a guard against decompression bombs); shrink the image or raise max_pixels";
  }
  return {};
}

}  // namespace detail

namespace {

enum class Format { Jpeg, Png, Gif, WebP, Unknown };

Format sniff_format(const std::string& bytes) {
  auto starts_with = [&](const char* magic, size_t length, size_t at = 0) {
    return bytes.size() >= at + length && std::memcmp(bytes.data() + at, magic, length) == 0;
  };
  if (starts_with("\xFF\xD8\xFF", 3)) return Format::Jpeg;
  if (starts_with("\x89PNG\r\n\x1A\n", 8)) return Format::Png;
  if (starts_with("GIF87a", 6) || starts_with("GIF89a", 6)) return Format::Gif;
  if (starts_with("RIFF", 4) && starts_with("WEBP", 4, 8)) return Format::WebP;
  return Format::Unknown;
}

detail::DecodedImage decode_bytes(const std::string& bytes, const DecodeOptions& options) {
  switch (sniff_format(bytes)) {
    case Format::Jpeg: return detail::decode_jpeg(bytes, options);
    case Format::Png: return detail::decode_png(bytes, options);
    case Format::Gif: return detail::decode_gif(bytes, options);
    case Format::WebP: return detail::decode_webp(bytes, options);
    case Format::Unknown: break;
  }
  throw Error("not a JPEG, PNG, GIF or WebP file (unrecognised signature in the first bytes)");
}

}  // namespace

Image decode_image_file(const std::filesystem::path& path, const DecodeOptions& options) {
  const std::string bytes = read_file(path);
  if (bytes.empty()) throw Error("cannot decode image " + path.string() + ": the file is empty (0 bytes)");

  detail::DecodedImage decoded;
  try {
    decoded = decode_bytes(bytes, options);
  } catch (const Error& e) {
    throw Error("cannot decode image " + path.string() + ": " + e.what());
  }

  if (!options.apply_exif_orientation || decoded.exif.empty()) return std::move(decoded.image);
  return detail::apply_orientation(decoded.image, detail::exif_orientation(decoded.exif));
}

}  // namespace dualclip::vision
