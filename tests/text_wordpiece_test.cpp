// WordPiece against HF's slow BertTokenizer: three golden vocabularies with different
// lower-casing, accent and CJK flags, and the ids of the ViT-BERT forward cases (text pairs too).
#include <torch/torch.h>

#include "dualclip/text/tokenizer.h"
#include "dualclip/text/tokenizer_files.h"
#include "dualclip/text/wordpiece_tokenizer.h"
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
std::vector<std::string> strings(const nlohmann::json& j) { return j.get<std::vector<std::string>>(); }

void check_case_file(const std::string& file) {
  nlohmann::json golden = read_json(golden_dir() / "tokenizer" / file);
  const auto dir = golden_dir() / "tokenizer" / golden["tokenizer_dir"].get<std::string>();
  dualclip::text::WordPieceTokenizer tokenizer{dualclip::text::TokenizerConfig(dir)};
  EXPECT_EQ(tokenizer.vocab_size(), golden["vocab_size"].get<int64_t>());
  EXPECT_TRUE(tokenizer.has_token_type_ids());

  const int64_t max_length = golden["max_length"].get<int64_t>();
  const std::string suffix = "_max_length_" + std::to_string(max_length);
  for (const auto& entry : golden["cases"]) {
    const std::string text = case_text(entry);
    SCOPED_TRACE(file + " text: " + entry["text"].dump());

    EXPECT_EQ(tokenizer.basic_tokenize(text), strings(entry["basic_tokens"]));
    EXPECT_EQ(tokenizer.tokenize(text), strings(entry["tokens"]));
    EXPECT_EQ(tokenizer.encode(text), ints(entry["input_ids"]));
    EXPECT_EQ(tokenizer.decode(ints(entry["input_ids"])), entry["decode"].get<std::string>());

    auto batch = tokenizer.batch_encode({text}, max_length, Padding::MaxLength);
    EXPECT_EQ(tensor_row(batch.input_ids, 0), ints(entry["input_ids" + suffix]));
    EXPECT_EQ(tensor_row(batch.attention_mask, 0), ints(entry["attention_mask" + suffix]));
    EXPECT_EQ(tensor_row(batch.token_type_ids, 0), ints(entry["token_type_ids" + suffix]));
  }
}

void expect_rows(const torch::Tensor& actual, const dualclip::testing::Int64Tensor& expected, const std::string& what) {
  ASSERT_EQ(actual.sizes().vec(), expected.shape) << what;
  for (int64_t i = 0; i < expected.shape[0]; ++i) EXPECT_EQ(tensor_row(actual, i), expected.row(i)) << what << " row " << i;
}

}  // namespace

TEST(TextWordPiece, GoldenUncased) {
  DUALCLIP_REQUIRE_GOLDEN();
  check_case_file("bert-uncased_cases.json");
}

TEST(TextWordPiece, GoldenCasedStripAccents) {
  DUALCLIP_REQUIRE_GOLDEN();
  check_case_file("bert-cased-strip_cases.json");
}

TEST(TextWordPiece, GoldenUncasedKeepAccentsNoChinese) {
  DUALCLIP_REQUIRE_GOLDEN();
  check_case_file("bert-uncased-nochinese-keepaccents_cases.json");
}

TEST(TextWordPiece, LoadTokenizerPicksWordPiece) {
  DUALCLIP_REQUIRE_GOLDEN();
  auto tokenizer = load_tokenizer(golden_dir() / "tokenizer" / "bert-uncased");
  EXPECT_EQ(tokenizer->type_name(), "wordpiece");
  EXPECT_EQ(tokenizer->pad_token_id(), 0);
  EXPECT_EQ(tokenizer->model_max_length(), 512);
}

