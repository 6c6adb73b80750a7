#include "dualclip/text/unicode.h"

#include <unicode/locid.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>

#include "dualclip/core/error.h"

namespace dualclip::text::unicode {

namespace {

// The allowed range of the second byte after a lead byte (Unicode Table 3-7); the later
// continuation bytes are always 0x80..0xBF.
struct LeadByte {
  int length;
  unsigned char second_min;
  unsigned char second_max;
};

LeadByte classify_lead_byte(unsigned char b) {
  if (b < 0x80) return {1, 0, 0};
  if (b >= 0xC2 && b <= 0xDF) return {2, 0x80, 0xBF};
  if (b == 0xE0) return {3, 0xA0, 0xBF};
  if (b == 0xED) return {3, 0x80, 0x9F};
  if (b >= 0xE1 && b <= 0xEF) return {3, 0x80, 0xBF};
  if (b == 0xF0) return {4, 0x90, 0xBF};
  if (b >= 0xF1 && b <= 0xF3) return {4, 0x80, 0xBF};
  if (b == 0xF4) return {4, 0x80, 0x8F};
  return {0, 0, 0};  // 0x80..0xC1 and 0xF5..0xFF never start a sequence
}

int8_t category(char32_t c) { return u_charType(static_cast<UChar32>(c)); }

std::string to_utf8(const icu::UnicodeString& s) {
  std::string out;
  s.toUTF8String(out);
  return out;
}

const icu::Normalizer2& normalizer(bool compose) {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* n =
      compose ? icu::Normalizer2::getNFCInstance(status) : icu::Normalizer2::getNFDInstance(status);
  if (U_FAILURE(status) || n == nullptr) {
    throw Error(std::string("ICU could not load its NFC/NFD normalisation data: ") + u_errorName(status));
  }
  return *n;
}

std::string normalize(std::string_view text, bool compose) {
  if (is_ascii(text)) return std::string(text);  // ASCII is invariant under NFC and NFD

  icu::UnicodeString source = icu::UnicodeString::fromUTF8(icu::StringPiece(text.data(), text.size()));
  UErrorCode status = U_ZERO_ERROR;
  icu::UnicodeString result = normalizer(compose).normalize(source, status);
  if (U_FAILURE(status)) throw Error(std::string("ICU normalisation failed: ") + u_errorName(status));
  return to_utf8(result);
}

}  // namespace

char32_t next_code_point(std::string_view text, size_t& pos, bool* invalid) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  unsigned char lead = byte(pos);
  LeadByte info = classify_lead_byte(lead);
  if (info.length == 1) {
    ++pos;
    return lead;
  }

  // Consume the longest valid prefix; a shorter one than the lead byte promises is the
  // maximal subpart and becomes a single U+FFFD.
  ++pos;
  if (info.length == 0) {
    if (invalid) *invalid = true;
    return kReplacementCharacter;
  }
  char32_t c = lead & (0xFF >> (info.length + 1));
  for (int k = 1; k < info.length; ++k) {
    unsigned char min = k == 1 ? info.second_min : 0x80;
    unsigned char max = k == 1 ? info.second_max : 0xBF;
    if (pos >= text.size() || byte(pos) < min || byte(pos) > max) {
      if (invalid) *invalid = true;
      return kReplacementCharacter;
    }
    c = (c << 6) | (byte(pos) & 0x3F);
    ++pos;
  }
  return c;
}

std::u32string decode_utf8(std::string_view text) {
  std::u32string out;
  out.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) out.push_back(next_code_point(text, pos));
  return out;
}

void append_utf8(std::string& out, char32_t c) {
  if (c < 0x80) {
    out.push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (c >> 6)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (c >> 12)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (c >> 18)));
    out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

std::string encode_utf8(std::u32string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char32_t c : text) append_utf8(out, c);
  return out;
}

bool is_ascii(std::string_view text) {
  for (char ch : text) {
    if (static_cast<unsigned char>(ch) >= 0x80) return false;
  }
  return true;
}

