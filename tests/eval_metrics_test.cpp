// Retrieval recall, zero-shot scoring and similarity as pure functions of embeddings, on
// constructed cases whose answers are derived by hand in the comments.
#include <fstream>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "dualclip/core/error.h"
#include "dualclip/eval/coco.h"
#include "dualclip/eval/embedding_cache.h"
#include "dualclip/eval/retrieval.h"
#include "dualclip/eval/similarity.h"
#include "dualclip/eval/zero_shot.h"
#include "test_support.h"

namespace {

using dualclip::eval::compute_retrieval_recall;

// Four images on the axes e0..e3 of R^4 and six unit captions. Caption scores against the images:
//   c0 (image 0) = e0                         -> 1 for I0          text->image rank 0
//   c1 (image 0) = 0.6 e0 + 0.8 e1            -> I1 .8 > I0 .6     rank 1
//   c2 (image 1) = 0.6 e1 + 0.8 e2            -> I2 .8 > I1 .6     rank 1
//   c3 (image 2) = 0.48 e0 + 0.36 e2 + 0.8 e3 -> I3 .8 > I0 .48 > I2 .36   rank 2
//   c4 (image 3) = e3                         -> rank 0
//   c5 (image 2) = 0.6 e2 + 0.8 e3            -> I3 .8 > I2 .6     rank 1
// Image queries (best own caption, captions scoring strictly higher):
//   I0: own c0 = 1                  -> rank 0
//   I1: own c2 = .6, c1 = .8 higher -> rank 1
//   I2: own c5 = .6 (c3 = .36), c2 = .8 higher -> rank 1
//   I3: own c4 = 1                  -> rank 0
struct ConstructedCase {
  torch::Tensor images = torch::eye(4);
  torch::Tensor texts = torch::tensor({{1.0f, 0.0f, 0.0f, 0.0f},
                                       {0.6f, 0.8f, 0.0f, 0.0f},
                                       {0.0f, 0.6f, 0.8f, 0.0f},
                                       {0.48f, 0.0f, 0.36f, 0.8f},
                                       {0.0f, 0.0f, 0.0f, 1.0f},
                                       {0.0f, 0.0f, 0.6f, 0.8f}});
  std::vector<int64_t> caption_image_index{0, 0, 1, 2, 3, 2};
};

TEST(RetrievalRecall, ConstructedCaseIsExact) {
  ConstructedCase data;
  const auto metrics = compute_retrieval_recall(data.images, data.texts, data.caption_image_index, {1, 2, 3});
  ASSERT_EQ(metrics.ks, (std::vector<int64_t>{1, 2, 3}));
  // Text ranks 0,1,1,2,0,1; image ranks 0,1,1,0.
  EXPECT_DOUBLE_EQ(metrics.text_to_image[0], 2.0 / 6);
  EXPECT_DOUBLE_EQ(metrics.text_to_image[1], 5.0 / 6);
  EXPECT_DOUBLE_EQ(metrics.text_to_image[2], 1.0);
  EXPECT_DOUBLE_EQ(metrics.image_to_text[0], 0.5);
  EXPECT_DOUBLE_EQ(metrics.image_to_text[1], 1.0);
  EXPECT_DOUBLE_EQ(metrics.image_to_text[2], 1.0);
  EXPECT_EQ(metrics.num_image_queries, 4);
  EXPECT_EQ(metrics.num_text_queries, 6);
}

TEST(RetrievalRecall, ChunkSizeDoesNotChangeResult) {
  ConstructedCase data;
  const auto whole = compute_retrieval_recall(data.images, data.texts, data.caption_image_index, {1, 2, 3});
  for (int64_t chunk : {1, 2, 5}) {
    const auto chunked = compute_retrieval_recall(data.images, data.texts, data.caption_image_index, {1, 2, 3}, chunk);
    EXPECT_EQ(chunked.image_to_text, whole.image_to_text) << "chunk " << chunk;
    EXPECT_EQ(chunked.text_to_image, whole.text_to_image) << "chunk " << chunk;
  }
}

TEST(RetrievalRecall, ImageWithoutCaptionsIsOnlyCandidate) {
  // A fifth image e4 with no caption: not an image query, and it scores 0 against every
  // caption, so it outranks no correct image.
  ConstructedCase data;
  torch::Tensor images = torch::eye(5);
  torch::Tensor texts = torch::cat({data.texts, torch::zeros({6, 1})}, 1);
  const auto metrics = compute_retrieval_recall(images, texts, data.caption_image_index, {1, 2, 3});
  EXPECT_EQ(metrics.num_image_queries, 4);
  EXPECT_DOUBLE_EQ(metrics.image_to_text[0], 0.5);
  EXPECT_DOUBLE_EQ(metrics.text_to_image[0], 2.0 / 6);
}

// Ranks by sorting every row, the way open_clip's retrieval evaluation does, as an independent
// check on random embeddings (continuous values, so no ties).
TEST(RetrievalRecall, MatchesSortingOnRandomEmbeddings) {
  torch::manual_seed(0);
  const int64_t num_images = 37, captions_per_image = 3;
  torch::Tensor images = torch::nn::functional::normalize(torch::randn({num_images, 16}),
                                                          torch::nn::functional::NormalizeFuncOptions().dim(1));
  std::vector<int64_t> index;
  for (int64_t i = 0; i < num_images; ++i) {
    for (int64_t c = 0; c < captions_per_image; ++c) index.push_back(i);
  }
  torch::Tensor texts = torch::nn::functional::normalize(
      images.index_select(0, torch::tensor(index)) + 1.5 * torch::randn({num_images * captions_per_image, 16}),
      torch::nn::functional::NormalizeFuncOptions().dim(1));

  const torch::Tensor scores = torch::matmul(images, texts.t());
  const torch::Tensor text_order = scores.argsort(1, /*descending=*/true);
  const torch::Tensor image_order = scores.t().argsort(1, /*descending=*/true);
  std::vector<double> expected_i2t(3), expected_t2i(3);
  const std::vector<int64_t> ks{1, 5, 10};
  for (int64_t i = 0; i < num_images; ++i) {
    for (size_t k = 0; k < ks.size(); ++k) {
      bool hit = false;
      for (int64_t r = 0; r < ks[k]; ++r) hit |= index[text_order[i][r].item<int64_t>()] == i;
      expected_i2t[k] += hit ? 1.0 / num_images : 0.0;
    }
  }
  for (size_t t = 0; t < index.size(); ++t) {
    for (size_t k = 0; k < ks.size(); ++k) {
      bool hit = false;
      for (int64_t r = 0; r < ks[k]; ++r) hit |= image_order[t][r].item<int64_t>() == index[t];
      expected_t2i[k] += hit ? 1.0 / index.size() : 0.0;
    }
  }

  const auto metrics = compute_retrieval_recall(images, texts, index, ks, 8);
  for (size_t k = 0; k < ks.size(); ++k) {
    EXPECT_NEAR(metrics.image_to_text[k], expected_i2t[k], 1e-12) << "R@" << ks[k];
    EXPECT_NEAR(metrics.text_to_image[k], expected_t2i[k], 1e-12) << "R@" << ks[k];
  }
}

TEST(RetrievalRecall, JsonReportsPercentAndRsum) {
  ConstructedCase data;
  const auto json = compute_retrieval_recall(data.images, data.texts, data.caption_image_index, {1}).to_json();
  EXPECT_DOUBLE_EQ(json["image_to_text_R@1"].get<double>(), 50.0);
  EXPECT_NEAR(json["text_to_image_R@1"].get<double>(), 100.0 / 3, 1e-9);
  EXPECT_NEAR(json["rsum"].get<double>(), 50.0 + 100.0 / 3, 1e-9);
}

TEST(RetrievalCaptions, UnknownImageIdIsRejected) {
  const std::vector<dualclip::eval::ImageEntry> images{{"a.jpg", 7}, {"b.jpg", 9}};
  EXPECT_EQ(dualclip::eval::index_captions_by_image(images, {{"x", 9}, {"y", 7}}), (std::vector<int64_t>{1, 0}));
  EXPECT_THROW(dualclip::eval::index_captions_by_image(images, {{"x", 8}}), dualclip::Error);
  EXPECT_THROW(dualclip::eval::index_captions_by_image({{"a.jpg", 7}, {"b.jpg", 7}}, {}), dualclip::Error);
}

// Logits of four images over six classes, labels 0, 1, 2, 3:
//   image 0: class 0 highest                  -> top-1 hit
//   image 1: order 3, 1, ...                  -> top-1 miss (1 -> 3), top-5 hit
//   image 2: order 3, 0, 1, 4, 5, then 2      -> top-1 miss (2 -> 3), top-5 miss
//   image 3: order 2, 3, ...                  -> top-1 miss (3 -> 2), top-5 hit
TEST(ZeroShotScore, ConstructedCaseIsExact) {
  const torch::Tensor logits = torch::tensor({{9.0f, 1.0f, 2.0f, 3.0f, 0.0f, -1.0f},
                                              {0.0f, 5.0f, 1.0f, 6.0f, 2.0f, -3.0f},
                                              {5.0f, 4.0f, -9.0f, 6.0f, 3.0f, 2.0f},
                                              {0.0f, 1.0f, 8.0f, 7.0f, 2.0f, 3.0f}});
  const auto result = dualclip::eval::score_zero_shot(logits, {0, 1, 2, 3});
  EXPECT_EQ(result.top_k, 5);
  EXPECT_DOUBLE_EQ(result.top1_accuracy, 0.25);
  EXPECT_DOUBLE_EQ(result.top_k_accuracy, 0.75);
  EXPECT_EQ(result.top_classes[2], (std::vector<int64_t>{3, 0, 1, 4, 5}));
  ASSERT_EQ(result.confusions.size(), 3u);
  EXPECT_EQ(result.confusions[0].label, 1);
  EXPECT_EQ(result.confusions[0].predicted, 3);
  EXPECT_EQ(result.confusions[0].count, 1);
  EXPECT_NEAR(result.top_probs[0][0], torch::softmax(logits[0], 0)[0].item<float>(), 1e-7);
}

TEST(ZeroShotScore, ConfusionsSortedByCount) {
  // Classes 0 and 1 both mistaken for 2, class 1 twice.
  const torch::Tensor logits = torch::tensor({{0.0f, 0.0f, 1.0f}, {0.0f, 0.0f, 1.0f}, {0.0f, 0.0f, 1.0f}, {0.0f, 1.0f, 0.0f}});
  const auto result = dualclip::eval::score_zero_shot(logits, {0, 1, 1, 1});
  EXPECT_EQ(result.top_k, 3);
  ASSERT_EQ(result.confusions.size(), 2u);
  EXPECT_EQ(result.confusions[0].label, 1);
  EXPECT_EQ(result.confusions[0].count, 2);
  EXPECT_EQ(result.confusions[1].label, 0);
  // Equal logits 0, 0 for classes 0 and 1 rank in class order.
  EXPECT_EQ(result.top_classes[0], (std::vector<int64_t>{2, 0, 1}));
}

TEST(ZeroShotTemplates, FillAndReject) {
  EXPECT_EQ(dualclip::eval::fill_templates("cat", {"a photo of a {}.", "{}"}),
            (std::vector<std::string>{"a photo of a cat.", "cat"}));
  EXPECT_THROW(dualclip::eval::fill_templates("cat", {"a photo"}), dualclip::Error);
}

void touch(const std::filesystem::path& path) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path) << "x";
}

