// BERT's BasicTokenizer (HF transformers 4.40): text cleaning, CJK isolation, NFC,
// lower-casing, accent stripping and punctuation splitting. WordPiece runs on its output;
// CLIP's slow tokenizer uses it (without punctuation splitting) to clean text when ftfy is
// not installed.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace dualclip::text {

struct BasicTokenizerOptions {
  bool do_lower_case = true;
  bool tokenize_chinese_chars = true;
  // null in tokenizer_config.json: strip accents exactly when lower-casing.
  std::optional<bool> strip_accents;
  bool split_on_punctuation = true;
  // Words passed through unchanged (not lower-cased, not split).
  std::set<std::string> never_split;
};

class BasicTokenizer {
 public:
  explicit BasicTokenizer(BasicTokenizerOptions options) : options_(std::move(options)) {}

  // The words of `text`; `extra_never_split` adds to the options' never_split for this call.
  std::vector<std::string> tokenize(std::string_view text, const std::set<std::string>* extra_never_split = nullptr) const;

  const BasicTokenizerOptions& options() const { return options_; }

 private:
  BasicTokenizerOptions options_;
};

// The CJK ideograph blocks BERT isolates (not kana, not Hangul).
bool is_cjk_ideograph(char32_t c);
// Drops Mn code points after NFD, as BasicTokenizer._run_strip_accents does.
std::string strip_accents(std::string_view text);

}  // namespace dualclip::text
