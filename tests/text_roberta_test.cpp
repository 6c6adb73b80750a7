// RoBERTa byte-level BPE against HF's slow RobertaTokenizer (golden cases over the full GPT-2
// vocabulary), and the ids stored with the forward cases of the RoBERTa checkpoints.
#include <torch/torch.h>

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

TEST(TextRoberta, GoldenCasesMatchHf) {
  DUALCLIP_REQUIRE_GOLDEN();
  nlohmann::json golden = read_json(golden_dir() / "tokenizer" / "roberta_cases.json");
  auto tokenizer = load_tokenizer(golden_dir() / "tokenizer" / golden["tokenizer_dir"].get<std::string>());
  ASSERT_EQ(tokenizer->type_name(), "roberta-bpe");
  EXPECT_EQ(tokenizer->vocab_size(), golden["vocab_size"].get<int64_t>());
  EXPECT_EQ(tokenizer->pad_token_id(), 1);
  EXPECT_FALSE(tokenizer->has_token_type_ids());

  const int64_t max_length = golden["max_length"].get<int64_t>();
  const std::string suffix = "_max_length_" + std::to_string(max_length);
  for (const auto& entry : golden["cases"]) {
    const std::string text = case_text(entry);
    SCOPED_TRACE("text: " + entry["text"].dump());

    EXPECT_EQ(tokenizer->tokenize(text), entry["tokens"].get<std::vector<std::string>>());
    EXPECT_EQ(tokenizer->encode(text, false), ints(entry["ids_no_special"]));
    EXPECT_EQ(tokenizer->encode(text), ints(entry["input_ids"]));
    EXPECT_EQ(tokenizer->decode(ints(entry["ids_no_special"])), entry["decode_no_special"].get<std::string>());

    auto batch = tokenizer->batch_encode({text}, max_length, Padding::MaxLength);
    EXPECT_EQ(tensor_row(batch.input_ids, 0), ints(entry["input_ids" + suffix]));
    EXPECT_EQ(tensor_row(batch.attention_mask, 0), ints(entry["attention_mask" + suffix]));
    EXPECT_FALSE(batch.token_type_ids.defined());
  }
}

TEST(TextRoberta, GoldenBatchPaddedToLongest) {
  DUALCLIP_REQUIRE_GOLDEN();
  nlohmann::json golden = read_json(golden_dir() / "tokenizer" / "roberta_cases.json");
  auto tokenizer = load_tokenizer(golden_dir() / "tokenizer" / "roberta-gpt2vocab");
  std::vector<std::string> texts;
  for (size_t i = 0; i < 8; ++i) texts.push_back(case_text(golden["cases"][i]));

  auto expected = read_int64_tensor(golden_dir() / "tokenizer" / golden["batch_file"].get<std::string>(), "input_ids");
  auto batch = tokenizer->batch_encode(texts, 512, Padding::Longest);
  ASSERT_EQ(batch.input_ids.sizes().vec(), expected.shape);
  for (int64_t i = 0; i < expected.shape[0]; ++i) {
    EXPECT_EQ(tensor_row(batch.input_ids, i), expected.row(i)) << "row " << i;
    std::vector<int64_t> mask = tensor_row(batch.attention_mask, i);
    std::vector<int64_t> row = expected.row(i);
    for (size_t j = 0; j < row.size(); ++j) {
      // Padding and the mask agree: no real token of these strings is <pad>.
      EXPECT_EQ(mask[j], row[j] == 1 ? 0 : 1) << "row " << i << " position " << j;
    }
  }
}

