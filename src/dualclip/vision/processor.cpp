// The steps of CLIPImageProcessor.preprocess on an RGB image: resize, center crop, rescale,
// normalise, as float32 CHW. The exact path reproduces transformers 4.40 + Pillow 9.4 bit for
// bit; the fast path trades a small, measured drift (docs/images.md) for speed.
#include "dualclip/vision/processor.h"

#include <algorithm>

#include <torch/torch.h>

#include "dualclip/core/error.h"

namespace dualclip::vision {
namespace {

// The fast path shrinks by a whole factor (box average, or the JPEG decoder's DCT scaling)
// while the shorter side stays at least this many times the resize target.
constexpr int64_t kFastReduceGap = 1;

}  // namespace

void ImageProcessor::resized_size(int64_t height, int64_t width, int64_t* out_height, int64_t* out_width) const {
  if (!config_.do_resize) {
    *out_height = height;
    *out_width = width;
  } else if (config_.shortest_edge > 0) {
    shortest_edge_output_size(height, width, config_.shortest_edge, out_height, out_width);
  } else {
    *out_height = config_.resize_height;
    *out_width = config_.resize_width;
  }
}

CropWindow ImageProcessor::crop_window(int64_t height, int64_t width) const {
  if (!config_.do_center_crop) return CropWindow{0, 0, height, width};
  return center_crop_window(height, width, config_.crop_height, config_.crop_width);
}

int64_t ImageProcessor::fast_reduce_factor(int64_t height, int64_t width) const {
  int64_t out_height = 0;
  int64_t out_width = 0;
  resized_size(height, width, &out_height, &out_width);
  return std::min(height / out_height, width / out_width) / kFastReduceGap;
}

Image ImageProcessor::resize_and_crop(const Image& image) const {
  int64_t height = 0;
  int64_t width = 0;
  resized_size(image.height, image.width, &height, &width);
  const CropWindow window = crop_window(height, width);
  if (config_.do_resize) return resize_window(image, height, width, window, config_.resample);
  return crop(image, window);
}

torch::Tensor ImageProcessor::to_pixel_values(const Image& image) const {
  // Every uint8 value maps to one float per channel: rescale in float64 then cast to float32,
  // normalise in float32, exactly as the processor's numpy code does.
  float lookup[3][256];
  for (int c = 0; c < 3; ++c) {
    for (int v = 0; v < 256; ++v) {
      float x = config_.do_rescale ? static_cast<float>(v * config_.rescale_factor) : static_cast<float>(v);
      if (config_.do_normalize) x = (x - config_.image_mean[c]) / config_.image_std[c];
      lookup[c][v] = x;
    }
  }

  const int64_t pixels = image.height * image.width;
  torch::Tensor pixel_values = torch::empty({3, image.height, image.width}, torch::kFloat32);
  float* out = pixel_values.data_ptr<float>();
  // One pass over the interleaved pixels fills the three planes together, so the input is read
  // once instead of once per plane.
  const uint8_t* in = image.rgb.data();
  float* red = out;
  float* green = out + pixels;
  float* blue = out + 2 * pixels;
  for (int64_t i = 0; i < pixels; ++i, in += 3) {
    red[i] = lookup[0][in[0]];
    green[i] = lookup[1][in[1]];
    blue[i] = lookup[2][in[2]];
  }
  return pixel_values;
}

torch::Tensor ImageProcessor::preprocess(const Image& image) const { return to_pixel_values(resize_and_crop(image)); }

torch::Tensor ImageProcessor::preprocess_fast(const Image& image) const {
  if (!config_.do_resize) return preprocess(image);

  // Box-shrink first by the largest whole factor that keeps both sides at or above the resize
  // target, so the bicubic filter runs over a few taps instead of a wide stretched kernel.
  const int64_t factor = fast_reduce_factor(image.height, image.width);
  if (factor < 2) return preprocess(image);
  return preprocess(reduce_by_box(image, factor));
}

torch::Tensor ImageProcessor::load(const std::filesystem::path& path, bool fast, bool apply_exif_orientation) const {
  DecodeOptions options;
  options.apply_exif_orientation = apply_exif_orientation;
  if (fast && config_.do_resize) {
    // Shortest-edge resizes need the shorter side; fixed-size resizes need both sides, which
    // the larger target side guarantees.
    const int64_t target = config_.shortest_edge > 0 ? config_.shortest_edge
                                                     : std::max(config_.resize_height, config_.resize_width);
    options.min_shorter_side = target * kFastReduceGap;
  }
  options.needed_columns = [this, fast](int64_t width, int64_t height) {
    return needed_input_columns(height, width, fast);
  };
  const Image image = decode_image_file(path, options);
  return fast ? preprocess_fast(image) : preprocess(image);
}

std::pair<int64_t, int64_t> ImageProcessor::needed_input_columns(int64_t height, int64_t width, bool fast) const {
  int64_t out_height = 0;
  int64_t out_width = 0;
  resized_size(height, width, &out_height, &out_width);
  const CropWindow window = crop_window(out_height, out_width);
  if (!config_.do_resize) {
    return {std::clamp<int64_t>(window.left, 0, width), std::clamp<int64_t>(window.left + window.width, 0, width)};
  }

  // preprocess_fast box-shrinks before resizing when it can, and then every column counts.
  if (fast && fast_reduce_factor(height, width) >= 2) return {0, width};
  return resize_window_input_columns(width, out_width, window, config_.resample);
}

}  // namespace dualclip::vision