TEST(ZeroShotData, ReadsClassFoldersAndCsv) {
  dualclip::testing::TempDir dir;
  touch(dir.path() / "set" / "dog" / "b.png");
  touch(dir.path() / "set" / "cat" / "a.jpg");
  touch(dir.path() / "set" / "cat" / "notes.txt");
  const auto from_folders = dualclip::eval::read_labelled_images(dir.path() / "set", {"cat", "dog"});
  ASSERT_EQ(from_folders.size(), 2u);
  EXPECT_EQ(from_folders[0].path.filename(), "a.jpg");
  EXPECT_EQ(from_folders[0].label, 0);
  EXPECT_EQ(from_folders[1].label, 1);

  std::ofstream(dir.path() / "labels.csv") << "path,label\nset/dog/b.png,dog\n\"set/cat/a.jpg\",cat\n";
  const auto from_csv = dualclip::eval::read_labelled_images(dir.path() / "labels.csv", {"cat", "dog"});
  ASSERT_EQ(from_csv.size(), 2u);
  EXPECT_EQ(from_csv[0].label, 1);
  EXPECT_EQ(from_csv[1].path, dir.path() / "set/cat/a.jpg");
}

TEST(ZeroShotData, RejectsUnknownClassAndMissingFile) {
  dualclip::testing::TempDir dir;
  touch(dir.path() / "set" / "cow" / "a.jpg");
  EXPECT_THROW(dualclip::eval::read_labelled_images(dir.path() / "set", {"cat"}), dualclip::Error);
  std::ofstream(dir.path() / "a.csv") << "missing.jpg,cat\n";
  try {
    dualclip::eval::read_labelled_images(dir.path() / "a.csv", {"cat"});
    FAIL() << "expected an error for the missing file";
  } catch (const dualclip::Error& e) {
    EXPECT_NE(std::string(e.what()).find("a.csv:1"), std::string::npos) << e.what();
  }
}

