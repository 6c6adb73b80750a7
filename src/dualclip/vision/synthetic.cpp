#include "dualclip/vision/synthetic.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include <jpeglib.h>

#include "dualclip/core/error.h"

namespace dualclip::vision {

Image make_synthetic_photo(int64_t width, int64_t height, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  Image image;
  image.width = width;
  image.height = height;
  image.rgb.resize(width * height * 3);

  // Background: a different diagonal gradient per channel.
  double start[3];
  double slope_x[3];
  double slope_y[3];
  for (int c = 0; c < 3; ++c) {
    start[c] = 40 + 120 * unit(rng);
    slope_x[c] = (unit(rng) - 0.5) * 160 / width;
    slope_y[c] = (unit(rng) - 0.5) * 160 / height;
  }
  std::vector<double> canvas(width * height * 3);
  for (int64_t y = 0; y < height; ++y) {
    for (int64_t x = 0; x < width; ++x) {
      for (int c = 0; c < 3; ++c) canvas[(y * width + x) * 3 + c] = start[c] + slope_x[c] * x + slope_y[c] * y;
    }
  }

  // Shapes: soft-edged discs and hard-edged rectangles in random colours.
  for (int shape = 0; shape < 12; ++shape) {
    const double cx = unit(rng) * width;
    const double cy = unit(rng) * height;
    const double size = (0.05 + 0.2 * unit(rng)) * std::min(width, height);
    const double colour[3] = {255 * unit(rng), 255 * unit(rng), 255 * unit(rng)};
    const bool disc = shape % 2 == 0;
    const int64_t x0 = std::max<int64_t>(0, static_cast<int64_t>(cx - size));
    const int64_t x1 = std::min<int64_t>(width, static_cast<int64_t>(cx + size) + 1);
    const int64_t y0 = std::max<int64_t>(0, static_cast<int64_t>(cy - size));
    const int64_t y1 = std::min<int64_t>(height, static_cast<int64_t>(cy + size) + 1);
    for (int64_t y = y0; y < y1; ++y) {
      for (int64_t x = x0; x < x1; ++x) {
        double cover = 1.0;
        if (disc) cover = std::clamp(size - std::hypot(x - cx, y - cy), 0.0, 1.0);
        for (int c = 0; c < 3; ++c) {
          double& v = canvas[(y * width + x) * 3 + c];
          v = v * (1 - cover) + colour[c] * cover;
        }
      }
    }
  }

  // Sensor-like noise, then quantise.
  std::normal_distribution<double> noise(0.0, 6.0);
  for (size_t i = 0; i < canvas.size(); ++i) {
    image.rgb[i] = static_cast<uint8_t>(std::clamp(std::lround(canvas[i] + noise(rng)), 0L, 255L));
  }
  return image;
}

std::string encode_jpeg(const Image& image, int quality, bool subsample_chroma) {
  jpeg_compress_struct cinfo;
  jpeg_error_mgr errors;
  cinfo.err = jpeg_std_error(&errors);  // encoding our own buffers cannot hit a data error
  jpeg_create_compress(&cinfo);

  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&cinfo, &buffer, &size);
  cinfo.image_width = static_cast<JDIMENSION>(image.width);
  cinfo.image_height = static_cast<JDIMENSION>(image.height);
  cinfo.input_components = 3;
  cinfo.in_color_space = JCS_RGB;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, quality, TRUE);
  if (!subsample_chroma) {
    cinfo.comp_info[0].h_samp_factor = 1;
    cinfo.comp_info[0].v_samp_factor = 1;
  }
  jpeg_start_compress(&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = const_cast<uint8_t*>(image.rgb.data() + cinfo.next_scanline * image.width * 3);
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  std::string bytes(reinterpret_cast<const char*>(buffer), size);
  jpeg_destroy_compress(&cinfo);
  std::free(buffer);
  return bytes;
}

}  // namespace dualclip::vision
