#include "dualclip/text/basic_tokenizer.h"

#include "dualclip/text/unicode.h"

namespace dualclip::text {

namespace {

bool is_bert_whitespace(char32_t c) {
  return c == U' ' || c == U'\t' || c == U'\n' || c == U'\r' || unicode::is_space_separator(c);
}

bool is_bert_control(char32_t c) {
  if (c == U'\t' || c == U'\n' || c == U'\r') return false;
  return unicode::is_other_category(c);
}

// Any non-alphanumeric printable ASCII counts, so "$" and "^" split although Unicode calls them symbols.
bool is_bert_punctuation(char32_t c) {
  if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126)) return true;
  return unicode::is_punctuation_category(c);
}

// Drops NUL, U+FFFD and control/format characters; every whitespace becomes a space. CJK
// ideographs get a space on both sides when `isolate_cjk` is set.
std::string clean_text(std::string_view text, bool isolate_cjk) {
  std::string out;
  out.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    char32_t c = unicode::next_code_point(text, pos);
    if (c == 0 || c == unicode::kReplacementCharacter || is_bert_control(c)) continue;
    if (is_bert_whitespace(c)) {
      out.push_back(' ');
    } else if (isolate_cjk && is_cjk_ideograph(c)) {
      out.push_back(' ');
      unicode::append_utf8(out, c);
      out.push_back(' ');
    } else {
      unicode::append_utf8(out, c);
    }
  }
  return out;
}

// Each punctuation character becomes its own word.
void split_on_punctuation(std::string_view word, std::vector<std::string>& out) {
  bool start_new_word = true;
  for (size_t pos = 0; pos < word.size();) {
    char32_t c = unicode::next_code_point(word, pos);
    if (is_bert_punctuation(c)) {
      out.emplace_back();
      unicode::append_utf8(out.back(), c);
      start_new_word = true;
      continue;
    }
    if (start_new_word) out.emplace_back();
    start_new_word = false;
    unicode::append_utf8(out.back(), c);
  }
}

}  // namespace

bool is_cjk_ideograph(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
         (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

std::string strip_accents(std::string_view text) {
  if (unicode::is_ascii(text)) return std::string(text);
  std::string decomposed = unicode::normalize_nfd(text);
  std::string out;
  out.reserve(decomposed.size());
  for (size_t pos = 0; pos < decomposed.size();) {
    char32_t c = unicode::next_code_point(decomposed, pos);
    if (!unicode::is_nonspacing_mark(c)) unicode::append_utf8(out, c);
  }
  return out;
}

std::vector<std::string> BasicTokenizer::tokenize(std::string_view text,
                                                  const std::set<std::string>* extra_never_split) const {
  auto never_split = [&](const std::string& word) {
    return options_.never_split.count(word) > 0 || (extra_never_split && extra_never_split->count(word) > 0);
  };
  // strip_accents null follows do_lower_case; false keeps accents even when lower-casing.
  bool strip = options_.strip_accents.value_or(options_.do_lower_case);

  std::string cleaned = unicode::normalize_nfc(clean_text(text, options_.tokenize_chinese_chars));

  std::vector<std::string> pieces;
  for (std::string_view view : unicode::split_python_whitespace(cleaned)) {
    std::string word(view);
    if (never_split(word)) {
      pieces.push_back(std::move(word));
      continue;
    }
    if (options_.do_lower_case) word = unicode::to_lower(word);
    if (strip) word = strip_accents(word);
    if (options_.split_on_punctuation && !never_split(word)) {
      split_on_punctuation(word, pieces);
    } else {
      pieces.push_back(std::move(word));
    }
  }

  // HF re-splits the joined pieces on whitespace: lower-casing or accent stripping can leave
  // an empty piece, which disappears here.
  std::vector<std::string> words;
  for (auto& piece : pieces) {
    for (std::string_view part : unicode::split_python_whitespace(piece)) words.emplace_back(part);
  }
  return words;
}

}  // namespace dualclip::text
