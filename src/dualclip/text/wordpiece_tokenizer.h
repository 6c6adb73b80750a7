// WordPiece as HF's slow BertTokenizer (transformers 4.40): literal special tokens split out,
// BasicTokenizer words, then greedy longest-match pieces with "##" continuations.
#pragma once

#include <memory>

#include "dualclip/text/added_tokens.h"
#include "dualclip/text/basic_tokenizer.h"
#include "dualclip/text/tokenizer.h"
#include "dualclip/text/tokenizer_files.h"

namespace dualclip::text {

class WordPieceTokenizer : public Tokenizer {
 public:
  // Reads vocab.txt, or tokenizer.json's WordPiece model when vocab.txt is absent; the
  // options come from tokenizer_config.json (do_lower_case, strip_accents,
  // tokenize_chinese_chars, do_basic_tokenize, never_split).
  explicit WordPieceTokenizer(const TokenizerConfig& config);

  std::vector<std::string> tokenize(const std::string& text) const override;
  std::vector<int64_t> encode(const std::string& text, bool add_special_tokens = true) const override;
  std::string decode(const std::vector<int64_t>& ids, bool skip_special_tokens = false) const override;

  int64_t pad_token_id() const override { return pad_id_; }
  int64_t vocab_size() const override { return vocab_size_; }
  std::optional<int64_t> model_max_length() const override { return model_max_length_; }
  bool has_token_type_ids() const override { return true; }
  std::string type_name() const override { return "wordpiece"; }

  Encoding build_inputs(const std::vector<int64_t>& ids, const std::vector<int64_t>* pair_ids = nullptr) const override;
  std::string id_to_token(int64_t id) const override;

  // The words BasicTokenizer gives for `text`, treating the special tokens as never_split (what
  // HF's basic_tokenizer.tokenize(text, never_split=all_special_tokens) returns).
  std::vector<std::string> basic_tokenize(const std::string& text) const;

 private:
  std::string lower_case_outside_specials(const std::string& text) const;
  void wordpiece(const std::string& word, std::vector<std::string>& out) const;
  int64_t token_to_id(const std::string& token) const;

  std::filesystem::path dir_;
  Vocab vocab_;
  std::unordered_map<int64_t, std::string> id_to_token_;
  SpecialTokens specials_;
  std::unique_ptr<BasicTokenizer> basic_;  // null when do_basic_tokenize is false
  std::set<std::string> special_never_split_;
  bool lower_case_ = true;
  std::string continuation_prefix_ = "##";
  size_t max_chars_per_word_ = 100;
  int64_t cls_id_ = -1;
  int64_t sep_id_ = -1;
  int64_t pad_id_ = -1;
  int64_t unk_id_ = -1;
  int64_t vocab_size_ = 0;
  std::optional<int64_t> model_max_length_;
  bool clean_up_spaces_ = true;
};

}  // namespace dualclip::text
