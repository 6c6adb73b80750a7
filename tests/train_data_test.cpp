// Dataset readers and the epoch order: CSV/TSV/JSON Lines lists, COCO caption files, the
// missing-image rule, the seeded shuffle and batching.
#include <algorithm>
#include <fstream>
#include <set>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "dualclip/core/error.h"
#include "dualclip/data/caption_dataset.h"
#include "dualclip/data/sampler.h"
#include "test_support.h"

namespace fs = std::filesystem;
using dualclip::Error;
using namespace dualclip::data;

namespace {

void write_text(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

}  // namespace

TEST(CaptionList, DelimitedQuoting) {
  auto records = parse_delimited("a,b\r\n\"x, \"\"y\"\"\",\"two\nlines\"\n\nlast,\n", ',', "t.csv");
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0], (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(records[1], (std::vector<std::string>{"x, \"y\"", "two\nlines"}));
  EXPECT_EQ(records[2], (std::vector<std::string>{"last", ""}));
  EXPECT_THROW(parse_delimited("a,\"open\n", ',', "t.csv"), Error);
}

TEST(CaptionList, CsvRelativePaths) {
  dualclip::testing::TempDir tmp;
  write_text(tmp.path() / "lists" / "train.csv",
             "id,file,text\n1,img/a.jpg,a cat\n2,/abs/b.png,\"a dog, running\"\n");
  auto dataset = read_caption_list(tmp.path() / "lists" / "train.csv", {"file", "text"});
  ASSERT_EQ(dataset.examples.size(), 2u);
  EXPECT_EQ(dataset.examples[0].image_path, tmp.path() / "lists" / "img/a.jpg");
  EXPECT_EQ(dataset.examples[0].caption, "a cat");
  EXPECT_EQ(dataset.examples[1].image_path, fs::path("/abs/b.png"));
  EXPECT_EQ(dataset.examples[1].caption, "a dog, running");
}

TEST(CaptionList, TsvAndJsonForms) {
  dualclip::testing::TempDir tmp;
  write_text(tmp.path() / "a.tsv", "image_path\tcaption\nx.jpg\tone, two\n");
  write_text(tmp.path() / "b.jsonl", "{\"image_path\": \"y.jpg\", \"caption\": \"first\"}\n\n"
                                     "{\"image_path\": \"z.jpg\", \"caption\": \"second\"}\n");
  write_text(tmp.path() / "c.json", "[{\"image_path\": \"w.jpg\", \"caption\": \"only\"}]");

  auto tsv = read_caption_list(tmp.path() / "a.tsv", {});
  ASSERT_EQ(tsv.examples.size(), 1u);
  EXPECT_EQ(tsv.examples[0].caption, "one, two");

  auto jsonl = read_caption_list(tmp.path() / "b.jsonl", {});
  ASSERT_EQ(jsonl.examples.size(), 2u);
  EXPECT_EQ(jsonl.examples[1].image_path, tmp.path() / "z.jpg");
  EXPECT_EQ(jsonl.examples[1].caption, "second");

  auto json_array = read_caption_list(tmp.path() / "c.json", {});
  ASSERT_EQ(json_array.examples.size(), 1u);
  EXPECT_EQ(json_array.examples[0].caption, "only");
}

TEST(CaptionList, BadInputNamesTheProblem) {
  dualclip::testing::TempDir tmp;
  write_text(tmp.path() / "cols.csv", "path,caption\nx.jpg,a\n");
  write_text(tmp.path() / "short.csv", "image_path,caption\nx.jpg\n");
  write_text(tmp.path() / "bad.jsonl", "{\"image_path\": \"x.jpg\", \"caption\": \"a\"}\n{oops\n");
  write_text(tmp.path() / "nocap.jsonl", "{\"image_path\": \"x.jpg\"}\n");
  write_text(tmp.path() / "list.txt", "x.jpg a\n");

  auto message_of = [](const std::function<void()>& call) {
    try {
      call();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message_of([&] { read_caption_list(tmp.path() / "cols.csv", {}); }).find("no column 'image_path'"),
            std::string::npos);
  EXPECT_NE(message_of([&] { read_caption_list(tmp.path() / "short.csv", {}); }).find("row 1 has 1 fields"),
            std::string::npos);
  EXPECT_NE(message_of([&] { read_caption_list(tmp.path() / "bad.jsonl", {}); }).find("line 2"), std::string::npos);
  EXPECT_NE(message_of([&] { read_caption_list(tmp.path() / "nocap.jsonl", {}); }).find("'caption'"),
            std::string::npos);
  EXPECT_NE(message_of([&] { read_caption_list(tmp.path() / "list.txt", {}); }).find("'.txt'"), std::string::npos);
  EXPECT_NE(message_of([&] { read_caption_list(tmp.path() / "none.csv", {}); }).find("not found"), std::string::npos);
}

TEST(CocoCaptions, OneRowPerCaption) {
  dualclip::testing::TempDir tmp;
  nlohmann::json root = {
      {"images", {{{"id", 7}, {"file_name", "000000000007.jpg"}}, {{"id", 9}, {"file_name", "000000000009.jpg"}}}},
      {"annotations",
       {{{"id", 1}, {"image_id", 9}, {"caption", "second image"}},
        {{"id", 2}, {"image_id", 7}, {"caption", "first image"}},
        {{"id", 3}, {"image_id", 9}, {"caption", "second image again"}}}}};
  write_text(tmp.path() / "annotations" / "captions_val2017.json", root.dump());

  auto dataset = read_coco_captions(tmp.path(), "val");
  ASSERT_EQ(dataset.examples.size(), 3u);
  EXPECT_EQ(dataset.examples[0].image_path, tmp.path() / "val2017" / "000000000009.jpg");
  EXPECT_EQ(dataset.examples[0].caption, "second image");
  EXPECT_EQ(dataset.examples[1].image_path, tmp.path() / "val2017" / "000000000007.jpg");
  EXPECT_EQ(dataset.examples[2].caption, "second image again");

  EXPECT_THROW(read_coco_captions(tmp.path(), "train"), Error);
  root["annotations"].push_back({{"id", 4}, {"image_id", 99}, {"caption", "orphan"}});
  write_text(tmp.path() / "annotations" / "captions_val2017.json", root.dump());
  EXPECT_THROW(read_coco_captions(tmp.path(), "val"), Error);
}

TEST(CaptionDataset, MissingImagesCountedOrFatal) {
  dualclip::testing::TempDir tmp;
  write_text(tmp.path() / "here.jpg", "x");
  CaptionDataset dataset;
  dataset.source = "list";
  for (int i = 0; i < 8; ++i) {
    dataset.examples.push_back({tmp.path() / (i % 2 == 0 ? "here.jpg" : "gone" + std::to_string(i) + ".jpg"), "c"});
  }

  CaptionDataset strict = dataset;
  EXPECT_THROW(drop_missing_images(strict, /*strict=*/true), Error);

  truncate_dataset(dataset, 7);
  EXPECT_EQ(dataset.examples.size(), 7u);
  drop_missing_images(dataset, /*strict=*/false);
  EXPECT_EQ(dataset.examples.size(), 4u);
  EXPECT_EQ(dataset.missing_images, 3);
  ASSERT_EQ(dataset.first_missing.size(), 3u);
  EXPECT_EQ(dataset.first_missing[0], tmp.path() / "gone1.jpg");
}

TEST(Sampler, PermutationIsSeededPerEpoch) {
  auto a = epoch_permutation(1000, 42, 0);
  auto b = epoch_permutation(1000, 42, 0);
  auto c = epoch_permutation(1000, 42, 1);
  auto d = epoch_permutation(1000, 43, 0);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_NE(a, d);
  auto sorted = a;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 1000; ++i) ASSERT_EQ(sorted[static_cast<size_t>(i)], i);
  EXPECT_EQ(epoch_permutation(5, 42, 0, /*shuffle=*/false), (std::vector<int64_t>{0, 1, 2, 3, 4}));
}

TEST(Sampler, BatchesKeepOrDropLast) {
  std::vector<int64_t> indices = {5, 3, 1, 0, 2, 4, 6};
  auto kept = make_batches(indices, 3, false);
  ASSERT_EQ(kept.size(), 3u);
  EXPECT_EQ(kept[2], (std::vector<int64_t>{6}));
  auto dropped = make_batches(indices, 3, true);
  ASSERT_EQ(dropped.size(), 2u);
  EXPECT_EQ(dropped[1], (std::vector<int64_t>{0, 2, 4}));
}

TEST(Sampler, ResumeFromGlobalPosition) {
  auto permutation = epoch_permutation(20, 42, 0);

  // Two ranks with batches of 3: after two steps the first 12 entries are used.
  auto rank0 = rank_indices(permutation, 0, 0, 2, false);
  auto rank1 = rank_indices(permutation, 0, 1, 2, false);
  std::set<int64_t> used(rank0.begin(), rank0.begin() + 6);
  used.insert(rank1.begin(), rank1.begin() + 6);
  EXPECT_EQ(used, std::set<int64_t>(permutation.begin(), permutation.begin() + 12));

  // One rank continues with exactly the rest.
  auto alone = rank_indices(permutation, 12, 0, 1, false);
  EXPECT_EQ(alone, std::vector<int64_t>(permutation.begin() + 12, permutation.end()));

  // Three ranks split the remaining 8 (padded to 9) evenly and cover all of them.
  std::set<int64_t> covered;
  for (int rank = 0; rank < 3; ++rank) {
    auto mine = rank_indices(permutation, 12, rank, 3, false);
    EXPECT_EQ(mine.size(), 3u) << "rank " << rank;
    covered.insert(mine.begin(), mine.end());
  }
  EXPECT_EQ(covered, std::set<int64_t>(permutation.begin() + 12, permutation.end()));
  EXPECT_TRUE(rank_indices(permutation, 20, 0, 2, false).empty());
}
