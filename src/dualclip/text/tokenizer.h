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

// The longest caption the tokenizers accept, in UTF-8 bytes. Longer text is rejected rather
// than truncated because tokenizing it would take seconds before truncation drops nearly all of it.
constexpr size_t kMaxTextBytes = 1 << 20;

// One encoded text or text pair, before padding.
struct Encoding {
  std::vector<int64_t> input_ids;
  std::vector<int64_t> token_type_ids;  // 0 on the first segment, 1 on the second (pairs)
};

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

  // Wraps token ids (and a second segment) in the model's special tokens, as HF's
  // build_inputs_with_special_tokens and create_token_type_ids_from_sequences do. The default
  // adds none, for a tokenizer without special tokens.
  virtual Encoding build_inputs(const std::vector<int64_t>& ids, const std::vector<int64_t>* pair_ids = nullptr) const;
  // The token string of one id, as HF's convert_ids_to_tokens (byte-level BPE tokens stay in
  // their mapped form, e.g. "Ġcat"). The default decodes the single id.
  virtual std::string id_to_token(int64_t id) const;
  // How many special tokens build_inputs adds to one text, or to a pair.
  int64_t num_special_tokens(bool pair = false) const;

  // `text` and `text_pair` as one input: [CLS] a [SEP] b [SEP] for BERT (token types 0 then
  // 1), <s> a </s></s> b </s> for RoBERTa.
  Encoding encode_pair(const std::string& text, const std::string& text_pair) const;

  // Encodes a batch: truncation to `max_length` (special tokens included), padding to the
  // longest row or to `max_length` on the right, attention_mask 1 on real tokens.
  // A caption that cannot be encoded (longer than kMaxTextBytes) raises dualclip::Error
  // naming its index in `texts`. max_length must leave room for the special tokens.
  BatchEncoding batch_encode(const std::vector<std::string>& texts, int64_t max_length,
                             Padding padding = Padding::Longest) const;
  // Text pairs, truncated as HF's "longest_first" strategy does: tokens come off the end of
  // the longer segment (both alternately once they are equally long).
  BatchEncoding batch_encode_pairs(const std::vector<std::string>& texts, const std::vector<std::string>& text_pairs,
                                   int64_t max_length, Padding padding = Padding::Longest) const;
};

// Picks the tokenizer from the files of `model_dir`: vocab.json + merges.txt (RoBERTa/GPT-2
// byte-level BPE, or CLIP BPE when tokenizer_config.json names CLIPTokenizer), vocab.txt
// (WordPiece), or tokenizer.json. Throws dualclip::Error naming the folder and the files it
// looked for.
std::unique_ptr<Tokenizer> load_tokenizer(const std::filesystem::path& model_dir);

// Replaces each invalid UTF-8 sequence in `text` by U+FFFD and returns how many it replaced.
// A sequence is replaced as Python's decode(errors="replace") does: one U+FFFD per maximal
// subpart of an ill-formed sequence. The tokenizers apply the same rule to any invalid UTF-8
// they are given, so callers only need this to count and warn.
size_t repair_utf8(std::string& text);

// HF's clean_up_tokenization, applied by decode when the tokenizer's
// clean_up_tokenization_spaces is true: removes the space before . ? ! , and before 'm 's 've
// 're n't, and turns " ' " into "'".
std::string clean_up_tokenization(std::string text);

}  // namespace dualclip::text
