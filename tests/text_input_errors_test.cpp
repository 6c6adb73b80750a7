// Bad tokenizer files and bad captions: each error names the file (or caption) and the problem.
// The tokenizer directories are written here, in temporary folders.
#include <fstream>
#include <functional>
#include <thread>

#include <torch/torch.h>

#include "dualclip/core/error.h"
#include "dualclip/text/tokenizer.h"
#include "text_test_util.h"

using dualclip::testing::TempDir;
using dualclip::text::load_tokenizer;
using dualclip::text::Padding;

namespace {

void write(const std::filesystem::path& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary);
  out << content;
}

// A minimal RoBERTa-layout directory: specials, the bytes of "a cat", and merges a+t, c+at, Ġ+cat.
void write_tiny_roberta(const std::filesystem::path& dir,
                        const std::string& merges = "#version: 0.2\na t\nc at\n\u0120 cat\n") {
  write(dir / "vocab.json",
        R"({"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3, "a": 4, "c": 5, "t": 6, "\u0120": 7, "at": 8, "cat": 9,
            "\u0120cat": 10, "<mask>": 11})");
  write(dir / "merges.txt", merges);
}

std::string error_of(const std::function<void()>& call) {
  try {
    call();
  } catch (const dualclip::Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(TextInputErrors, VocabJsonNotJson) {
  TempDir tmp;
  write_tiny_roberta(tmp.path());
  write(tmp.path() / "vocab.json", "{\"a\": 1,");
  std::string message = error_of([&] { load_tokenizer(tmp.path()); });
  EXPECT_NE(message.find("vocab.json"), std::string::npos) << message;
  EXPECT_NE(message.find("not valid JSON"), std::string::npos) << message;
}

TEST(TextInputErrors, VocabJsonNotStringToIntMap) {
  TempDir tmp;
  write_tiny_roberta(tmp.path());
  write(tmp.path() / "vocab.json", R"({"<s>": 0, "a": "one"})");
  std::string message = error_of([&] { load_tokenizer(tmp.path()); });
  EXPECT_NE(message.find("vocab.json"), std::string::npos) << message;
  EXPECT_NE(message.find("\"a\""), std::string::npos) << message;

  write(tmp.path() / "vocab.json", R"(["<s>", "a"])");
  message = error_of([&] { load_tokenizer(tmp.path()); });
  EXPECT_NE(message.find("must be a JSON object"), std::string::npos) << message;
}

TEST(TextInputErrors, MalformedMergesLine) {
  TempDir tmp;
  write_tiny_roberta(tmp.path(), "#version: 0.2\na t\nc a t\n");
  std::string message = error_of([&] { load_tokenizer(tmp.path()); });
  EXPECT_NE(message.find("merges.txt line 3"), std::string::npos) << message;
}

TEST(TextInputErrors, MissingSpecialToken) {
  TempDir tmp;
  write_tiny_roberta(tmp.path());
  write(tmp.path() / "vocab.json", R"({"<s>": 0, "</s>": 2, "<unk>": 3, "a": 4})");
  std::string message = error_of([&] { load_tokenizer(tmp.path()); });
  EXPECT_NE(message.find("<pad>"), std::string::npos) << message;
  EXPECT_NE(message.find("pad_token"), std::string::npos) << message;
  EXPECT_NE(message.find("vocab.json"), std::string::npos) << message;

  TempDir bert;
  write(bert.path() / "vocab.txt", "[PAD]\n[UNK]\n[CLS]\nhello\n");
  message = error_of([&] { load_tokenizer(bert.path()); });
  EXPECT_NE(message.find("[SEP]"), std::string::npos) << message;
  EXPECT_NE(message.find("vocab.txt"), std::string::npos) << message;
}

TEST(TextInputErrors, FolderWithoutTokenizer) {
  TempDir tmp;
  std::string message = error_of([&] { load_tokenizer(tmp.path()); });
  EXPECT_NE(message.find("has no tokenizer"), std::string::npos) << message;
  message = error_of([&] { load_tokenizer(tmp.path() / "missing"); });
  EXPECT_NE(message.find("does not exist"), std::string::npos) << message;

  write(tmp.path() / "tokenizer_config.json", R"({"tokenizer_class": "T5Tokenizer"})");
  message = error_of([&] { load_tokenizer(tmp.path()); });
  EXPECT_NE(message.find("T5Tokenizer"), std::string::npos) << message;
}

TEST(TextInputErrors, TinyRobertaMergesAndLastLineRule) {
  TempDir tmp;
  write_tiny_roberta(tmp.path());
  auto tokenizer = load_tokenizer(tmp.path());
  EXPECT_EQ(tokenizer->tokenize("cat cat"), (std::vector<std::string>{"cat", "\xC4\xA0" "cat"}));
  EXPECT_EQ(tokenizer->encode("cat cat"), (std::vector<int64_t>{0, 9, 10, 2}));

  // Without a final newline HF's reader loses the last merge (c + at), so "cat" stays split.
  TempDir no_newline;
  write_tiny_roberta(no_newline.path(), "#version: 0.2\na t\nc at");
  auto truncated = load_tokenizer(no_newline.path());
  EXPECT_EQ(truncated->tokenize("cat"), (std::vector<std::string>{"c", "at"}));
}

TEST(TextInputErrors, EmptyCaptionIsOnlySpecials) {
  TempDir tmp;
  write_tiny_roberta(tmp.path());
  auto tokenizer = load_tokenizer(tmp.path());
  EXPECT_EQ(tokenizer->encode(""), (std::vector<int64_t>{0, 2}));
  auto batch = tokenizer->batch_encode({"", "cat"}, 6, Padding::MaxLength);
  EXPECT_EQ(dualclip::testing::tensor_row(batch.input_ids, 0), (std::vector<int64_t>{0, 2, 1, 1, 1, 1}));
  EXPECT_EQ(dualclip::testing::tensor_row(batch.attention_mask, 0), (std::vector<int64_t>{1, 1, 0, 0, 0, 0}));
}

TEST(TextInputErrors, OverlongCaptionNamesIndex) {
  TempDir tmp;
  write_tiny_roberta(tmp.path());
  auto tokenizer = load_tokenizer(tmp.path());
  std::string huge(dualclip::text::kMaxTextBytes + 1, 'a');
  std::string message = error_of([&] { tokenizer->batch_encode({"cat", huge}, 16); });
  EXPECT_NE(message.find("caption 1"), std::string::npos) << message;
  EXPECT_NE(message.find("limit"), std::string::npos) << message;

  // Just under the limit is accepted and truncated to max_length.
  std::string long_caption;
  while (long_caption.size() + 4 <= dualclip::text::kMaxTextBytes) long_caption += "cat ";
  auto batch = tokenizer->batch_encode({long_caption}, 16);
  EXPECT_EQ(batch.input_ids.size(1), 16);
  EXPECT_EQ(batch.input_ids[0][15].item<int64_t>(), 2);
}

TEST(TextInputErrors, MaxLengthMustLeaveRoom) {
  TempDir tmp;
  write_tiny_roberta(tmp.path());
  auto tokenizer = load_tokenizer(tmp.path());
  std::string message = error_of([&] { tokenizer->batch_encode({"cat"}, 2); });
  EXPECT_NE(message.find("max_length 2"), std::string::npos) << message;
  message = error_of([&] { tokenizer->batch_encode_pairs({"cat"}, {"cat"}, 4); });
  EXPECT_NE(message.find("at least 5"), std::string::npos) << message;
}

TEST(TextInputErrors, RepairUtf8ReplacesMaximalSubparts) {
  // Expected values checked with Python's bytes.decode("utf-8", "replace").
  struct Case {
    std::string input;
    std::string expected;
    size_t replaced;
  };
  const std::string fffd = "\xEF\xBF\xBD";
  std::vector<Case> cases = {
      {"plain", "plain", 0},
      {"a\xFF" "b", "a" + fffd + "b", 1},
      {"\xF0\x9F\x98", fffd, 1},               // truncated 4-byte sequence: one replacement
      {"\xE0\x80\xAF", fffd + fffd + fffd, 3},  // overlong: E0 needs A0..BF next
      {"\xED\xA0\x80", fffd + fffd + fffd, 3},  // surrogate
      {"\xC3\xA9\xC3", "\xC3\xA9" + fffd, 1},
  };
  for (auto& c : cases) {
    std::string text = c.input;
    EXPECT_EQ(dualclip::text::repair_utf8(text), c.replaced) << c.expected;
    EXPECT_EQ(text, c.expected);
  }
}

TEST(TextInputErrors, InvalidUtf8CaptionEncodesLikeRepaired) {
  TempDir tmp;
  write_tiny_roberta(tmp.path());
  auto tokenizer = load_tokenizer(tmp.path());
  std::string bad = "cat\xFF";
  std::string repaired = bad;
  dualclip::text::repair_utf8(repaired);
  EXPECT_EQ(tokenizer->encode(bad), tokenizer->encode(repaired));
  // U+FFFD is the bytes EF BF BD, which map to the symbols ï ¿ ½; no merge joins them here.
  std::vector<std::string> tokens = tokenizer->tokenize(bad);
  ASSERT_EQ(tokens.size(), 4u);
  EXPECT_EQ(tokens[1] + tokens[2] + tokens[3], "\xC3\xAF\xC2\xBF\xC2\xBD");
}

TEST(TextInputErrors, TokenizerJsonOnlyDirectory) {
  TempDir tmp;
  write(tmp.path() / "tokenizer.json", R"({
    "added_tokens": [{"id": 0, "content": "<s>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": true, "special": true},
                     {"id": 1, "content": "<pad>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": true, "special": true},
                     {"id": 2, "content": "</s>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": true, "special": true},
                     {"id": 3, "content": "<unk>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": true, "special": true}],
    "model": {"type": "BPE", "vocab": {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3, "a": 4, "c": 5, "t": 6, "at": 7, "cat": 8},
              "merges": ["a t", ["c", "at"]]}})");
  auto tokenizer = load_tokenizer(tmp.path());
  EXPECT_EQ(tokenizer->type_name(), "roberta-bpe");
  EXPECT_EQ(tokenizer->encode("cat"), (std::vector<int64_t>{0, 8, 2}));
}

TEST(TextInputErrors, ConcurrentEncodingAgrees) {
  TempDir tmp;
  write_tiny_roberta(tmp.path());
  auto tokenizer = load_tokenizer(tmp.path());
  std::vector<std::string> captions;
  for (int i = 0; i < 200; ++i) captions.push_back(std::string(i % 7 + 1, 'a') + " cat " + std::to_string(i));
  std::vector<std::vector<int64_t>> serial;
  for (const auto& c : captions) serial.push_back(tokenizer->encode(c));

  std::vector<std::vector<std::vector<int64_t>>> results(4, std::vector<std::vector<int64_t>>(captions.size()));
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (size_t i = 0; i < captions.size(); ++i) results[t][i] = tokenizer->encode(captions[i]);
    });
  }
  for (auto& thread : threads) thread.join();
  for (int t = 0; t < 4; ++t) EXPECT_EQ(results[t], serial) << "thread " << t;
}

TEST(TextInputErrors, TokenizeCommandPrintsTableAndJson) {
  DUALCLIP_REQUIRE_GOLDEN();
  std::string output;
  const std::string dir = (dualclip::testing::golden_dir() / "tokenizer" / "bert-uncased").string();
  ASSERT_EQ(dualclip::testing::run_dualclip("tokenize --model " + dir + " --texts 'unaffable' --json", &output), 0)
      << output;
  // The golden input_ids of "unaffable" are [4, 190, 191, 192, 5].
  EXPECT_NE(output.find("\"input_ids\":[4,190,191,192,5]"), std::string::npos) << output;
  EXPECT_NE(output.find("\"##aff\""), std::string::npos) << output;

  ASSERT_EQ(dualclip::testing::run_dualclip("tokenize --model " + dir + " --texts 'unaffable' --padding max_length "
                                            "--max_seq_length 7", &output), 0) << output;
  EXPECT_NE(output.find("[PAD]"), std::string::npos) << output;

  EXPECT_EQ(dualclip::testing::run_dualclip("tokenize --model " + dir + " --texts a --padding left", &output), 2);
  EXPECT_NE(output.find("--padding"), std::string::npos) << output;
}
