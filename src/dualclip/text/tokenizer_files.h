// Readers for the files of a Hugging Face tokenizer directory: tokenizer_config.json,
// special_tokens_map.json, vocab.json + merges.txt, vocab.txt and tokenizer.json. Every error
// names the file and says what is wrong with it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "dualclip/text/byte_level_bpe.h"

namespace dualclip::text {

// A token matched in the raw text before the model's own tokenization, with HF's AddedToken
// flags: lstrip/rstrip swallow the whitespace on that side, single_word matches only whole words.
struct AddedToken {
  std::string content;
  int64_t id = -1;
  bool lstrip = false;
  bool rstrip = false;
  bool single_word = false;
  bool normalized = true;
  bool special = true;
};

// The configuration files of one tokenizer directory; absent files read as empty objects.
class TokenizerConfig {
 public:
  explicit TokenizerConfig(const std::filesystem::path& dir);

  const std::filesystem::path& dir() const { return dir_; }
  bool has_file(const std::string& name) const { return std::filesystem::exists(dir_ / name); }
  // tokenizer_class from tokenizer_config.json without a trailing "Fast", if present.
  std::optional<std::string> tokenizer_class() const;
  // model_type from config.json, if the directory has one.
  std::optional<std::string> model_type() const;
  // A boolean setting of tokenizer_config.json; null or absent gives `fallback`.
  bool flag(const std::string& key, bool fallback) const;
  std::optional<bool> optional_flag(const std::string& key) const;
  // model_max_length when it is a real limit; HF's int(1e30) "no limit" and absence give nullopt.
  std::optional<int64_t> model_max_length() const;

  // The token named `key` ("bos_token", "pad_token", ...): tokenizer_config.json first, then
  // special_tokens_map.json, then `fallback`. Its flags come from the object form when given.
  AddedToken special_token(const std::string& key, const AddedToken& fallback) const;
  // additional_special_tokens, as contents.
  std::vector<std::string> additional_special_tokens() const;
  // added_tokens_decoder of tokenizer_config.json, else tokenizer.json's added_tokens.
  std::vector<AddedToken> added_tokens() const;

  // The parsed tokenizer.json, or a null json when the directory has none.
  const nlohmann::json& tokenizer_json() const { return tokenizer_json_; }
  std::filesystem::path path(const std::string& name) const { return dir_ / name; }

 private:
  std::filesystem::path dir_;
  nlohmann::json config_;
  nlohmann::json special_map_;
  nlohmann::json tokenizer_json_;
};

// Parses a JSON file; throws dualclip::Error naming the file when it is missing or invalid.
nlohmann::json read_json_file(const std::filesystem::path& path);

// vocab.json: an object mapping token strings to non-negative integer ids.
Vocab read_vocab_json(const std::filesystem::path& path);
// Converts a parsed vocabulary object (vocab.json, or tokenizer.json's model.vocab).
Vocab vocab_from_json(const nlohmann::json& json, const std::string& where);

// How a slow tokenizer reads merges.txt.
enum class MergesLayout {
  // RoBERTa/GPT-2: read().split("\n")[1:-1]. The first line is dropped, and so is the last,
  // which is empty when the file ends with a newline (a merge there is lost, as in HF).
  Gpt2,
  // CLIP: read().strip().split("\n")[1:48895]. The first line is dropped; a missing final
  // newline loses nothing; at most 49152 - 256 - 2 = 48894 merges are read.
  Clip,
};
std::vector<Merge> read_merges_txt(const std::filesystem::path& path, MergesLayout layout);
// tokenizer.json's model.merges: "a b" strings or ["a", "b"] arrays, in rank order.
std::vector<Merge> merges_from_json(const nlohmann::json& json, const std::string& where);

// vocab.txt: one token per line, the id is the line number. A token listed twice keeps its
// later id (as HF's dict does); the earlier id then has no token.
Vocab read_vocab_txt(const std::filesystem::path& path);

}  // namespace dualclip::text