TEST(TextWordPiece, ForwardCasesGiveStoredIds) {
  DUALCLIP_REQUIRE_GOLDEN();
  const auto forward = golden_dir() / "forward";
  auto tokenizer = load_tokenizer(golden_dir() / "dual" / "vit-bert");

  for (const std::string name : {"vit-bert__b4_images_captions_maxlen", "vit-bert__b5_random_pixels_pad_longest"}) {
    SCOPED_TRACE(name);
    nlohmann::json meta = read_json(forward / (name + ".json"));
    const auto file = forward / (name + ".safetensors");
    bool pad_longest = meta["tokenizer_call"].get<std::string>().find("padding=True") != std::string::npos;
    int64_t max_length = pad_longest ? tokenizer->model_max_length().value() : 16;
    auto batch = tokenizer->batch_encode(strings(meta["captions"]), max_length,
                                         pad_longest ? Padding::Longest : Padding::MaxLength);
    expect_rows(batch.input_ids, read_int64_tensor(file, "input.input_ids"), "input_ids");
    expect_rows(batch.attention_mask, read_int64_tensor(file, "input.attention_mask"), "attention_mask");
  }

  // Pretrained BertForMaskedLM: tok(captions, padding=True, truncation=True).
  auto bert = load_tokenizer(golden_dir() / "pretrained" / "bert-tiny");
  nlohmann::json towers = read_json(forward / "pretrained_towers_vit_bert.json");
  std::vector<std::string> captions = strings(towers["bert_captions"]);
  const auto file = forward / "pretrained_towers_vit_bert.safetensors";
  auto batch = bert->batch_encode(captions, bert->model_max_length().value(), Padding::Longest);
  expect_rows(batch.input_ids, read_int64_tensor(file, "bert.input.input_ids"), "bert input_ids");
  expect_rows(batch.attention_mask, read_int64_tensor(file, "bert.input.attention_mask"), "bert attention_mask");
  expect_rows(batch.token_type_ids, read_int64_tensor(file, "bert.input.token_type_ids"), "bert token_type_ids");
}

TEST(TextWordPiece, TextPairsGiveStoredTokenTypeIds) {
  DUALCLIP_REQUIRE_GOLDEN();
  const auto forward = golden_dir() / "forward";
  const std::string name = "vit-bert__b3_text_pairs_token_type_ids";
  nlohmann::json meta = read_json(forward / (name + ".json"));
  const auto file = forward / (name + ".safetensors");
  auto tokenizer = load_tokenizer(golden_dir() / "dual" / "vit-bert");

  auto batch = tokenizer->batch_encode_pairs(strings(meta["captions"]), strings(meta["captions_pair"]), 32,
                                             Padding::MaxLength);
  expect_rows(batch.input_ids, read_int64_tensor(file, "input.input_ids"), "input_ids");
  expect_rows(batch.attention_mask, read_int64_tensor(file, "input.attention_mask"), "attention_mask");
  expect_rows(batch.token_type_ids, read_int64_tensor(file, "input.token_type_ids"), "token_type_ids");

  // encode_pair gives the same unpadded row.
  auto pair = tokenizer->encode_pair(meta["captions"][0].get<std::string>(), meta["captions_pair"][0].get<std::string>());
  std::vector<int64_t> row = tensor_row(batch.input_ids, 0);
  row.resize(pair.input_ids.size());
  EXPECT_EQ(pair.input_ids, row);
}

TEST(TextWordPiece, PairTruncationTakesFromLongerSegment) {
  DUALCLIP_REQUIRE_GOLDEN();
  auto tokenizer = load_tokenizer(golden_dir() / "tokenizer" / "bert-uncased");
  // "a" is one piece; "playing played player plays" is eight. With max_length 8 and three
  // special tokens, five pieces fit: longest_first first cuts the longer segment down to the
  // shorter one, then splits the rest, so "a" stays and four pieces of the second remain.
  std::vector<int64_t> a = tokenizer->encode("a", false);
  std::vector<int64_t> b = tokenizer->encode("playing played player plays", false);
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(b.size(), 8u);
  auto batch = tokenizer->batch_encode_pairs({"a"}, {"playing played player plays"}, 8, Padding::Longest);
  std::vector<int64_t> expected = {4, a[0], 5, b[0], b[1], b[2], b[3], 5};
  EXPECT_EQ(tensor_row(batch.input_ids, 0), expected);
  EXPECT_EQ(tensor_row(batch.token_type_ids, 0), (std::vector<int64_t>{0, 0, 0, 1, 1, 1, 1, 1}));
}
