// The evaluation commands end to end on the golden dual encoder (clip-roberta), compared with
// the outputs Hugging Face computed for the same images and captions.
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "dualclip/eval/inference.h"
#include "dualclip/eval/retrieval.h"
#include "dualclip/io/model_dir.h"
#include "dualclip/io/safetensors.h"
#include "test_support.h"

namespace {

namespace fs = std::filesystem;
using dualclip::testing::golden_dir;
using dualclip::testing::run_dualclip;
using dualclip::testing::TempDir;

// The golden forward case: four image files, four captions (tokenised with max_length 16).
struct GoldenCase {
  fs::path model = golden_dir() / "dual" / "clip-roberta";
  std::vector<fs::path> images;
  std::vector<std::string> captions;
  dualclip::io::TensorMap tensors;

  GoldenCase() {
    const fs::path forward = golden_dir() / "forward";
    const auto spec = dualclip::io::read_json(forward / "clip-roberta__b4_images_captions_maxlen.json");
    for (const auto& name : spec["image_files"]) images.push_back(golden_dir() / "image_processor" / "images" / name.get<std::string>());
    captions = spec["captions"].get<std::vector<std::string>>();
    tensors = dualclip::io::read_safetensors(forward / "clip-roberta__b4_images_captions_maxlen.safetensors").tensors;
  }

