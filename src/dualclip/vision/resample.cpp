// Pillow-compatible separable resampling. The arithmetic follows Pillow 9.4's
// libImaging/Resample.c exactly (double-precision weights, normalised per output pixel, then
// rounded to fixed point with 22 fractional bits; int32 sums that start at one half; results
// floored and clamped to 0..255; horizontal pass before vertical pass). The data layout does
// not: both passes run as "combine whole rows" loops, the horizontal one on a transposed copy,
// so that the compiler can vectorise the inner loop. Integer sums make the order irrelevant.
#include "dualclip/vision/resample.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <vector>

#include <immintrin.h>

#include "dualclip/core/error.h"

namespace dualclip::vision {
namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;

// ---------------------------------------------------------------------------------------------
// Filter kernels and their support radius (in input pixels, before stretching).

double box_kernel(double x) { return (x > -0.5 && x <= 0.5) ? 1.0 : 0.0; }

double bilinear_kernel(double x) {
  x = std::fabs(x);
  return x < 1.0 ? 1.0 - x : 0.0;
}

double hamming_kernel(double x) {
  x = std::fabs(x);
  if (x == 0.0) return 1.0;
  if (x >= 1.0) return 0.0;
  x *= M_PI;
  // Pillow writes these two constants as float literals; keep their float values.
  return std::sin(x) / x * (0.54f + 0.46f * std::cos(x));
}

// Keys' cubic convolution with a = -0.5.
double bicubic_kernel(double x) {
  constexpr double a = -0.5;
  x = std::fabs(x);
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

double sinc(double x) {
  if (x == 0.0) return 1.0;
  x *= M_PI;
  return std::sin(x) / x;
}

double lanczos_kernel(double x) { return (-3.0 <= x && x < 3.0) ? sinc(x) * sinc(x / 3) : 0.0; }

struct Kernel {
  double (*function)(double);
  double support;
};

Kernel kernel_for(ResampleFilter filter) {
  switch (filter) {
    case ResampleFilter::Box: return {box_kernel, 0.5};
    case ResampleFilter::Bilinear: return {bilinear_kernel, 1.0};
    case ResampleFilter::Hamming: return {hamming_kernel, 1.0};
    case ResampleFilter::Bicubic: return {bicubic_kernel, 2.0};
    case ResampleFilter::Lanczos: return {lanczos_kernel, 3.0};
  }
  throw Error("unknown resampling filter " + std::to_string(static_cast<int>(filter)));
}

// ---------------------------------------------------------------------------------------------
// Per output pixel along one axis: the first input pixel, how many follow, and their
// fixed-point weights (row `i` of `weights` holds output pixel i's taps, `stride` apart).

struct AxisWeights {
  std::vector<int> first;
  std::vector<int> count;
  std::vector<int32_t> weights;
  int stride = 0;
};

AxisWeights compute_axis_weights(int64_t in_size, int64_t out_size, ResampleFilter filter) {
  const Kernel kernel = kernel_for(filter);

  // Pillow passes the source box as floats and takes their difference in float.
  const double scale = static_cast<double>(static_cast<float>(in_size) - 0.0f) / static_cast<double>(out_size);
  const double filter_scale = std::max(scale, 1.0);  // widen the kernel only when shrinking
  const double support = kernel.support * filter_scale;
  const double inverse_filter_scale = 1.0 / filter_scale;

  AxisWeights axis;
  axis.stride = static_cast<int>(std::ceil(support)) * 2 + 1;
  axis.first.resize(out_size);
  axis.count.resize(out_size);
  axis.weights.assign(out_size * axis.stride, 0);

  std::vector<double> taps(axis.stride);
  for (int64_t i = 0; i < out_size; ++i) {
    const double center = (static_cast<double>(i) + 0.5) * scale;

    // Truncation (not floor) is what Pillow's int casts do; negative starts clamp to 0 anyway.
    int lo = static_cast<int>(center - support + 0.5);
    if (lo < 0) lo = 0;
    int hi = static_cast<int>(center + support + 0.5);
    if (hi > in_size) hi = static_cast<int>(in_size);
    const int count = hi - lo;

    double total = 0.0;
    for (int k = 0; k < count; ++k) {
      taps[k] = kernel.function((k + lo - center + 0.5) * inverse_filter_scale);
      total += taps[k];
    }

    int32_t* row = &axis.weights[i * axis.stride];
    for (int k = 0; k < count; ++k) {
      const double w = total != 0.0 ? taps[k] / total : taps[k];
      const double fixed = w * (1 << kPrecisionBits);
      row[k] = static_cast<int32_t>(w < 0 ? fixed - 0.5 : fixed + 0.5);
    }
    axis.first[i] = lo;
    axis.count[i] = count;
  }
  return axis;
}

// ---------------------------------------------------------------------------------------------
// The one convolution kernel both passes use: out[j] = clamp((1/2 + sum_k w[k] * row_k[j]) >> 22)
// for rows row_k = first_row + k * row_stride. An AVX2 version handles 32 outputs per step
// when the processor has AVX2 (GCC's -O2 leaves the plain loop scalar); the plain loop handles
// the rest and other processors.

constexpr int32_t kHalf = 1 << (kPrecisionBits - 1);

void combine_rows_scalar(const uint8_t* first_row, int64_t row_stride, const int32_t* weights, int taps,
                         int64_t begin, int64_t end, uint8_t* out) {
  for (int64_t j = begin; j < end; ++j) {
    int32_t sum = kHalf;
    for (int k = 0; k < taps; ++k) sum += weights[k] * static_cast<int32_t>(first_row[k * row_stride + j]);
    const int32_t v = sum >> kPrecisionBits;
    out[j] = static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
  }
}

__attribute__((target("avx2"))) inline __m256i load_widened(const uint8_t* p) {
  return _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
}

// Returns how many outputs (a multiple of 32) it wrote.
__attribute__((target("avx2"))) int64_t combine_rows_avx2(const uint8_t* first_row, int64_t row_stride,
                                                          const int32_t* weights, int taps, int64_t n,
                                                          uint8_t* out) {
  int64_t j = 0;
  for (; j + 32 <= n; j += 32) {
    __m256i s0 = _mm256_set1_epi32(kHalf);
    __m256i s1 = s0, s2 = s0, s3 = s0;
    const uint8_t* row = first_row + j;
    for (int k = 0; k < taps; ++k, row += row_stride) {
      const __m256i w = _mm256_set1_epi32(weights[k]);
      s0 = _mm256_add_epi32(s0, _mm256_mullo_epi32(load_widened(row), w));
      s1 = _mm256_add_epi32(s1, _mm256_mullo_epi32(load_widened(row + 8), w));
      s2 = _mm256_add_epi32(s2, _mm256_mullo_epi32(load_widened(row + 16), w));
      s3 = _mm256_add_epi32(s3, _mm256_mullo_epi32(load_widened(row + 24), w));
    }
    // Arithmetic shift (floor), then saturating packs clamp to 0..255. The packs interleave
    // 128-bit lanes, which the final permute puts back in order.
    s0 = _mm256_srai_epi32(s0, kPrecisionBits);
    s1 = _mm256_srai_epi32(s1, kPrecisionBits);
    s2 = _mm256_srai_epi32(s2, kPrecisionBits);
    s3 = _mm256_srai_epi32(s3, kPrecisionBits);
    const __m256i words01 = _mm256_packs_epi32(s0, s1);
    const __m256i words23 = _mm256_packs_epi32(s2, s3);
    const __m256i bytes = _mm256_packus_epi16(words01, words23);
    const __m256i ordered = _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + j), ordered);
  }
  return j;
}

