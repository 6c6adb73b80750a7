// Resizing and cropping 8-bit RGB images bit-for-bit as Pillow 9.4's Image.resize does
// (separable fixed-point convolution, horizontal pass first, 22 fractional bits, the filter
// stretched by the downscale factor), and the center crop of Hugging Face's image processors.
#pragma once

#include <cstdint>
#include <utility>

#include "dualclip/vision/image.h"

namespace dualclip::vision {

// Pillow's resampling filters, numbered as PIL.Image.Resampling numbers them (NEAREST, 0,
// is a different algorithm and is not offered).
enum class ResampleFilter { Lanczos = 1, Bilinear = 2, Bicubic = 3, Box = 4, Hamming = 5 };

// A rectangle of the resized image: rows [top, top + height), columns [left, left + width).
// It may reach outside the image; those pixels are zero, as Hugging Face's center_crop pads.
struct CropWindow {
  int64_t top = 0;
  int64_t left = 0;
  int64_t height = 0;
  int64_t width = 0;
};

// The (height, width) Hugging Face's processors resize to for {"shortest_edge": size}: the
// shorter side becomes `shortest_edge`, the longer int(shortest_edge * long / short) (floor).
void shortest_edge_output_size(int64_t height, int64_t width, int64_t shortest_edge, int64_t* out_height,
                               int64_t* out_width);

// The window center_crop takes from a height x width image: top = (height - crop_height) // 2
// (floor division) when the crop fits, else the image is centred in the padding, with the
// larger half of an odd padding above (left of) the image.
CropWindow center_crop_window(int64_t height, int64_t width, int64_t crop_height, int64_t crop_width);

// Resizes to out_height x out_width as Pillow's Image.resize(size, filter, reducing_gap=None).
Image resize(const Image& image, int64_t out_height, int64_t out_width,
             ResampleFilter filter = ResampleFilter::Bicubic);

// Returns `window` of resize(image, out_height, out_width, filter) while computing only the
// pixels the window needs; equal pixel for pixel to center_crop(resize(...)).
Image resize_window(const Image& image, int64_t out_height, int64_t out_width, const CropWindow& window,
                    ResampleFilter filter = ResampleFilter::Bicubic);

// The input columns [first, second) that resize_window reads from an image `in_width` wide
// when resizing it to `out_width` (equal widths: no horizontal pass) and keeping `window`. A
// decoder may leave the other columns unset.
std::pair<int64_t, int64_t> resize_window_input_columns(int64_t in_width, int64_t out_width, const CropWindow& window,
                                                        ResampleFilter filter = ResampleFilter::Bicubic);

// Cuts `window` out of `image`, zero outside the image.
Image crop(const Image& image, const CropWindow& window);

// Shrinks by an integer `factor` in both directions, each output pixel the rounded mean of its
// factor x factor block (fewer pixels in the last row and column of blocks when the size is not
// a multiple), like Pillow's Image.reduce. The fast path uses it before a large downscale.
Image reduce_by_box(const Image& image, int64_t factor);

}  // namespace dualclip::vision
