// The create and info commands, run as a user runs them.
#include <gtest/gtest.h>

#include "dualclip/io/model_dir.h"
#include "test_support.h"

namespace {

namespace fs = std::filesystem;
using dualclip::testing::run_dualclip;
using dualclip::testing::TempDir;

TEST(CliCreate, WritesDirectoryThatInfoDescribes) {
  DUALCLIP_REQUIRE_GOLDEN();
  TempDir dir;
  const fs::path pretrained = dualclip::testing::golden_dir() / "pretrained";
  std::string output;
  int status = run_dualclip("create --vision " + (pretrained / "vit-tiny").string() + " --text " +
                                (pretrained / "bert-tiny").string() + " --output_dir " + (dir.path() / "dual").string() +
                                " --projection_dim 24 --logit_scale_init_value 2.3 --seed 3",
                            &output);
  ASSERT_EQ(status, 0) << output;
  EXPECT_TRUE(fs::exists(dir.path() / "dual" / "model.safetensors"));
  EXPECT_TRUE(fs::exists(dir.path() / "dual" / "vocab.txt"));
  nlohmann::json config = dualclip::io::read_json(dir.path() / "dual" / "config.json");
  EXPECT_EQ(config["projection_dim"], 24);
  EXPECT_EQ(config["vision_config"]["model_type"], "vit");

  status = run_dualclip("info --model " + (dir.path() / "dual").string(), &output);
  ASSERT_EQ(status, 0) << output;
  // The golden vit-bert dual encoder, made by HF from the same towers, has 105521 parameters.
  EXPECT_NE(output.find("total: 105,521 parameters"), std::string::npos) << output;
  EXPECT_NE(output.find("vision tower: vit, hidden_size 48, 2 layers, 3 heads"), std::string::npos) << output;
  EXPECT_NE(output.find("text tower: bert, hidden_size 48, 2 layers, 4 heads"), std::string::npos) << output;
  EXPECT_NE(output.find("projection_dim: 24"), std::string::npos) << output;
  EXPECT_NE(output.find("logit_scale: 2.3"), std::string::npos) << output;
}

TEST(CliCreate, MissingOptionAndBadTowerFail) {
  DUALCLIP_REQUIRE_GOLDEN();
  TempDir dir;
  const fs::path pretrained = dualclip::testing::golden_dir() / "pretrained";
  std::string output;
  EXPECT_EQ(run_dualclip("create --text " + (pretrained / "bert-tiny").string() + " --output_dir " + dir.path().string(),
                         &output),
            2);
  EXPECT_NE(output.find("vision"), std::string::npos) << output;

  // A text checkpoint in the vision slot.
  EXPECT_EQ(run_dualclip("create --vision " + (pretrained / "bert-tiny").string() + " --text " +
                             (pretrained / "bert-tiny").string() + " --output_dir " + dir.path().string(),
                         &output),
            2);
  EXPECT_NE(output.find("is not a vision tower"), std::string::npos) << output;
}

TEST(CliInfo, FullClipCheckpoint) {
  DUALCLIP_REQUIRE_GOLDEN();
  std::string output;
  int status = run_dualclip("info --model " + (dualclip::testing::golden_dir() / "pretrained" / "clip-text-tiny").string(), &output);
  ASSERT_EQ(status, 0) << output;
  EXPECT_NE(output.find("(clip)"), std::string::npos) << output;
  EXPECT_NE(output.find("total: 110,321 parameters"), std::string::npos) << output;
  EXPECT_NE(output.find("logit_scale: 3 "), std::string::npos) << output;
}

}  // namespace