void combine_rows(const uint8_t* first_row, int64_t row_stride, const int32_t* weights, int taps, int64_t n,
                  uint8_t* out) {
  static const bool has_avx2 = __builtin_cpu_supports("avx2");
  const int64_t done = has_avx2 ? combine_rows_avx2(first_row, row_stride, weights, taps, n, out) : 0;
  combine_rows_scalar(first_row, row_stride, weights, taps, done, n, out);
}

// Transposes a rows x cols grid of 3-byte pixels (row-major, `src_stride` bytes per row) into
// a cols x rows grid. The AVX2 version moves 8x8 blocks through registers; the plain loop moves
// the edges that do not fill a block, and everything on other processors.

void transpose_rgb_scalar(const uint8_t* src, int64_t src_stride, int64_t row_begin, int64_t row_end,
                          int64_t col_begin, int64_t col_end, int64_t rows, uint8_t* dst) {
  for (int64_t c = col_begin; c < col_end; ++c) {
    uint8_t* out = dst + (c * rows + row_begin) * 3;
    const uint8_t* in = src + row_begin * src_stride + c * 3;
    for (int64_t r = row_begin; r < row_end; ++r, out += 3, in += src_stride) std::memcpy(out, in, 3);
  }
}

// Eight pixels of one row (24 bytes, read exactly) widened to one 32-bit lane each.
__attribute__((target("avx2"))) inline __m256i load_8_pixels(const uint8_t* p) {
  const __m256i bytes = _mm256_setr_m128i(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)),
                                          _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 8)));
  // The low lane gets bytes 0-15, where pixel 0 starts at 0, and the high lane bytes 8-23, where
  // pixel 4 starts at 4. A -1 in the mask zeroes the fourth byte.
  const __m256i widen = _mm256_setr_epi8(0, 1, 2, -1, 3, 4, 5, -1, 6, 7, 8, -1, 9, 10, 11, -1,
                                         4, 5, 6, -1, 7, 8, 9, -1, 10, 11, 12, -1, 13, 14, 15, -1);
  return _mm256_shuffle_epi8(bytes, widen);
}

