// Decoding files the tests write themselves: bad input (empty, truncated, not an image, over
// the pixel limit), formats the golden cases do not cover (16-bit PNG, GIF, WebP), EXIF
// orientations, and the fast path's drift from the exact path.
#include <fstream>
#include <string>

#include <gif_lib.h>
#include <gtest/gtest.h>
#include <png.h>
#include <torch/torch.h>
#include <webp/encode.h>

#include "dualclip/core/error.h"
#include "dualclip/core/fs.h"
#include "dualclip/vision/image.h"
#include "dualclip/vision/processor.h"
#include "dualclip/vision/synthetic.h"
#include "test_support.h"

namespace dualclip::vision {
namespace {

using testing::TempDir;

// Expects decode_image_file to throw dualclip::Error whose message names the file and contains `what`.
void expect_decode_error(const std::filesystem::path& path, const std::string& what, const DecodeOptions& options = {}) {
  try {
    decode_image_file(path, options);
    ADD_FAILURE() << "no error for " << path;
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(path.string()), std::string::npos) << message;
    EXPECT_NE(message.find(what), std::string::npos) << message;
  }
}

// Writes a PNG with libpng: `samples` has width * height * channels values of `bit_depth`
// bits (big-endian pairs for 16 bits), and an eXIf chunk when `exif` is not empty.
void write_png(const std::filesystem::path& path, int width, int height, int color_type, int bit_depth,
               const std::vector<uint8_t>& samples, const std::string& exif = {}) {
  FILE* file = std::fopen(path.c_str(), "wb");
  ASSERT_NE(file, nullptr);
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  png_init_io(png, file);
  png_set_IHDR(png, info, width, height, bit_depth, color_type, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  if (!exif.empty()) {
    png_set_eXIf_1(png, info, static_cast<png_uint_32>(exif.size()),
                   reinterpret_cast<png_bytep>(const_cast<char*>(exif.data())));
  }
  png_write_info(png, info);
  const size_t row_bytes = samples.size() / height;
  for (int y = 0; y < height; ++y) png_write_row(png, const_cast<uint8_t*>(samples.data() + y * row_bytes));
  png_write_end(png, info);
  png_destroy_write_struct(&png, &info);
  std::fclose(file);
}

// A little-endian TIFF block whose IFD0 holds only Orientation = `orientation` (SHORT).
std::string exif_with_orientation(int orientation) {
  std::string tiff("II*\0\x08\0\0\0", 8);
  tiff += std::string("\x01\0", 2);                       // one entry
  tiff += std::string("\x12\x01\x03\0\x01\0\0\0", 8);     // tag 0x0112, SHORT, count 1
  tiff += static_cast<char>(orientation);
  tiff += std::string("\0\0\0", 3);
  tiff += std::string("\0\0\0\0", 4);  // no next IFD
  return tiff;
}

TEST(VisionDecode, EmptyFileIsAnError) {
  TempDir dir;
  const auto path = dir.path() / "empty.jpg";
  write_file_atomic(path, "");
  expect_decode_error(path, "empty");
}

TEST(VisionDecode, TruncatedJpegIsAnError) {
  TempDir dir;
  const std::string jpeg = encode_jpeg(make_synthetic_photo(64, 48, 7), 90);
  const auto whole = dir.path() / "whole.jpg";
  write_file_atomic(whole, jpeg);
  EXPECT_EQ(decode_image_file(whole).width, 64);

  const auto cut = dir.path() / "cut.jpg";
  write_file_atomic(cut, jpeg.substr(0, jpeg.size() * 2 / 3));
  expect_decode_error(cut, "truncated");
}

TEST(VisionDecode, TextFileIsNotAnImage) {
  TempDir dir;
  const auto path = dir.path() / "notes.jpg";
  write_file_atomic(path, "these are not pixels\n");
  expect_decode_error(path, "not a JPEG, PNG, GIF or WebP file");
}

TEST(VisionDecode, MissingFileIsAnError) {
  TempDir dir;
  EXPECT_THROW(decode_image_file(dir.path() / "absent.png"), Error);
}

TEST(VisionDecode, PixelLimitIsEnforced) {
  TempDir dir;
  const auto jpeg_path = dir.path() / "photo.jpg";
  write_file_atomic(jpeg_path, encode_jpeg(make_synthetic_photo(40, 30, 3), 90));
  const auto png_path = dir.path() / "gray.png";
  write_png(png_path, 40, 30, PNG_COLOR_TYPE_GRAY, 8, std::vector<uint8_t>(40 * 30, 9));

  DecodeOptions small;
  small.max_pixels = 40 * 30 - 1;
  expect_decode_error(jpeg_path, "over the limit of 1199", small);
  expect_decode_error(png_path, "over the limit of 1199", small);
  small.max_pixels = 40 * 30;
  EXPECT_EQ(decode_image_file(jpeg_path, small).height, 30);
  EXPECT_EQ(decode_image_file(png_path, small).height, 30);
}

TEST(VisionDecode, SixteenBitPngKeepsHighByte) {
  TempDir dir;
  // One row of two 16-bit RGB pixels and one 16-bit gray row, big-endian samples.
  const std::vector<uint8_t> rgb16 = {0x12, 0xFF, 0x34, 0x00, 0xAB, 0x80, 0x00, 0x01, 0xFF, 0xFF, 0x7F, 0x7F};
  write_png(dir.path() / "rgb16.png", 2, 1, PNG_COLOR_TYPE_RGB, 16, rgb16);
  EXPECT_EQ(decode_image_file(dir.path() / "rgb16.png").rgb, (std::vector<uint8_t>{0x12, 0x34, 0xAB, 0x00, 0xFF, 0x7F}));

  const std::vector<uint8_t> gray16 = {0x01, 0x00, 0xC8, 0xFF};
  write_png(dir.path() / "gray16.png", 2, 1, PNG_COLOR_TYPE_GRAY, 16, gray16);
  EXPECT_EQ(decode_image_file(dir.path() / "gray16.png").rgb, (std::vector<uint8_t>{1, 1, 1, 0xC8, 0xC8, 0xC8}));
}

TEST(VisionDecode, LowBitGrayPngScalesToFullRange) {
  TempDir dir;
  // 2-bit gray: values 0..3 packed into one byte, which Pillow scales by 85.
  write_png(dir.path() / "gray2.png", 4, 1, PNG_COLOR_TYPE_GRAY, 2, {0b00011011});
  EXPECT_EQ(decode_image_file(dir.path() / "gray2.png").rgb,
            (std::vector<uint8_t>{0, 0, 0, 85, 85, 85, 170, 170, 170, 255, 255, 255}));
}

TEST(VisionDecode, LosslessWebpRoundTrips) {
  TempDir dir;
  const Image photo = make_synthetic_photo(37, 23, 11);
  uint8_t* encoded = nullptr;
  const size_t size = WebPEncodeLosslessRGB(photo.rgb.data(), 37, 23, 37 * 3, &encoded);
  ASSERT_GT(size, 0u);
  write_file_atomic(dir.path() / "photo.webp", std::string(reinterpret_cast<char*>(encoded), size));
  WebPFree(encoded);

  const Image decoded = decode_image_file(dir.path() / "photo.webp");
  EXPECT_EQ(decoded.width, 37);
  EXPECT_EQ(decoded.height, 23);
  EXPECT_EQ(decoded.rgb, photo.rgb);

  const auto cut = dir.path() / "cut.webp";
  write_file_atomic(cut, read_file(dir.path() / "photo.webp").substr(0, size / 2));
  expect_decode_error(cut, "invalid WebP data");
}

TEST(VisionDecode, GifFirstFrameUsesPalette) {
  TempDir dir;
  const auto path = dir.path() / "frames.gif";
  int error = 0;
  GifFileType* gif = EGifOpenFileName(path.c_str(), false, &error);
  ASSERT_NE(gif, nullptr);
  GifColorType colors[4] = {{10, 20, 30}, {200, 0, 0}, {0, 200, 0}, {0, 0, 200}};
  ColorMapObject* palette = GifMakeMapObject(4, colors);
  EGifSetGifVersion(gif, true);
  ASSERT_EQ(EGifPutScreenDesc(gif, 3, 2, 2, 0, palette), GIF_OK);
  // Frame 0 covers the screen; frame 1 (which must be ignored) paints everything index 3.
  GifPixelType frame0[2][3] = {{0, 1, 2}, {3, 2, 1}};
  ASSERT_EQ(EGifPutImageDesc(gif, 0, 0, 3, 2, false, nullptr), GIF_OK);
  for (auto& row : frame0) ASSERT_EQ(EGifPutLine(gif, row, 3), GIF_OK);
  GifPixelType frame1[3] = {3, 3, 3};
  ASSERT_EQ(EGifPutImageDesc(gif, 0, 0, 3, 2, false, nullptr), GIF_OK);
  for (int y = 0; y < 2; ++y) ASSERT_EQ(EGifPutLine(gif, frame1, 3), GIF_OK);
  ASSERT_EQ(EGifCloseFile(gif, &error), GIF_OK);
  GifFreeMapObject(palette);

  const Image decoded = decode_image_file(path);
  EXPECT_EQ(decoded.width, 3);
  EXPECT_EQ(decoded.height, 2);
  EXPECT_EQ(decoded.rgb, (std::vector<uint8_t>{10, 20, 30, 200, 0, 0, 0, 200, 0, 0, 0, 200, 0, 200, 0, 200, 0, 0}));
}

TEST(VisionDecode, ExifOrientationsTransposeAsPillow) {
  TempDir dir;
  // A 3x2 gray image with values a..f:   a b c
  //                                       d e f
  const std::vector<uint8_t> gray = {1, 2, 3, 4, 5, 6};
  // Expected grids after each of Pillow's transposes, read off the definitions: 2 mirrors
  // left-right, 3 turns 180 degrees, 4 mirrors top-bottom, 5 transposes, 6 turns 90 degrees
  // clockwise, 7 transposes across the other diagonal, 8 turns 90 degrees counter-clockwise.
  const struct {
    int orientation;
    int64_t width;
    std::vector<uint8_t> values;
  } cases[] = {
      {1, 3, {1, 2, 3, 4, 5, 6}}, {2, 3, {3, 2, 1, 6, 5, 4}}, {3, 3, {6, 5, 4, 3, 2, 1}},
      {4, 3, {4, 5, 6, 1, 2, 3}}, {5, 2, {1, 4, 2, 5, 3, 6}}, {6, 2, {4, 1, 5, 2, 6, 3}},
      {7, 2, {6, 3, 5, 2, 4, 1}}, {8, 2, {3, 6, 2, 5, 1, 4}},
  };
  for (const auto& c : cases) {
    const auto path = dir.path() / ("orientation" + std::to_string(c.orientation) + ".png");
    write_png(path, 3, 2, PNG_COLOR_TYPE_GRAY, 8, gray, exif_with_orientation(c.orientation));
    const Image rotated = decode_image_file(path);
    EXPECT_EQ(rotated.width, c.width) << "orientation " << c.orientation;
    std::vector<uint8_t> first_channel;
    for (size_t i = 0; i < rotated.rgb.size(); i += 3) first_channel.push_back(rotated.rgb[i]);
    EXPECT_EQ(first_channel, c.values) << "orientation " << c.orientation;

    DecodeOptions ignore;
    ignore.apply_exif_orientation = false;
    EXPECT_EQ(decode_image_file(path, ignore).width, 3) << "orientation " << c.orientation;
  }
}

// The fast path (DCT-scaled JPEG decode, fast IDCT) against the exact path on photo-like JPEGs.
// The bounds are the ones docs/images.md states.
TEST(VisionFastPath, DriftStaysWithinDocumentedBounds) {
  TempDir dir;
  const ImageProcessor processor{ImageProcessorConfig{}};
  const int sizes[][2] = {{640, 480}, {1024, 768}, {800, 600}, {600, 900}};
  for (int i = 0; i < 4; ++i) {
    const auto path = dir.path() / ("photo" + std::to_string(i) + ".jpg");
    write_file_atomic(path, encode_jpeg(make_synthetic_photo(sizes[i][0], sizes[i][1], 500 + i), 90));
    const torch::Tensor exact = processor.load(path);
    const torch::Tensor fast = processor.load(path, /*fast=*/true);
    ASSERT_EQ(fast.sizes(), exact.sizes());
    const torch::Tensor diff = (fast - exact).abs();
    EXPECT_LT(diff.mean().item<double>(), 0.04) << path;
    EXPECT_LT(diff.max().item<double>(), 1.0) << path;
    EXPECT_FALSE(torch::equal(fast, exact)) << "the fast path should differ at all, else it is not in use";
  }
}

// load() decodes only the columns that the resize and crop read. Its pixel_values must equal
// those of a full decode on both paths. The files are landscape and portrait, with and without
// chroma subsampling, and some crops reach the image edge.
TEST(VisionCropDecode, MatchesFullDecode) {
  TempDir dir;
  const struct {
    int width;
    int height;
    bool subsample_chroma;
  } files[] = {{640, 480, true}, {1024, 768, true}, {641, 479, true}, {1000, 333, true},
               {333, 1000, true}, {800, 600, false}, {227, 301, true}, {900, 230, false}};
  ImageProcessorConfig small_crop;  // a narrow centre crop reads few columns
  small_crop.shortest_edge = 64;
  small_crop.crop_height = 48;
  small_crop.crop_width = 40;
  ImageProcessorConfig no_resize;  // the crop alone decides the columns
  no_resize.do_resize = false;
  for (const ImageProcessorConfig& config : {ImageProcessorConfig{}, small_crop, no_resize}) {
    const ImageProcessor processor{config};
    for (const auto& file : files) {
      const auto path = dir.path() / ("photo" + std::to_string(file.width) + "x" + std::to_string(file.height) +
                                      (file.subsample_chroma ? "" : "-444") + ".jpg");
      const Image photo = make_synthetic_photo(file.width, file.height, file.width * 7 + file.height);
      write_file_atomic(path, encode_jpeg(photo, 90, file.subsample_chroma));

      const torch::Tensor exact = processor.preprocess(decode_image_file(path));
      EXPECT_TRUE(torch::equal(processor.load(path), exact)) << path << " exact path";

      DecodeOptions scaled;
      scaled.min_shorter_side = config.do_resize ? config.shortest_edge : 0;
      const torch::Tensor fast = processor.preprocess_fast(decode_image_file(path, scaled));
      EXPECT_TRUE(torch::equal(processor.load(path, /*fast=*/true), fast)) << path << " fast path";
    }
  }
}

// With needed_columns, the decoder leaves columns far from the needed ones zero and decodes the
// needed ones exactly.
TEST(VisionCropDecode, SkipsColumnsNotNeeded) {
  TempDir dir;
  const auto path = dir.path() / "photo.jpg";
  write_file_atomic(path, encode_jpeg(make_synthetic_photo(640, 480, 9), 90));
  const Image full = decode_image_file(path);
  DecodeOptions narrow;
  narrow.needed_columns = [](int64_t, int64_t) { return std::pair<int64_t, int64_t>{300, 310}; };
  const Image cropped = decode_image_file(path, narrow);
  ASSERT_EQ(cropped.width, full.width);
  ASSERT_EQ(cropped.height, full.height);

  bool needed_equal = true;
  bool left_edge_zero = true;
  bool left_edge_nonzero_in_full = false;
  for (int64_t y = 0; y < full.height; ++y) {
    for (int64_t x = 300; x < 310; ++x) {
      for (int c = 0; c < 3; ++c) needed_equal &= cropped.rgb[(y * 640 + x) * 3 + c] == full.rgb[(y * 640 + x) * 3 + c];
    }
    for (int c = 0; c < 3; ++c) {
      left_edge_zero &= cropped.rgb[y * 640 * 3 + c] == 0;
      left_edge_nonzero_in_full |= full.rgb[y * 640 * 3 + c] != 0;
    }
  }
  EXPECT_TRUE(needed_equal);
  EXPECT_TRUE(left_edge_zero) << "column 0 was decoded although only 300..309 were needed";
  EXPECT_TRUE(left_edge_nonzero_in_full);
}

TEST(VisionFastPath, InMemoryImageReducesFirst) {
  const ImageProcessor processor{ImageProcessorConfig{}};
  const Image photo = make_synthetic_photo(900, 700, 3);
  const torch::Tensor exact = processor.preprocess(photo);
  const torch::Tensor fast = processor.preprocess_fast(photo);
  ASSERT_EQ(fast.sizes(), exact.sizes());
  EXPECT_LT((fast - exact).abs().mean().item<double>(), 0.04);
}

}  // namespace
}  // namespace dualclip::vision