TEST(TextRoberta, DualAndPretrainedDirsGiveForwardIds) {
  DUALCLIP_REQUIRE_GOLDEN();
  const auto forward = golden_dir() / "forward";
  for (const std::string name : {"clip-roberta__b1", "clip-roberta__b4_images_captions_maxlen",
                                 "clip-roberta__b6_random_pixels", "clip-roberta__i3_t2_nonsquare_pad_longest"}) {
    SCOPED_TRACE(name);
    nlohmann::json meta = read_json(forward / (name + ".json"));
    auto captions = meta["captions"].get<std::vector<std::string>>();
    auto expected_ids = read_int64_tensor(forward / (name + ".safetensors"), "input.input_ids");
    auto expected_mask = read_int64_tensor(forward / (name + ".safetensors"), "input.attention_mask");

    for (const std::string dual : {"clip-roberta", "clip-roberta-sharded"}) {
      auto tokenizer = load_tokenizer(golden_dir() / "dual" / dual);
      bool pad_longest = meta["tokenizer_call"].get<std::string>().find("padding=True") != std::string::npos;
      int64_t max_length = pad_longest ? tokenizer->model_max_length().value() : 16;
      auto batch = tokenizer->batch_encode(captions, max_length, pad_longest ? Padding::Longest : Padding::MaxLength);
      ASSERT_EQ(batch.input_ids.sizes().vec(), expected_ids.shape) << dual;
      for (int64_t i = 0; i < expected_ids.shape[0]; ++i) {
        EXPECT_EQ(tensor_row(batch.input_ids, i), expected_ids.row(i)) << dual << " row " << i;
        EXPECT_EQ(tensor_row(batch.attention_mask, i), expected_mask.row(i)) << dual << " row " << i;
      }
    }
  }

  // RobertaForMaskedLM checkpoint: tok(captions, padding=True, truncation=True) at model_max_length.
  nlohmann::json towers = read_json(forward / "pretrained_towers.json");
  auto captions = towers["roberta_captions"].get<std::vector<std::string>>();
  auto expected = read_int64_tensor(forward / "pretrained_towers.safetensors", "roberta.input.input_ids");
  auto expected_mask = read_int64_tensor(forward / "pretrained_towers.safetensors", "roberta.input.attention_mask");
  for (const std::string dir : {"roberta-tiny", "roberta-tiny-bin"}) {
    auto tokenizer = load_tokenizer(golden_dir() / "pretrained" / dir);
    ASSERT_EQ(tokenizer->model_max_length(), 32);
    auto batch = tokenizer->batch_encode(captions, *tokenizer->model_max_length(), Padding::Longest);
    ASSERT_EQ(batch.input_ids.sizes().vec(), expected.shape) << dir;
    for (int64_t i = 0; i < expected.shape[0]; ++i) {
      EXPECT_EQ(tensor_row(batch.input_ids, i), expected.row(i)) << dir << " row " << i;
      EXPECT_EQ(tensor_row(batch.attention_mask, i), expected_mask.row(i)) << dir << " row " << i;
    }
  }
}

TEST(TextRoberta, SkipSpecialTokensOnDecode) {
  DUALCLIP_REQUIRE_GOLDEN();
  auto tokenizer = load_tokenizer(golden_dir() / "tokenizer" / "roberta-gpt2vocab");
  std::vector<int64_t> ids = tokenizer->encode("a photo of a cat");
  EXPECT_EQ(tokenizer->decode(ids, true), "a photo of a cat");
  EXPECT_EQ(tokenizer->decode(ids, false), "<s>a photo of a cat</s>");
  EXPECT_EQ(tokenizer->id_to_token(ids[2]), "\xC4\xA0photo");  // "Ġphoto"
}

TEST(TextRoberta, PairsUseDoubleSeparator) {
  DUALCLIP_REQUIRE_GOLDEN();
  auto tokenizer = load_tokenizer(golden_dir() / "tokenizer" / "roberta-gpt2vocab");
  std::vector<int64_t> a = tokenizer->encode("a cat", false);
  std::vector<int64_t> b = tokenizer->encode("a dog", false);
  auto pair = tokenizer->encode_pair("a cat", "a dog");
  std::vector<int64_t> expected = {0};
  expected.insert(expected.end(), a.begin(), a.end());
  expected.insert(expected.end(), {2, 2});
  expected.insert(expected.end(), b.begin(), b.end());
  expected.push_back(2);
  EXPECT_EQ(pair.input_ids, expected);
  EXPECT_EQ(tokenizer->num_special_tokens(true), 4);
}
