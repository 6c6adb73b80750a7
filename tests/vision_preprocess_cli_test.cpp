// `dualclip preprocess` run as a user runs it, against the golden pixel_values.
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "dualclip/io/safetensors.h"
#include "test_support.h"

namespace {

using dualclip::testing::golden_dir;

TEST(VisionPreprocessCli, WritesGoldenPixelValues) {
  DUALCLIP_REQUIRE_GOLDEN();
  dualclip::testing::TempDir dir;
  const auto images = golden_dir() / "image_processor" / "images";
  const auto output = dir.path() / "pixels.safetensors";
  const std::string first = (images / "s03_shapes_rgb_80x60.jpg").string();
  const std::string second = (images / "s08_exif_orient6_48x32.jpg").string();
  std::string log;
  ASSERT_EQ(dualclip::testing::run_dualclip("preprocess --model " + (golden_dir() / "dual" / "clip-roberta").string() +
                                                " --images " + first + " " + second + " --output " + output.string() +
                                                " --ignore_exif",
                                            &log),
            0)
      << log;

  const auto written = dualclip::io::read_safetensors(output);
  const auto golden = dualclip::io::read_safetensors(golden_dir() / "image_processor" / "pixel_values.safetensors");
  const torch::Tensor& batch = written.tensors.at("pixel_values");
  ASSERT_EQ(batch.sizes(), (std::vector<int64_t>{2, 3, 32, 32}));
  EXPECT_TRUE(torch::equal(batch[0], golden.tensors.at("dual.s03.pixel_values")));
  EXPECT_TRUE(torch::equal(batch[1], golden.tensors.at("dual.s08.pixel_values")));
  EXPECT_EQ(nlohmann::json::parse(written.metadata.at("images")), nlohmann::json({first, second}));
}

TEST(VisionPreprocessCli, BadImageFailsNamingFile) {
  DUALCLIP_REQUIRE_GOLDEN();
  dualclip::testing::TempDir dir;
  const auto bad = dir.path() / "broken.png";
  std::ofstream(bad) << "not a png";
  std::string log;
  EXPECT_EQ(dualclip::testing::run_dualclip("preprocess --model " + (golden_dir() / "dual" / "clip-roberta").string() +
                                                " --images " + bad.string() + " --output " +
                                                (dir.path() / "out.safetensors").string(),
                                            &log),
            2);
  EXPECT_NE(log.find(bad.string()), std::string::npos) << log;
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "out.safetensors"));
}

}  // namespace
