// The image pipeline against the golden cases recorded with transformers 4.40.2 and Pillow 9.4:
// decoded RGB, the uint8 resize and crop stages, and pixel_values, for every image and every
// processor configuration, bit for bit.
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "dualclip/core/fs.h"
#include "dualclip/io/safetensors.h"
#include "dualclip/vision/image.h"
#include "dualclip/vision/processor.h"
#include "dualclip/vision/resample.h"
#include "test_support.h"

namespace dualclip::vision {
namespace {

using nlohmann::json;
using testing::golden_dir;

struct Golden {
  json cases;
  io::TensorMap tensors;
};

const Golden& golden() {
  static const Golden data = [] {
    Golden g;
    g.cases = json::parse(read_file(golden_dir() / "image_processor" / "cases.json"));
    g.tensors = io::read_safetensors(golden_dir() / "image_processor" / "pixel_values.safetensors").tensors;
    return g;
  }();
  return data;
}

const torch::Tensor& golden_tensor(const std::string& name) {
  auto it = golden().tensors.find(name);
  if (it == golden().tensors.end()) throw std::runtime_error("golden tensor missing: " + name);
  return it->second;
}

std::filesystem::path image_path(const std::string& file) { return golden_dir() / "image_processor" / "images" / file; }

torch::Tensor as_tensor(const Image& image) {
  return torch::from_blob(const_cast<uint8_t*>(image.rgb.data()), {image.height, image.width, 3}, torch::kUInt8).clone();
}

// Number of differing uint8 values (0 when equal), with a shape check.
int64_t count_differences(const Image& image, const torch::Tensor& expected) {
  EXPECT_EQ(expected.sizes(), (std::vector<int64_t>{image.height, image.width, 3}));
  if (expected.sizes() != torch::IntArrayRef({image.height, image.width, 3})) return -1;
  return as_tensor(image).ne(expected).sum().item<int64_t>();
}

// Writes the recorded preprocessor_config dict to a file and reads it back as a user would.
ImageProcessorConfig config_from_case(const json& config_case, const testing::TempDir& dir) {
  const auto path = dir.path() / (config_case["name"].get<std::string>() + ".json");
  std::ofstream(path) << config_case["preprocessor_config"].dump(2);
  return read_image_processor_config(path);
}

TEST(VisionGolden, DecodedRgbMatchesPillow) {
  DUALCLIP_REQUIRE_GOLDEN();
  DecodeOptions plain;
  plain.apply_exif_orientation = false;  // the processor cases open images without exif_transpose
  for (const auto& entry : golden().cases["images"]) {
    const std::string id = entry["id"];
    const Image image = decode_image_file(image_path(entry["file"]), plain);
    EXPECT_EQ(count_differences(image, golden_tensor("image." + id + ".decoded_rgb_u8_hwc")), 0) << entry["file"];
  }
}

TEST(VisionGolden, ResizeCropAndPixelValuesMatch) {
  DUALCLIP_REQUIRE_GOLDEN();
  testing::TempDir dir;
  DecodeOptions plain;
  plain.apply_exif_orientation = false;
  for (const auto& config_case : golden().cases["configs"]) {
    const std::string name = config_case["name"];
    const ImageProcessor processor(config_from_case(config_case, dir));
    for (const auto& entry : config_case["images"]) {
      const std::string where = name + "/" + entry["id"].get<std::string>();
      const Image decoded = decode_image_file(image_path(entry["file"]), plain);

      int64_t height = 0;
      int64_t width = 0;
      processor.resized_size(decoded.height, decoded.width, &height, &width);
      EXPECT_EQ(height, entry["resized_hw"][0].get<int64_t>()) << where;
      EXPECT_EQ(width, entry["resized_hw"][1].get<int64_t>()) << where;

      if (entry.contains("stage_tensors") && !entry["stage_tensors"].is_null()) {
        const Image resized = resize(decoded, height, width);
        EXPECT_EQ(count_differences(resized, golden_tensor(entry["stage_tensors"][0])), 0) << where << " resized";
        const Image cropped = processor.resize_and_crop(decoded);
        EXPECT_EQ(count_differences(cropped, golden_tensor(entry["stage_tensors"][1])), 0) << where << " cropped";
      }

      const torch::Tensor pixel_values = processor.preprocess(decoded);
      const torch::Tensor& expected = golden_tensor(entry["tensor"]);
      ASSERT_EQ(pixel_values.sizes(), expected.sizes()) << where;
      EXPECT_TRUE(torch::equal(pixel_values, expected))
          << where << " max abs diff " << (pixel_values - expected).abs().max().item<float>();
    }
  }
}

TEST(VisionGolden, ExifOrientationMatchesLoadImage) {
  DUALCLIP_REQUIRE_GOLDEN();
  testing::TempDir dir;
  const ImageProcessor dual(config_from_case(golden().cases["configs"][0], dir));
  ASSERT_EQ(golden().cases["configs"][0]["name"], "dual");
  ASSERT_FALSE(golden().cases["exif"].empty());
  for (const auto& entry : golden().cases["exif"]) {
    const auto path = image_path(entry["file"]);

    // Applied (transformers.image_utils.load_image): rotated pixels and their pixel_values.
    const Image rotated = decode_image_file(path);
    EXPECT_EQ(rotated.width, entry["load_image_size_wh"][0].get<int64_t>());
    EXPECT_EQ(rotated.height, entry["load_image_size_wh"][1].get<int64_t>());
    EXPECT_EQ(count_differences(rotated, golden_tensor(entry["load_image_rgb_tensor"])), 0);
    EXPECT_TRUE(torch::equal(dual.load(path), golden_tensor(entry["via_load_image_tensor"])));

    // Ignored (PIL.Image.open straight into the processor).
    EXPECT_TRUE(torch::equal(dual.load(path, /*fast=*/false, /*apply_exif_orientation=*/false),
                             golden_tensor(entry["plain_open_tensor"])));
  }
}

TEST(VisionGolden, LegacyConfigReadsAsDefaults) {
  DUALCLIP_REQUIRE_GOLDEN();
  const auto legacy = read_image_processor_config(golden_dir() / "image_processor" / "legacy_preprocessor" /
                                                  "preprocessor_config.json");
  const json& expected = golden().cases["legacy_preprocessor"]["interpreted_by_CLIPImageProcessor_from_pretrained"];
  EXPECT_EQ(legacy.shortest_edge, expected["size"]["shortest_edge"].get<int64_t>());
  EXPECT_EQ(legacy.resize_height, 0);
  EXPECT_EQ(legacy.crop_height, expected["crop_size"]["height"].get<int64_t>());
  EXPECT_EQ(legacy.crop_width, expected["crop_size"]["width"].get<int64_t>());
  EXPECT_EQ(static_cast<int>(legacy.resample), expected["resample"].get<int>());
  EXPECT_EQ(legacy.do_resize, expected["do_resize"].get<bool>());
  EXPECT_EQ(legacy.do_center_crop, expected["do_center_crop"].get<bool>());
  EXPECT_EQ(legacy.do_rescale, expected["do_rescale"].get<bool>());
  EXPECT_EQ(legacy.do_normalize, expected["do_normalize"].get<bool>());
  EXPECT_DOUBLE_EQ(legacy.rescale_factor, expected["rescale_factor"].get<double>());
  for (int c = 0; c < 3; ++c) {
    EXPECT_EQ(legacy.image_mean[c], expected["image_mean"][c].get<float>());
    EXPECT_EQ(legacy.image_std[c], expected["image_std"][c].get<float>());
  }

  // The recorded output equality: the legacy file preprocesses as the default processor.
  ASSERT_TRUE(golden().cases["legacy_preprocessor"]["output_equals_default_CLIPImageProcessor"].get<bool>());
  const ImageProcessor processor(legacy);
  for (const auto& entry : golden().cases["configs"][1]["images"]) {
    ASSERT_EQ(golden().cases["configs"][1]["name"], "clip_default_224");
    EXPECT_TRUE(torch::equal(processor.load(image_path(entry["file"]), false, false), golden_tensor(entry["tensor"])));
  }
}

}  // namespace
}  // namespace dualclip::vision
