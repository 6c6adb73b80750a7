// Byte-level BPE tokenizers that give the ids of HF's slow RobertaTokenizer and CLIPTokenizer
// (transformers 4.40). Both split literal special tokens out first, pre-tokenize, map bytes to
// symbols and merge by rank; CLIP also cleans and lower-cases the text, marks word ends with
// "</w>" and uses its own pattern.
#pragma once

#include <memory>
#include <set>

#include "dualclip/text/added_tokens.h"
#include "dualclip/text/basic_tokenizer.h"
#include "dualclip/text/byte_level_bpe.h"
#include "dualclip/text/tokenizer.h"
#include "dualclip/text/tokenizer_files.h"

namespace dualclip::text {

enum class BpeFlavor { Roberta, Clip };

class BpeTokenizer : public Tokenizer {
 public:
  // Reads vocab.json + merges.txt, or tokenizer.json's model section when those are absent.
  BpeTokenizer(const TokenizerConfig& config, BpeFlavor flavor);

  std::vector<std::string> tokenize(const std::string& text) const override;
  std::vector<int64_t> encode(const std::string& text, bool add_special_tokens = true) const override;
  std::string decode(const std::vector<int64_t>& ids, bool skip_special_tokens = false) const override;

  int64_t pad_token_id() const override { return pad_id_; }
  int64_t vocab_size() const override { return vocab_size_; }
  std::optional<int64_t> model_max_length() const override { return model_max_length_; }
  bool has_token_type_ids() const override { return false; }
  std::string type_name() const override { return flavor_ == BpeFlavor::Clip ? "clip-bpe" : "roberta-bpe"; }

  Encoding build_inputs(const std::vector<int64_t>& ids, const std::vector<int64_t>* pair_ids = nullptr) const override;
  std::string id_to_token(int64_t id) const override;

  // CLIP only: the text its BPE pattern is applied to (BasicTokenizer cleaning, lower-casing,
  // words re-joined by single spaces), as HF's ' '.join(tokenizer.nlp.tokenize(text)).
  std::string clean_text(const std::string& text) const;
  size_t merge_count() const { return bpe_->merges().size(); }

 private:
  BpeWord encode_text(const std::string& text) const;
  void encode_plain(const std::string& text, BpeWord& out) const;
  std::string tokens_to_string(const std::vector<std::string>& tokens) const;

  BpeFlavor flavor_;
  std::filesystem::path dir_;
  std::unique_ptr<ByteLevelBpe> bpe_;
  std::unique_ptr<BasicTokenizer> cleaner_;  // CLIP only
  int64_t bos_id_ = -1;  // <s> (cls) or <|startoftext|>
  int64_t eos_id_ = -1;  // </s> (sep) or <|endoftext|>
  int64_t unk_id_ = -1;
  int64_t pad_id_ = -1;
  int64_t vocab_size_ = 0;
  std::optional<int64_t> model_max_length_;
  SpecialTokens specials_;
  bool clean_up_spaces_ = true;
};

}  // namespace dualclip::text
