#include "dualclip/text/pretokenize.h"

#include <string>

#include "dualclip/text/unicode.h"

namespace dualclip::text {

namespace {

enum class CharClass : uint8_t { Space, Letter, Number, Other };

// The text as code points with their classes and byte offsets (offsets has one extra entry:
// the end of the text), so that pieces can be returned as views of the input.
struct Scan {
  std::u32string chars;
  std::vector<CharClass> classes;
  std::vector<size_t> offsets;
};

CharClass classify(char32_t c) {
  if (unicode::is_regex_space(c)) return CharClass::Space;
  if (unicode::is_letter(c)) return CharClass::Letter;
  if (unicode::is_number(c)) return CharClass::Number;
  return CharClass::Other;
}

Scan scan(std::string_view text) {
  Scan s;
  for (size_t pos = 0; pos < text.size();) {
    s.offsets.push_back(pos);
    char32_t c = unicode::next_code_point(text, pos);
    s.chars.push_back(c);
    s.classes.push_back(classify(c));
  }
  s.offsets.push_back(text.size());
  return s;
}

size_t run_end(const Scan& s, size_t i, CharClass cls) {
  while (i < s.chars.size() && s.classes[i] == cls) ++i;
  return i;
}

// Length of a contraction ('s 't 're 've 'm 'll 'd) starting at i, or 0. With `ignore_case`
// the letters are compared by simple case folding, as regex's IGNORECASE does.
size_t contraction_length(const Scan& s, size_t i, bool ignore_case) {
  if (s.chars[i] != U'\'' || i + 1 >= s.chars.size()) return 0;
  auto letter = [&](size_t k) -> char32_t {
    if (i + k >= s.chars.size()) return 0;
    return ignore_case ? unicode::simple_case_fold(s.chars[i + k]) : s.chars[i + k];
  };
  char32_t a = letter(1);
  if (a == U's' || a == U't' || a == U'm' || a == U'd') return 2;
  char32_t b = letter(2);
  if ((a == U'r' && b == U'e') || (a == U'v' && b == U'e') || (a == U'l' && b == U'l')) return 3;
  return 0;
}

// True when `literal` (ASCII) starts at code point i, compared by simple case folding.
bool literal_at(const Scan& s, size_t i, std::string_view literal) {
  if (i + literal.size() > s.chars.size()) return false;
  for (size_t k = 0; k < literal.size(); ++k) {
    if (unicode::simple_case_fold(s.chars[i + k]) != static_cast<char32_t>(literal[k])) return false;
  }
  return true;
}

// End of the GPT-2 piece that starts at code point i.
size_t gpt2_piece_end(const Scan& s, size_t i) {
  const size_t n = s.chars.size();
  if (size_t length = contraction_length(s, i, false)) return i + length;

  // ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`: an optional U+0020 then a run of one class.
  size_t body = (s.chars[i] == U' ' && i + 1 < n && s.classes[i + 1] != CharClass::Space) ? i + 1 : i;
  if (s.classes[body] != CharClass::Space) return run_end(s, body, s.classes[body]);

  // `\s+(?!\S)` backs off one character so that the last space can prefix the next word;
  // a single space before a non-space falls through to `\s+`.
  size_t end = run_end(s, i, CharClass::Space);
  if (end < n && end - i >= 2) return end - 1;
  return end;
}

}  // namespace

std::vector<std::string_view> gpt2_pretokenize(std::string_view text) {
  Scan s = scan(text);
  std::vector<std::string_view> pieces;
  for (size_t i = 0; i < s.chars.size();) {
    size_t end = gpt2_piece_end(s, i);
    pieces.push_back(text.substr(s.offsets[i], s.offsets[end] - s.offsets[i]));
    i = end;
  }
  return pieces;
}

std::vector<std::string_view> clip_pretokenize(std::string_view text) {
  static constexpr std::string_view kSpecials[] = {"<|startoftext|>", "<|endoftext|>"};
  Scan s = scan(text);
  std::vector<std::string_view> pieces;
  for (size_t i = 0; i < s.chars.size();) {
    size_t end = i;
    for (std::string_view special : kSpecials) {
      if (end == i && literal_at(s, i, special)) end = i + special.size();
    }
    if (end == i) end = i + contraction_length(s, i, true);
    if (end == i) {
      switch (s.classes[i]) {
        case CharClass::Space: ++i; continue;  // no alternative matches whitespace
        case CharClass::Letter: end = run_end(s, i, CharClass::Letter); break;
        case CharClass::Number: end = i + 1; break;
        case CharClass::Other: end = run_end(s, i, CharClass::Other); break;
      }
    }
    pieces.push_back(text.substr(s.offsets[i], s.offsets[end] - s.offsets[i]));
    i = end;
  }
  return pieces;
}

}  // namespace dualclip::text
