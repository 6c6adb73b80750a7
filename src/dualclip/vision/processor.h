// The image processor: preprocessor_config.json read as Hugging Face's CLIPImageProcessor
// reads it, and the steps resize (shortest edge, PIL-compatible bicubic), center crop,
// rescale and normalise, to a float32 CHW tensor.
#pragma once

#include <array>
#include <filesystem>

#include <torch/types.h>

#include "dualclip/vision/image.h"
#include "dualclip/vision/resample.h"

namespace dualclip::vision {

struct ImageProcessorConfig {
  bool do_resize = true;
  // {"shortest_edge": N}; when 0, the resize goes to exactly resize_height x resize_width
  // ({"height": H, "width": W}).
  int64_t shortest_edge = 224;
  int64_t resize_height = 0;
  int64_t resize_width = 0;
  ResampleFilter resample = ResampleFilter::Bicubic;
  bool do_center_crop = true;
  int64_t crop_height = 224;
  int64_t crop_width = 224;
  bool do_rescale = true;
  double rescale_factor = 1.0 / 255.0;
  bool do_normalize = true;
  std::array<float, 3> image_mean{0.48145466f, 0.4578275f, 0.40821073f};
  std::array<float, 3> image_std{0.26862954f, 0.26130258f, 0.27577711f};
};

// Reads preprocessor_config.json (current and legacy forms); throws naming the file.
ImageProcessorConfig read_image_processor_config(const std::filesystem::path& path);

class ImageProcessor {
 public:
  explicit ImageProcessor(ImageProcessorConfig config) : config_(config) {}

  // Exact path: the pixels Hugging Face's processor gives for the same decoded image.
  torch::Tensor preprocess(const Image& image) const;
  // Fast path for training: vectorised resize, numerically close to the exact path.
  torch::Tensor preprocess_fast(const Image& image) const;

  // Decodes and preprocesses a file. `fast` allows reduced-scale JPEG decoding and the fast
  // resize.
  torch::Tensor load(const std::filesystem::path& path, bool fast = false, bool apply_exif_orientation = true) const;

  // The uint8 image after resize and center crop (the stages before rescale and normalise).
  Image resize_and_crop(const Image& image) const;
  // Rescale and normalise a uint8 HWC image into a float32 [3, H, W] tensor.
  torch::Tensor to_pixel_values(const Image& image) const;
  // The (height, width) the resize step produces for a height x width image.
  void resized_size(int64_t height, int64_t width, int64_t* out_height, int64_t* out_width) const;

  const ImageProcessorConfig& config() const { return config_; }

 private:
  // The window the center crop keeps of a height x width resized image (all of it without a crop).
  CropWindow crop_window(int64_t height, int64_t width) const;
  // The whole factor preprocess_fast box-shrinks a height x width image by before resizing.
  int64_t fast_reduce_factor(int64_t height, int64_t width) const;
  // The columns [first, second) of a decoded height x width image that preprocess (or, when
  // `fast`, preprocess_fast) reads.
  std::pair<int64_t, int64_t> needed_input_columns(int64_t height, int64_t width, bool fast) const;

  ImageProcessorConfig config_;
};

}  // namespace dualclip::vision