// Eight 32-bit pixels narrowed back to 24 bytes, written exactly.
__attribute__((target("avx2"))) inline void store_8_pixels(uint8_t* p, __m256i pixels) {
  const __m256i narrow = _mm256_setr_epi8(0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1,
                                          0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1);
  const __m256i packed = _mm256_permutevar8x32_epi32(_mm256_shuffle_epi8(pixels, narrow),
                                                     _mm256_setr_epi32(0, 1, 2, 4, 5, 6, 3, 7));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm256_castsi256_si128(packed));
  _mm_storel_epi64(reinterpret_cast<__m128i*>(p + 16), _mm256_extracti128_si256(packed, 1));
}

// Transposes the whole 8x8 blocks; returns how many rows and columns (multiples of 8) it did.
__attribute__((target("avx2"))) void transpose_rgb_avx2(const uint8_t* src, int64_t src_stride, int64_t rows,
                                                        int64_t cols, uint8_t* dst, int64_t* rows_done,
                                                        int64_t* cols_done) {
  const int64_t dst_stride = rows * 3;
  const int64_t block_rows = rows / 8 * 8;
  const int64_t block_cols = cols / 8 * 8;
  // Column blocks outside, so that each block of 8 output rows is written front to back.
  for (int64_t c0 = 0; c0 < block_cols; c0 += 8) {
    for (int64_t r0 = 0; r0 < block_rows; r0 += 8) {
      const uint8_t* in = src + r0 * src_stride + c0 * 3;
      __m256i r[8];
      for (int i = 0; i < 8; ++i) r[i] = load_8_pixels(in + i * src_stride);

      // The 8x8 transpose of 32-bit lanes: pairs of lanes, then pairs of pairs, then halves.
      __m256i t[8];
      for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_epi32(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_epi32(r[i], r[i + 1]);
      }
      __m256i u[8];
      for (int i = 0; i < 8; i += 4) {
        u[i] = _mm256_unpacklo_epi64(t[i], t[i + 2]);
        u[i + 1] = _mm256_unpackhi_epi64(t[i], t[i + 2]);
        u[i + 2] = _mm256_unpacklo_epi64(t[i + 1], t[i + 3]);
        u[i + 3] = _mm256_unpackhi_epi64(t[i + 1], t[i + 3]);
      }
      uint8_t* out = dst + c0 * dst_stride + r0 * 3;
      for (int j = 0; j < 4; ++j) {
        store_8_pixels(out + j * dst_stride, _mm256_permute2x128_si256(u[j], u[j + 4], 0x20));
        store_8_pixels(out + (j + 4) * dst_stride, _mm256_permute2x128_si256(u[j], u[j + 4], 0x31));
      }
    }
  }
  *rows_done = block_rows;
  *cols_done = block_cols;
}

void transpose_rgb(const uint8_t* src, int64_t src_stride, int64_t rows, int64_t cols, uint8_t* dst) {
  static const bool has_avx2 = __builtin_cpu_supports("avx2");
  int64_t rows_done = 0;
  int64_t cols_done = 0;
  if (has_avx2) transpose_rgb_avx2(src, src_stride, rows, cols, dst, &rows_done, &cols_done);
  // The right edge of the block rows, then every column of the remaining rows.
  transpose_rgb_scalar(src, src_stride, 0, rows_done, cols_done, cols, rows, dst);
  transpose_rgb_scalar(src, src_stride, rows_done, rows, 0, cols, rows, dst);
}