bool is_python_space(char32_t c) {
  // The complete list for Python 3.11 (Unicode 14); no character has joined it since 3.3.
  if (c <= 0x20) return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20);
  if (c < 0x85) return false;
  return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 ||
         c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

bool is_regex_space(char32_t c) { return u_isUWhiteSpace(static_cast<UChar32>(c)); }

bool is_letter(char32_t c) {
  if (c < 0x80) return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
  int8_t t = category(c);
  return t == U_UPPERCASE_LETTER || t == U_LOWERCASE_LETTER || t == U_TITLECASE_LETTER ||
         t == U_MODIFIER_LETTER || t == U_OTHER_LETTER;
}

bool is_number(char32_t c) {
  if (c < 0x80) return c >= '0' && c <= '9';
  int8_t t = category(c);
  return t == U_DECIMAL_DIGIT_NUMBER || t == U_LETTER_NUMBER || t == U_OTHER_NUMBER;
}

bool is_other_category(char32_t c) {
  int8_t t = category(c);
  return t == U_CONTROL_CHAR || t == U_FORMAT_CHAR || t == U_SURROGATE || t == U_PRIVATE_USE_CHAR ||
         t == U_UNASSIGNED;
}

bool is_punctuation_category(char32_t c) {
  int8_t t = category(c);
  return t == U_DASH_PUNCTUATION || t == U_START_PUNCTUATION || t == U_END_PUNCTUATION ||
         t == U_CONNECTOR_PUNCTUATION || t == U_OTHER_PUNCTUATION || t == U_INITIAL_PUNCTUATION ||
         t == U_FINAL_PUNCTUATION;
}

bool is_space_separator(char32_t c) { return category(c) == U_SPACE_SEPARATOR; }

bool is_nonspacing_mark(char32_t c) { return category(c) == U_NON_SPACING_MARK; }

char32_t simple_case_fold(char32_t c) {
  return static_cast<char32_t>(u_foldCase(static_cast<UChar32>(c), U_FOLD_CASE_DEFAULT));
}

std::string to_lower(std::string_view text) {
  if (is_ascii(text)) {
    std::string out(text);
    for (char& ch : out) {
      if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
    }
    return out;
  }
  // The root locale gives the language-independent full mappings of SpecialCasing.txt and
  // the Final_Sigma context, which is what Python's str.lower() implements.
  icu::UnicodeString s = icu::UnicodeString::fromUTF8(icu::StringPiece(text.data(), text.size()));
  s.toLower(icu::Locale::getRoot());
  return to_utf8(s);
}

std::string normalize_nfc(std::string_view text) { return normalize(text, true); }

std::string normalize_nfd(std::string_view text) { return normalize(text, false); }

std::vector<std::string_view> split_python_whitespace(std::string_view text) {
  std::vector<std::string_view> words;
  size_t word_start = std::string_view::npos;
  for (size_t pos = 0; pos < text.size();) {
    size_t here = pos;
    char32_t c = next_code_point(text, pos);
    if (is_python_space(c)) {
      if (word_start != std::string_view::npos) words.push_back(text.substr(word_start, here - word_start));
      word_start = std::string_view::npos;
    } else if (word_start == std::string_view::npos) {
      word_start = here;
    }
  }
  if (word_start != std::string_view::npos) words.push_back(text.substr(word_start));
  return words;
}

std::string_view lstrip_python(std::string_view text) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t next = pos;
    if (!is_python_space(next_code_point(text, next))) break;
    pos = next;
  }
  return text.substr(pos);
}

std::string_view rstrip_python(std::string_view text) {
  // Walk forward, remembering where the last non-space code point ended; UTF-8 cannot be
  // decoded backwards safely when it may be ill-formed.
  size_t end = 0;
  for (size_t pos = 0; pos < text.size();) {
    if (!is_python_space(next_code_point(text, pos))) end = pos;
  }
  return text.substr(0, end);
}

}  // namespace dualclip::text::unicode