  std::string image_args() const {
    std::string args;
    for (const auto& image : images) args += " '" + image.string() + "'";
    return args;
  }
  std::string caption_args() const {
    std::string args;
    for (const auto& caption : captions) args += " '" + caption + "'";
    return args;
  }
};

// The JSON document in a command's output, which also carries log lines.
nlohmann::json json_in_output(const std::string& output) {
  const size_t begin = output.find("\n{") == std::string::npos ? output.find('{') : output.find("\n{") + 1;
  const size_t end = output.rfind("\n}");
  if (begin == std::string::npos || end == std::string::npos) {
    ADD_FAILURE() << "no JSON in output:\n" << output;
    return {};
  }
  return nlohmann::json::parse(output.substr(begin, end + 2 - begin));
}

torch::Tensor matrix_from_json(const nlohmann::json& rows) {
  std::vector<torch::Tensor> tensors;
  for (const auto& row : rows) tensors.push_back(torch::tensor(row.get<std::vector<float>>()));
  return torch::stack(tensors);
}

void expect_close(const torch::Tensor& actual, const torch::Tensor& expected, double atol, const std::string& what) {
  ASSERT_EQ(actual.sizes(), expected.sizes()) << what;
  const double diff = (actual - expected).abs().max().item<double>();
  EXPECT_LE(diff, atol) << what << ": max abs diff " << diff;
}

TEST(SimilarityCommand, ReproducesGoldenLogits) {
  DUALCLIP_REQUIRE_GOLDEN();
  GoldenCase golden;
  std::string output;
  const int status = run_dualclip("similarity --model " + golden.model.string() + " --max_seq_length 16 --json --images" +
                                      golden.image_args() + " --texts" + golden.caption_args(),
                                  &output);
  ASSERT_EQ(status, 0) << output;
  const nlohmann::json result = json_in_output(output);
  const torch::Tensor logits = matrix_from_json(result["logits_per_image"]);
  expect_close(logits, golden.tensors.at("output.logits_per_image"), 1e-5, "logits_per_image");
  expect_close(matrix_from_json(result["probs"]), golden.tensors.at("output.logits_per_image").softmax(1), 1e-6, "probs");
  EXPECT_EQ(result["texts"].get<std::vector<std::string>>(), golden.captions);
}

TEST(SimilarityCommand, PrintsLabelledTables) {
  DUALCLIP_REQUIRE_GOLDEN();
  GoldenCase golden;
  std::string output;
  ASSERT_EQ(run_dualclip("similarity --model " + golden.model.string() + " --images" + golden.image_args() +
                             " --texts 'a photo of a cat' 'an empty room'",
                         &output),
            0)
      << output;
  EXPECT_NE(output.find("[1] an empty room"), std::string::npos) << output;
  EXPECT_NE(output.find("logits_per_image"), std::string::npos) << output;
  EXPECT_NE(output.find("probs = logits_per_image.softmax(dim=1)"), std::string::npos) << output;
  EXPECT_NE(output.find(golden.images[3].filename().string()), std::string::npos) << output;
}

// Width and height from a PNG's IHDR chunk.
std::pair<uint32_t, uint32_t> png_size(const fs::path& png) {
  std::ifstream in(png, std::ios::binary);
  unsigned char header[24] = {};
  in.read(reinterpret_cast<char*>(header), sizeof header);
  auto be32 = [&](int at) { return uint32_t(header[at]) << 24 | uint32_t(header[at + 1]) << 16 | uint32_t(header[at + 2]) << 8 | header[at + 3]; };
  EXPECT_EQ(std::string(reinterpret_cast<char*>(header) + 1, 3), "PNG");
  return {be32(16), be32(20)};
}

TEST(SimilarityCommand, WritesHeatmapPng) {
  DUALCLIP_REQUIRE_GOLDEN();
  GoldenCase golden;
  TempDir dir;
  const fs::path png = dir.path() / "heatmap.png";
  std::string output;
  ASSERT_EQ(run_dualclip("similarity --model " + golden.model.string() + " --images" + golden.image_args() +
                             " --texts" + golden.caption_args() + " --heatmap " + png.string(),
                         &output),
            0)
      << output;
  ASSERT_TRUE(fs::exists(png)) << output;
  // Four 64-pixel columns and four rows at least, plus labels and the colour scale.
  const auto [width, height] = png_size(png);
  EXPECT_GE(width, 4u * 64u);
  EXPECT_GE(height, 4u * 64u);
  EXPECT_LE(width, 4000u);
  EXPECT_LE(height, 4000u);
}

TEST(SimilarityCommand, MissingImageIsNamed) {
  DUALCLIP_REQUIRE_GOLDEN();
  GoldenCase golden;
  std::string output;
  EXPECT_EQ(run_dualclip("similarity --model " + golden.model.string() + " --images /nonexistent/cat.jpg --texts 'a cat'", &output), 2);
  EXPECT_NE(output.find("/nonexistent/cat.jpg"), std::string::npos) << output;
}

TEST(SimilarityCommand, EmptyTextsFileIsRejected) {
  DUALCLIP_REQUIRE_GOLDEN();
  GoldenCase golden;
  TempDir dir;
  std::ofstream(dir.path() / "texts.txt") << "\n  \n";
  std::string output;
  EXPECT_EQ(run_dualclip("similarity --model " + golden.model.string() + " --images" + golden.image_args() +
                             " --texts_file " + (dir.path() / "texts.txt").string(),
                         &output),
            2);
  EXPECT_NE(output.find("texts.txt contains no text"), std::string::npos) << output;
}

TEST(EmbedCommand, MatchesGoldenEmbeds) {
  DUALCLIP_REQUIRE_GOLDEN();
  GoldenCase golden;
  TempDir dir;
  const fs::path file = dir.path() / "embeddings.safetensors";
  std::string output;
  // --batch_size 3 splits both inputs over two batches.
  ASSERT_EQ(run_dualclip("embed --model " + golden.model.string() + " --max_seq_length 16 --batch_size 3 --images" +
                             golden.image_args() + " --texts" + golden.caption_args() + " --output " + file.string(),
                         &output),
            0)
      << output;
  const auto written = dualclip::io::read_safetensors(file);
  expect_close(written.tensors.at("image_embeds"), golden.tensors.at("output.image_embeds"), 1e-5, "image_embeds");
  expect_close(written.tensors.at("text_embeds"), golden.tensors.at("output.text_embeds"), 1e-5, "text_embeds");
  EXPECT_EQ(nlohmann::json::parse(written.metadata.at("texts")).get<std::vector<std::string>>(), golden.captions);
  EXPECT_EQ(nlohmann::json::parse(written.metadata.at("image_files")).size(), 4u);
}

// Text-to-image and image-to-text Recall@k (percent) from a similarity matrix where caption
// i belongs to image i, by sorting each row: an independent computation of the expected values.
std::pair<std::vector<double>, std::vector<double>> recall_by_sorting(const torch::Tensor& logits_per_image,
                                                                      const std::vector<int64_t>& ks) {
  std::vector<double> i2t(ks.size()), t2i(ks.size());
  const int64_t n = logits_per_image.size(0);
  const torch::Tensor text_order = logits_per_image.argsort(1, true);
  const torch::Tensor image_order = logits_per_image.t().argsort(1, true);
  for (int64_t q = 0; q < n; ++q) {
    for (size_t k = 0; k < ks.size(); ++k) {
      for (int64_t r = 0; r < std::min(ks[k], n); ++r) {
        if (text_order[q][r].item<int64_t>() == q) i2t[k] += 100.0 / n;
        if (image_order[q][r].item<int64_t>() == q) t2i[k] += 100.0 / n;
      }
    }
  }
  return {i2t, t2i};
}

// A COCO folder with the four golden images (as links) and caption i for image i.
fs::path make_coco(const fs::path& root, const GoldenCase& golden) {
  fs::create_directories(root / "val2017");
  fs::create_directories(root / "annotations");
  nlohmann::json annotation{{"images", nlohmann::json::array()}, {"annotations", nlohmann::json::array()}};
  for (size_t i = 0; i < golden.images.size(); ++i) {
    fs::create_symlink(golden.images[i], root / "val2017" / golden.images[i].filename());
    annotation["images"].push_back({{"id", 100 + i}, {"file_name", golden.images[i].filename().string()}});
    annotation["annotations"].push_back({{"id", 500 + i}, {"image_id", 100 + i}, {"caption", golden.captions[i]}});
  }
  std::ofstream(root / "annotations" / "captions_val2017.json") << annotation.dump();
  return root;
}

TEST(RetrievalCommand, MatchesRanksOfGoldenLogits) {
  DUALCLIP_REQUIRE_GOLDEN();
  GoldenCase golden;
  TempDir dir;
  const fs::path coco = make_coco(dir.path() / "coco", golden);
  const auto [i2t, t2i] = recall_by_sorting(golden.tensors.at("output.logits_per_image"), {1, 5, 10});
  const std::string command = "retrieval --model " + golden.model.string() + " --max_seq_length 16 --json --data_dir " +
                              coco.string() + " --cache_dir " + (dir.path() / "cache").string();

  // The second run reads the embeddings the first one cached and gives the same numbers.
  for (const std::string expected_log : {"cached embeddings in", "using cached embeddings"}) {
    std::string output;
    ASSERT_EQ(run_dualclip(command, &output), 0) << output;
    EXPECT_NE(output.find(expected_log), std::string::npos) << output;
    const nlohmann::json metrics = json_in_output(output);
    EXPECT_NEAR(metrics["image_to_text_R@1"].get<double>(), i2t[0], 1e-9) << output;
    EXPECT_NEAR(metrics["text_to_image_R@1"].get<double>(), t2i[0], 1e-9) << output;
    EXPECT_NEAR(metrics["image_to_text_R@5"].get<double>(), 100.0, 1e-9);
    EXPECT_EQ(metrics["num_text_queries"].get<int64_t>(), 4);
  }
}

TEST(RetrievalLibrary, EvaluateRetrievalMatchesRanksOfGoldenLogits) {
  DUALCLIP_REQUIRE_GOLDEN();
  GoldenCase golden;
  dualclip::eval::InferenceOptions options;
  options.max_seq_length = 16;
  auto loaded = dualclip::eval::load_inference_model(golden.model.string(), options);
  std::vector<dualclip::eval::ImageEntry> images;
  std::vector<dualclip::eval::CaptionEntry> captions;
  for (size_t i = 0; i < golden.images.size(); ++i) {
    images.emplace_back(golden.images[i], 7 * i);
    captions.emplace_back(golden.captions[i], 7 * i);
  }
  loaded.model->train();
  const auto metrics = dualclip::eval::evaluate_retrieval(loaded.model, loaded.processor, images, captions, 2, torch::kCPU);
  EXPECT_TRUE(loaded.model->is_training()) << "the training flag must be restored";
  const auto [i2t, t2i] = recall_by_sorting(golden.tensors.at("output.logits_per_image"), {1, 5, 10});
  EXPECT_NEAR(100.0 * metrics.image_to_text[0], i2t[0], 1e-9);
  EXPECT_NEAR(100.0 * metrics.text_to_image[0], t2i[0], 1e-9);
}

TEST(ZeroShotCommand, CaptionsAsClassesFollowGoldenLogits) {
  DUALCLIP_REQUIRE_GOLDEN();
  GoldenCase golden;
  TempDir dir;

  // Class i is caption i and holds image i; with the template "{}" each class embedding is
  // that caption's text embedding, so the predictions are the argmax of HF's logits.
  std::ofstream classes(dir.path() / "classes.txt");
  for (size_t i = 0; i < golden.images.size(); ++i) {
    fs::create_directories(dir.path() / "images" / golden.captions[i]);
    fs::create_symlink(golden.images[i], dir.path() / "images" / golden.captions[i] / golden.images[i].filename());
    classes << golden.captions[i] << "\n";
  }
  classes.close();
  const torch::Tensor predicted = golden.tensors.at("output.logits_per_image").argmax(1);
  double expected_top1 = 0;
  for (int64_t i = 0; i < predicted.size(0); ++i) expected_top1 += predicted[i].item<int64_t>() == i ? 0.25 : 0.0;

  std::string output;
  const fs::path predictions = dir.path() / "predictions.csv";
  ASSERT_EQ(run_dualclip("zero-shot --model " + golden.model.string() + " --max_seq_length 16 --json --templates '{}'" +
                             " --classes_file " + (dir.path() / "classes.txt").string() + " --images " +
                             (dir.path() / "images").string() + " --predictions " + predictions.string(),
                         &output),
            0)
      << output;
  const nlohmann::json result = json_in_output(output);
  EXPECT_DOUBLE_EQ(result["top1_accuracy"].get<double>(), expected_top1) << output;
  EXPECT_DOUBLE_EQ(result["top4_accuracy"].get<double>(), 1.0) << output;

  std::ifstream csv(predictions);
  std::string line;
  int rows = 0;
  while (std::getline(csv, line)) ++rows;
  EXPECT_EQ(rows, 5) << "header and one row per image";
}

}  // namespace