void check_size(const Image& image, int64_t out_height, int64_t out_width) {
  if (image.width <= 0 || image.height <= 0 || static_cast<int64_t>(image.rgb.size()) != image.width * image.height * 3) {
    throw Error("cannot resize an image of " + std::to_string(image.width) + "x" + std::to_string(image.height) +
                " pixels holding " + std::to_string(image.rgb.size()) + " bytes; expected width*height*3 bytes");
  }
  if (out_height <= 0 || out_width <= 0) {
    throw Error("invalid resize target " + std::to_string(out_width) + "x" + std::to_string(out_height) +
                ": both sides must be at least 1 pixel");
  }
}

}  // namespace

void shortest_edge_output_size(int64_t height, int64_t width, int64_t shortest_edge, int64_t* out_height,
                               int64_t* out_width) {
  const int64_t short_side = std::min(height, width);
  const int64_t long_side = std::max(height, width);
  // Python's int(size * long / short): a correctly rounded double quotient, then truncated.
  const auto new_long = static_cast<int64_t>(static_cast<double>(shortest_edge * long_side) / static_cast<double>(short_side));
  if (width <= height) {
    *out_height = new_long;
    *out_width = shortest_edge;
  } else {
    *out_height = shortest_edge;
    *out_width = new_long;
  }
}

CropWindow center_crop_window(int64_t height, int64_t width, int64_t crop_height, int64_t crop_width) {
  // Python floor division of a possibly negative difference.
  auto offset = [](int64_t size, int64_t crop) {
    if (crop <= size) return (size - crop) / 2;
    // NOTE: transformers 4.40 pads by (crop - size) // 2 here, which for an odd difference
    // returns a crop one pixel short; later releases pad by the ceiling, as done here.
    return -((crop - size + 1) / 2);
  };
  return CropWindow{offset(height, crop_height), offset(width, crop_width), crop_height, crop_width};
}

Image resize_window(const Image& image, int64_t out_height, int64_t out_width, const CropWindow& window,
                    ResampleFilter filter) {
  check_size(image, out_height, out_width);
  Image result;
  result.height = window.height;
  result.width = window.width;
  result.rgb.assign(window.height * window.width * 3, 0);

  // The part of the window that lies inside the resized image.
  const int64_t row_begin = std::max<int64_t>(window.top, 0);
  const int64_t row_end = std::min(window.top + window.height, out_height);
  const int64_t col_begin = std::max<int64_t>(window.left, 0);
  const int64_t col_end = std::min(window.left + window.width, out_width);
  if (row_begin >= row_end || col_begin >= col_end) return result;
  const int64_t cols = col_end - col_begin;

  // Pillow skips a pass whose size does not change (the source box is the whole image here).
  const bool need_horizontal = out_width != image.width;
  const bool need_vertical = out_height != image.height;
  AxisWeights vertical;
  int64_t in_row_begin = row_begin;
  int64_t in_row_end = row_end;
  if (need_vertical) {
    vertical = compute_axis_weights(image.height, out_height, filter);
    in_row_begin = vertical.first[row_begin];
    in_row_end = vertical.first[row_end - 1] + vertical.count[row_end - 1];
  }
  const int64_t in_rows = in_row_end - in_row_begin;

  // Horizontal pass on the input rows the vertical pass reads: transpose, so that each output
  // column is a weighted sum of whole input columns, then transpose back.
  // Scratch buffers are left uninitialised (every byte gets written); zeroing them cost more
  // than the transposes.
  std::unique_ptr<uint8_t[]> stage;  // in_rows x cols x 3
  const uint8_t* stage_data = nullptr;
  int64_t stage_stride = 0;
  if (need_horizontal) {
    // Only the input columns that the window's output columns read are transposed: a centre
    // crop of a landscape photo leaves out about a quarter of them.
    const AxisWeights horizontal = compute_axis_weights(image.width, out_width, filter);
    const int64_t in_col_begin = horizontal.first[col_begin];
    const int64_t in_col_end = horizontal.first[col_end - 1] + horizontal.count[col_end - 1];
    const int64_t column_bytes = in_rows * 3;
    std::unique_ptr<uint8_t[]> columns(new uint8_t[(in_col_end - in_col_begin) * column_bytes]);
    transpose_rgb(image.rgb.data() + (in_row_begin * image.width + in_col_begin) * 3, image.width * 3, in_rows,
                  in_col_end - in_col_begin, columns.get());

    std::unique_ptr<uint8_t[]> resized_columns(new uint8_t[cols * column_bytes]);
    for (int64_t c = col_begin; c < col_end; ++c) {
      combine_rows(columns.get() + (horizontal.first[c] - in_col_begin) * column_bytes, column_bytes,
                   &horizontal.weights[c * horizontal.stride], horizontal.count[c], column_bytes,
                   resized_columns.get() + (c - col_begin) * column_bytes);
    }
    stage.reset(new uint8_t[in_rows * cols * 3]);
    transpose_rgb(resized_columns.get(), column_bytes, cols, in_rows, stage.get());
    stage_data = stage.get();
    stage_stride = cols * 3;
  } else {
    stage_data = image.rgb.data() + in_row_begin * image.width * 3 + col_begin * 3;
    stage_stride = image.width * 3;
  }

  // Vertical pass, written straight into the window.
  for (int64_t r = row_begin; r < row_end; ++r) {
    uint8_t* out = result.rgb.data() + ((r - window.top) * window.width + (col_begin - window.left)) * 3;
    if (need_vertical) {
      combine_rows(stage_data + (vertical.first[r] - in_row_begin) * stage_stride, stage_stride,
                   &vertical.weights[r * vertical.stride], vertical.count[r], cols * 3, out);
    } else {
      std::memcpy(out, stage_data + (r - in_row_begin) * stage_stride, cols * 3);
    }
  }
  return result;
}

