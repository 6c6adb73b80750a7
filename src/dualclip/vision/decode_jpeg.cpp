// JPEG through the libjpeg API (libjpeg-turbo), set up as Pillow 9.4's decoder sets it up:
// the accurate integer IDCT (JDCT_ISLOW), fancy upsampling, RGB output for one- and
// three-component files, and CMYK output for four-component files (Adobe CMYK and YCCK),
// which Pillow reads as inverted ("CMYK;I") and then converts to RGB. A caller that reads
// only some columns (DecodeOptions::needed_columns) gets just those decoded, with equal pixels.
#include <algorithm>
#include <csetjmp>
#include <cstdio>
#include <vector>

#include <jpeglib.h>
#include <jerror.h>

#include "dualclip/core/error.h"
#include "dualclip/vision/codecs.h"

namespace dualclip::vision::detail {
namespace {

struct ErrorManager {
  jpeg_error_mgr base;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
  bool truncated;
};

[[noreturn]] void on_error(j_common_ptr cinfo) {
  auto* manager = reinterpret_cast<ErrorManager*>(cinfo->err);
  cinfo->err->format_message(cinfo, manager->message);
  std::longjmp(manager->jump, 1);
}

// libjpeg only warns when the data ends early (it pads the image with grey); Pillow raises
// "image file is truncated" there, so the warning becomes an error after decoding.
void on_message(j_common_ptr cinfo, int level) {
  auto* manager = reinterpret_cast<ErrorManager*>(cinfo->err);
  if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF) manager->truncated = true;
}

// Pillow's CMYK -> RGB: with nk = 255 - k, each channel is nk - round(c * nk / 255).
uint8_t cmyk_channel_to_rgb(int c, int nk) {
  const int t = c * nk + 128;
  const int v = nk - (((t >> 8) + t) >> 8);
  return static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
}

// The smallest DCT scale M/8 that keeps the shorter side at least `min_shorter_side` long.
int choose_scale_numerator(int64_t shorter_side, int64_t min_shorter_side) {
  for (int m = 1; m < 8; ++m) {
    if ((shorter_side * m + 7) / 8 >= min_shorter_side) return m;
  }
  return 8;
}

// Columns decoded beyond the needed ones on each side. Fancy upsampling treats the edge of a
// cropped region as the image edge, which changes the pixels next to it, so the margin keeps
// them away from the needed ones (VisionCropDecode.MatchesFullDecode checks the equality).
constexpr int64_t kCropMargin = 16;

// The first EXIF segment (APP1 "Exif\0\0"), as Pillow keeps it, or "".
std::string first_exif_segment(j_decompress_ptr cinfo) {
  for (jpeg_saved_marker_ptr marker = cinfo->marker_list; marker != nullptr; marker = marker->next) {
    const auto* data = reinterpret_cast<const char*>(marker->data);
    if (marker->marker == JPEG_APP0 + 1 && marker->data_length >= 6 && std::string(data, 6) == std::string("Exif\0\0", 6)) {
      return std::string(data, marker->data_length);
    }
  }
  return {};
}

}  // namespace

DecodedImage decode_jpeg(const std::string& bytes, const DecodeOptions& options) {
  // Everything that outlives a longjmp is declared before setjmp.
  DecodedImage decoded;
  std::vector<uint8_t> cmyk;
  std::string limit_message;
  jpeg_decompress_struct cinfo;
  ErrorManager errors;
  cinfo.err = jpeg_std_error(&errors.base);
  errors.base.error_exit = on_error;
  errors.base.emit_message = on_message;
  errors.truncated = false;

  if (setjmp(errors.jump)) {
    jpeg_destroy_decompress(&cinfo);
    throw Error(std::string("invalid JPEG data: ") + errors.message);
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
  jpeg_save_markers(&cinfo, JPEG_APP0 + 1, 0xFFFF);
  jpeg_read_header(&cinfo, TRUE);

  const bool is_cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
  cinfo.out_color_space = is_cmyk ? JCS_CMYK : JCS_RGB;
  if (options.min_shorter_side > 0) {
    // Fast path: shrink in the IDCT and use the faster, less accurate integer IDCT.
    const int64_t shorter = std::min<int64_t>(cinfo.image_width, cinfo.image_height);
    cinfo.scale_num = choose_scale_numerator(shorter, options.min_shorter_side);
    cinfo.scale_denom = 8;
    cinfo.dct_method = JDCT_IFAST;
  }

  // The limit applies to the stored size, also when the fast path decodes a smaller one.
  limit_message = pixel_limit_problem(cinfo.image_width, cinfo.image_height, options.max_pixels);
  if (!limit_message.empty()) {
    jpeg_destroy_decompress(&cinfo);
    throw Error(limit_message);
  }

  decoded.exif = first_exif_segment(&cinfo);
  jpeg_start_decompress(&cinfo);
  const int64_t width = cinfo.output_width;
  const int64_t height = cinfo.output_height;
  const int components = cinfo.output_components;
  decoded.image.width = width;
  decoded.image.height = height;
  decoded.image.rgb.resize(width * height * 3);
  if (is_cmyk) cmyk.resize(width * 4);

  // Decode only the columns the caller reads, plus a margin; libjpeg widens the range to whole
  // blocks. The entropy decoding still covers every block, but the IDCT, upsampling and colour
  // conversion of the other columns are skipped.
  JDIMENSION crop_left = 0;
  JDIMENSION crop_width = static_cast<JDIMENSION>(width);
  const bool keeps_columns = !options.apply_exif_orientation || exif_orientation(decoded.exif) == 1;
  if (options.needed_columns && keeps_columns && !is_cmyk) {
    const auto [first, last] = options.needed_columns(width, height);
    const int64_t left = std::max<int64_t>(0, first - kCropMargin);
    const int64_t right = std::min<int64_t>(width, last + kCropMargin);
    if (left < right && right - left < width) {
      crop_left = static_cast<JDIMENSION>(left);
      crop_width = static_cast<JDIMENSION>(right - left);
      jpeg_crop_scanline(&cinfo, &crop_left, &crop_width);
    }
  }

  while (cinfo.output_scanline < cinfo.output_height) {
    const int64_t y = cinfo.output_scanline;
    uint8_t* rgb_row = decoded.image.rgb.data() + (y * width + crop_left) * 3;
    JSAMPROW row = is_cmyk ? cmyk.data() : rgb_row;
    jpeg_read_scanlines(&cinfo, &row, 1);
    if (!is_cmyk) continue;
    for (int64_t x = 0; x < width; ++x) {
      // Adobe writes CMYK inverted; Pillow un-inverts it before converting.
      const uint8_t* p = cmyk.data() + x * components;
      const int nk = 255 - static_cast<uint8_t>(~p[3]);
      for (int c = 0; c < 3; ++c) rgb_row[x * 3 + c] = cmyk_channel_to_rgb(static_cast<uint8_t>(~p[c]), nk);
    }
  }

  jpeg_finish_decompress(&cinfo);
  const bool truncated = errors.truncated;
  jpeg_destroy_decompress(&cinfo);
  if (truncated) {
    throw Error("the JPEG data ends early (truncated file); re-create or re-download the file");
  }
  return decoded;
}

}  // namespace dualclip::vision::detail
