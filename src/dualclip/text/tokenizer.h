// The tokenizer interface every text tower uses, and batch encoding into int64 tensors.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <torch/types.h>

namespace dualclip::text {

enum class Padding { Longest, MaxLength };

struct BatchEncoding {
  torch::Tensor input_ids;       // int64 [batch, length]
  torch::Tensor attention_mask;  // int64 [batch, length]
  torch::Tensor token_type_ids;  // int64 [batch, length]; undefined for tokenizers without them (CLIP)
};

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Token strings of `text` without special tokens, as HF's tokenize().
  virtual std::vector<std::string> tokenize(const std::string& text) const = 0;
  // Ids of `text`; with `add_special_tokens`, wrapped as the model expects (<s> ... </s>,
  // [CLS] ... [SEP], <|startoftext|> ... <|endoftext|>).
  virtual std::vector<int64_t> encode(const std::string& text, bool add_special_tokens = true) const = 0;
  virtual std::string decode(const std::vector<int64_t>& ids, bool skip_special_tokens = false) const = 0;

  virtual int64_t pad_token_id() const = 0;
  virtual int64_t vocab_size() const = 0;
  // The model_max_length from tokenizer_config.json, when it is a real limit.
  virtual std::optional<int64_t> model_max_length() const = 0;
  virtual bool has_token_type_ids() const = 0;
  virtual std::string type_name() const = 0;  // "roberta-bpe", "wordpiece", "clip-bpe"

  // Encodes a batch: truncation to `max_length` (special tokens included), padding to the
  // longest row or to `max_length` on the right, attention_mask 1 on real tokens.
  BatchEncoding batch_encode(const std::vector<std::string>& texts, int64_t max_length,
                             Padding padding = Padding::Longest) const;
};

// Picks the tokenizer from the files of `model_dir`: vocab.json + merges.txt (RoBERTa/GPT-2
// byte-level BPE, or CLIP BPE when tokenizer_config.json names CLIPTokenizer), vocab.txt
// (WordPiece), or tokenizer.json. Throws dualclip::Error naming the folder and the files it
// looked for.
std::unique_ptr<Tokenizer> load_tokenizer(const std::filesystem::path& model_dir);

// Replaces each invalid UTF-8 sequence in `text` by U+FFFD and returns how many it replaced.
size_t repair_utf8(std::string& text);

}  // namespace dualclip::text