std::pair<int64_t, int64_t> resize_window_input_columns(int64_t in_width, int64_t out_width, const CropWindow& window,
                                                        ResampleFilter filter) {
  const int64_t col_begin = std::max<int64_t>(window.left, 0);
  const int64_t col_end = std::min(window.left + window.width, out_width);
  if (col_begin >= col_end) return {0, 0};
  if (out_width == in_width) return {col_begin, col_end};
  const AxisWeights horizontal = compute_axis_weights(in_width, out_width, filter);
  return {horizontal.first[col_begin], horizontal.first[col_end - 1] + horizontal.count[col_end - 1]};
}

Image resize(const Image& image, int64_t out_height, int64_t out_width, ResampleFilter filter) {
  return resize_window(image, out_height, out_width, CropWindow{0, 0, out_height, out_width}, filter);
}

Image crop(const Image& image, const CropWindow& window) {
  Image result;
  result.height = window.height;
  result.width = window.width;
  result.rgb.assign(window.height * window.width * 3, 0);
  const int64_t col_begin = std::max<int64_t>(window.left, 0);
  const int64_t col_end = std::min(window.left + window.width, image.width);
  if (col_begin >= col_end) return result;
  for (int64_t r = std::max<int64_t>(window.top, 0); r < std::min(window.top + window.height, image.height); ++r) {
    std::memcpy(result.rgb.data() + ((r - window.top) * window.width + (col_begin - window.left)) * 3,
                image.rgb.data() + (r * image.width + col_begin) * 3, (col_end - col_begin) * 3);
  }
  return result;
}

Image reduce_by_box(const Image& image, int64_t factor) {
  if (factor < 1) throw Error("invalid reduction factor " + std::to_string(factor) + ": must be at least 1");
  Image result;
  result.height = (image.height + factor - 1) / factor;
  result.width = (image.width + factor - 1) / factor;
  result.rgb.resize(result.height * result.width * 3);

  // Column sums of each band of `factor` rows, then sums across each block of columns.
  std::vector<uint32_t> band(image.width * 3);
  for (int64_t oy = 0; oy < result.height; ++oy) {
    const int64_t y0 = oy * factor;
    const int64_t y1 = std::min(image.height, y0 + factor);
    std::fill(band.begin(), band.end(), 0u);
    for (int64_t y = y0; y < y1; ++y) {
      const uint8_t* row = image.rgb.data() + y * image.width * 3;
      for (int64_t j = 0; j < image.width * 3; ++j) band[j] += row[j];
    }
    for (int64_t ox = 0; ox < result.width; ++ox) {
      const int64_t x0 = ox * factor;
      const int64_t x1 = std::min(image.width, x0 + factor);
      const uint32_t pixels = static_cast<uint32_t>((y1 - y0) * (x1 - x0));
      for (int c = 0; c < 3; ++c) {
        uint32_t sum = 0;
        for (int64_t x = x0; x < x1; ++x) sum += band[x * 3 + c];
        result.rgb[(oy * result.width + ox) * 3 + c] = static_cast<uint8_t>((sum + pixels / 2) / pixels);
      }
    }
  }
  return result;
}

}  // namespace dualclip::vision