TEST(SimilarityMatrix, ScaledCosinesAndRowSoftmax) {
  const torch::Tensor images = torch::tensor({{1.0f, 0.0f}, {0.0f, 1.0f}, {0.6f, 0.8f}});
  const torch::Tensor texts = torch::tensor({{1.0f, 0.0f}, {0.0f, 1.0f}});
  const auto result = dualclip::eval::similarity_from_embeddings(images, texts, 10.0);
  ASSERT_EQ(result.logits_per_image.sizes(), (torch::IntArrayRef{3, 2}));
  EXPECT_FLOAT_EQ(result.logits_per_image[2][0].item<float>(), 6.0f);
  EXPECT_FLOAT_EQ(result.logits_per_image[2][1].item<float>(), 8.0f);
  // softmax([6, 8]) = [1 / (1 + e^2), e^2 / (1 + e^2)]
  EXPECT_NEAR(result.probs[2][0].item<float>(), 1.0 / (1.0 + std::exp(2.0)), 1e-7);
  EXPECT_NEAR(result.probs.sum(1)[1].item<float>(), 1.0f, 1e-6);
}

TEST(CocoReader, ReadsImagesAndCaptions) {
  dualclip::testing::TempDir dir;
  touch(dir.path() / "val2017" / "1.jpg");
  touch(dir.path() / "val2017" / "2.jpg");
  std::filesystem::create_directories(dir.path() / "annotations");
  std::ofstream(dir.path() / "annotations" / "captions_val2017.json")
      << R"({"images": [{"id": 5, "file_name": "1.jpg"}, {"id": 6, "file_name": "2.jpg"}],
             "annotations": [{"id": 10, "image_id": 6, "caption": "b"}, {"id": 11, "image_id": 5, "caption": "a"}]})";
  const auto coco = dualclip::eval::read_coco_captions(dir.path(), "val");
  ASSERT_EQ(coco.images.size(), 2u);
  EXPECT_EQ(coco.images[1].second, 6);
  ASSERT_EQ(coco.captions.size(), 2u);
  EXPECT_EQ(coco.captions[0].first, "b");
  EXPECT_EQ(coco.caption_ids, (std::vector<int64_t>{10, 11}));

  const auto first = dualclip::eval::read_coco_captions(dir.path(), "val", 1);
  ASSERT_EQ(first.captions.size(), 1u);
  EXPECT_EQ(first.captions[0].first, "a");
  EXPECT_THROW(dualclip::eval::read_coco_captions(dir.path(), "train"), dualclip::Error);
}

TEST(EmbeddingCacheKey, ChangesWithFileSize) {
  dualclip::testing::TempDir dir;
  std::ofstream(dir.path() / "model.safetensors") << "abc";
  const std::string before = dualclip::eval::hash_hex(dualclip::eval::describe_files(dualclip::eval::model_files(dir.path())));
  std::ofstream(dir.path() / "model.safetensors", std::ios::app) << "d";
  const std::string after = dualclip::eval::hash_hex(dualclip::eval::describe_files(dualclip::eval::model_files(dir.path())));
  EXPECT_EQ(before.size(), 16u);
  EXPECT_NE(before, after);
}

}  // namespace
