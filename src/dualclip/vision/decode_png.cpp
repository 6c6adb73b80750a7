// PNG through libpng, converted as Pillow 9.4's convert("RGB") converts its PNG modes:
// grayscale replicated (1-, 2- and 4-bit values scaled to 0..255), alpha dropped without
// compositing, palette indices mapped through PLTE with tRNS ignored, no gamma correction.
// 16-bit samples keep their high byte. For RGB and RGBA that is what Pillow does; for 16-bit
// grayscale Pillow opens mode "I" and clips values above 255 when converting, which turns
// almost every pixel white, so dualclip deliberately keeps the high byte there too.
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <vector>

#include <png.h>

#include "dualclip/core/error.h"
#include "dualclip/vision/codecs.h"

namespace dualclip::vision::detail {
namespace {

struct ReadState {
  const std::string* bytes;
  size_t offset;
  char message[256];
};

void read_bytes(png_structp png, png_bytep out, png_size_t length) {
  auto* state = static_cast<ReadState*>(png_get_io_ptr(png));
  if (state->offset + length > state->bytes->size()) png_error(png, "the PNG data ends early (truncated file)");
  std::memcpy(out, state->bytes->data() + state->offset, length);
  state->offset += length;
}

[[noreturn]] void on_error(png_structp png, png_const_charp message) {
  auto* state = static_cast<ReadState*>(png_get_error_ptr(png));
  std::snprintf(state->message, sizeof(state->message), "%s", message);
  png_longjmp(png, 1);
}

void on_warning(png_structp, png_const_charp) {}

std::string read_exif(png_structp png, png_infop info) {
#ifdef PNG_eXIf_SUPPORTED
  png_bytep exif = nullptr;
  png_uint_32 length = 0;
  if (info != nullptr && png_get_eXIf_1(png, info, &length, &exif) != 0 && exif != nullptr) {
    return std::string(reinterpret_cast<const char*>(exif), length);
  }
#endif
  return {};
}

}  // namespace

DecodedImage decode_png(const std::string& bytes, const DecodeOptions& options) {
  // Everything that outlives a longjmp is declared before setjmp.
  DecodedImage decoded;
  std::vector<uint8_t> samples;
  std::vector<png_bytep> rows;
  std::string limit_message;
  ReadState state{&bytes, 0, {0}};
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &state, on_error, on_warning);
  if (png == nullptr) throw Error("libpng could not allocate a reader");
  png_infop info = png_create_info_struct(png);
  png_infop end_info = png_create_info_struct(png);

  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, &end_info);
    if (!limit_message.empty()) throw Error(limit_message);
    throw Error(std::string("invalid PNG data: ") + state.message);
  }
  png_set_read_fn(png, &state, read_bytes);
  png_read_info(png, info);

  const png_uint_32 width = png_get_image_width(png, info);
  const png_uint_32 height = png_get_image_height(png, info);
  const int bit_depth = png_get_bit_depth(png, info);
  const int color_type = png_get_color_type(png, info);
  limit_message = pixel_limit_problem(width, height, options.max_pixels);
  if (!limit_message.empty()) png_longjmp(png, 1);

  // Transforms to one byte per sample: gray, gray+alpha, palette index, RGB or RGBA in.
  if (bit_depth == 16) png_set_strip_16(png);
  if (bit_depth < 8) png_set_packing(png);
  if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  if (color_type & PNG_COLOR_MASK_ALPHA) png_set_strip_alpha(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);

  const size_t row_bytes = png_get_rowbytes(png, info);
  const int channels = png_get_channels(png, info);
  samples.resize(row_bytes * height);
  rows.resize(height);
  for (png_uint_32 y = 0; y < height; ++y) rows[y] = samples.data() + y * row_bytes;
  png_read_image(png, rows.data());
  png_read_end(png, end_info);

  // Expand to RGB.
  decoded.image.width = width;
  decoded.image.height = height;
  decoded.image.rgb.resize(static_cast<size_t>(width) * height * 3);
  uint8_t* out = decoded.image.rgb.data();
  if (color_type == PNG_COLOR_TYPE_PALETTE) {
    png_colorp palette = nullptr;
    int palette_size = 0;
    png_get_PLTE(png, info, &palette, &palette_size);
    // NOTE: an index past the end of PLTE (an invalid file libpng lets through) becomes black;
    // Pillow's result for such files was not checked.
    uint8_t lookup[256][3] = {};
    for (int i = 0; i < palette_size && i < 256; ++i) {
      lookup[i][0] = palette[i].red;
      lookup[i][1] = palette[i].green;
      lookup[i][2] = palette[i].blue;
    }
    for (png_uint_32 y = 0; y < height; ++y) {
      for (png_uint_32 x = 0; x < width; ++x, out += 3) std::memcpy(out, lookup[rows[y][x]], 3);
    }
  } else if (channels == 1) {
    for (size_t i = 0; i < samples.size(); ++i, out += 3) out[0] = out[1] = out[2] = samples[i];
  } else {
    std::memcpy(out, samples.data(), samples.size());
  }

  decoded.exif = read_exif(png, info);
  if (decoded.exif.empty()) decoded.exif = read_exif(png, end_info);
  png_destroy_read_struct(&png, &info, &end_info);
  return decoded;
}

}  // namespace dualclip::vision::detail
