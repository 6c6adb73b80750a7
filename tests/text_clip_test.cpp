// CLIP BPE against HF's slow CLIPTokenizer without ftfy (BasicTokenizer cleaning), and the
// ids of the clip-text-tiny forward case.
#include <torch/torch.h>

#include "dualclip/text/bpe_tokenizer.h"
#include "dualclip/text/tokenizer.h"
#include "text_test_util.h"

using dualclip::testing::case_text;
using dualclip::testing::golden_dir;
using dualclip::testing::read_int64_tensor;
using dualclip::testing::read_json;
using dualclip::testing::tensor_row;
using dualclip::text::load_tokenizer;
using dualclip::text::Padding;

namespace {

std::vector<int64_t> ints(const nlohmann::json& j) { return j.get<std::vector<int64_t>>(); }

}  // namespace

TEST(TextClip, GoldenCasesMatchHf) {
  DUALCLIP_REQUIRE_GOLDEN();
  nlohmann::json golden = read_json(golden_dir() / "tokenizer" / "clip-tiny_cases.json");
  auto loaded = load_tokenizer(golden_dir() / "tokenizer" / golden["tokenizer_dir"].get<std::string>());
  ASSERT_EQ(loaded->type_name(), "clip-bpe");
  auto* tokenizer = dynamic_cast<dualclip::text::BpeTokenizer*>(loaded.get());
  ASSERT_NE(tokenizer, nullptr);
  EXPECT_EQ(tokenizer->vocab_size(), golden["vocab_size"].get<int64_t>());
  EXPECT_EQ(tokenizer->pad_token_id(), golden["pad_token_id"].get<int64_t>());
  EXPECT_EQ(tokenizer->merge_count(), golden["merges_read"].get<size_t>());
  EXPECT_FALSE(tokenizer->model_max_length().has_value());  // int(1e30): no limit

  const int64_t max_length = golden["max_length"].get<int64_t>();
  const std::string suffix = "_max_length_" + std::to_string(max_length);
  for (const auto& entry : golden["cases"]) {
    const std::string text = case_text(entry);
    SCOPED_TRACE("text: " + entry["text"].dump());

    EXPECT_EQ(tokenizer->clean_text(text), entry["cleaned_text"].get<std::string>());
    EXPECT_EQ(tokenizer->tokenize(text), entry["tokens"].get<std::vector<std::string>>());
    EXPECT_EQ(tokenizer->encode(text, false), ints(entry["ids_no_special"]));
    EXPECT_EQ(tokenizer->encode(text), ints(entry["input_ids"]));
    EXPECT_EQ(tokenizer->decode(ints(entry["input_ids"])), entry["decode"].get<std::string>());
    EXPECT_EQ(tokenizer->decode(ints(entry["input_ids"]), true), entry["decode_skip_special"].get<std::string>());

    auto batch = tokenizer->batch_encode({text}, max_length, Padding::MaxLength);
    EXPECT_EQ(tensor_row(batch.input_ids, 0), ints(entry["input_ids" + suffix]));
    EXPECT_EQ(tensor_row(batch.attention_mask, 0), ints(entry["attention_mask" + suffix]));
    EXPECT_FALSE(batch.token_type_ids.defined());
  }
}

TEST(TextClip, GoldenBatchPaddedToLongest) {
  DUALCLIP_REQUIRE_GOLDEN();
  nlohmann::json golden = read_json(golden_dir() / "tokenizer" / "clip-tiny_cases.json");
  auto tokenizer = load_tokenizer(golden_dir() / "tokenizer" / "clip-tiny");
  std::vector<std::string> texts;
  for (size_t i = 0; i < 8; ++i) texts.push_back(case_text(golden["cases"][i]));

  auto expected = read_int64_tensor(golden_dir() / "tokenizer" / golden["batch_file"].get<std::string>(), "input_ids");
  auto batch = tokenizer->batch_encode(texts, 1 << 20, Padding::Longest);
  ASSERT_EQ(batch.input_ids.sizes().vec(), expected.shape);
  for (int64_t i = 0; i < expected.shape[0]; ++i) {
    EXPECT_EQ(tensor_row(batch.input_ids, i), expected.row(i)) << "row " << i;
    // The pad id is eos, so the mask is 1 up to and including the first eos after position 0.
    std::vector<int64_t> unpadded = tokenizer->encode(texts[i]);
    std::vector<int64_t> mask = tensor_row(batch.attention_mask, i);
    for (size_t j = 0; j < mask.size(); ++j) EXPECT_EQ(mask[j], j < unpadded.size() ? 1 : 0) << "row " << i;
  }
}

TEST(TextClip, TextTowerDirGivesForwardIds) {
  DUALCLIP_REQUIRE_GOLDEN();
  const auto forward = golden_dir() / "forward";
  nlohmann::json meta = read_json(forward / "clip-text-tiny__texts.json");
  auto tokenizer = load_tokenizer(golden_dir() / "pretrained" / "clip-text-tiny");
  ASSERT_EQ(tokenizer->type_name(), "clip-bpe");
  EXPECT_EQ(tokenizer->model_max_length(), 20);

  auto batch = tokenizer->batch_encode(meta["captions"].get<std::vector<std::string>>(), 16, Padding::MaxLength);
  const auto file = forward / "clip-text-tiny__texts.safetensors";
  auto expected_ids = read_int64_tensor(file, "input.input_ids");
  auto expected_mask = read_int64_tensor(file, "input.attention_mask");
  ASSERT_EQ(batch.input_ids.sizes().vec(), expected_ids.shape);
  for (int64_t i = 0; i < expected_ids.shape[0]; ++i) {
    EXPECT_EQ(tensor_row(batch.input_ids, i), expected_ids.row(i)) << "row " << i;
    EXPECT_EQ(tensor_row(batch.attention_mask, i), expected_mask.row(i)) << "row " << i;
  }
}
