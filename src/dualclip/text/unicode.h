// Unicode helpers the tokenizers share: UTF-8 decoding with Python's replacement policy,
// the character classes of Python's str methods and of the `regex` module, and ICU-backed
// lower-casing and normalisation.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace dualclip::text::unicode {

constexpr char32_t kReplacementCharacter = 0xFFFD;

// Decodes the code point starting at text[pos] and advances pos past it. An ill-formed
// sequence yields U+FFFD and consumes its maximal subpart (Unicode 15, section 3.9, "U+FFFD
// substitution of maximal subparts"), as Python's decode(errors="replace") does; `invalid`
// is then set to true.
char32_t next_code_point(std::string_view text, size_t& pos, bool* invalid = nullptr);

// Decodes all of `text` with next_code_point.
std::u32string decode_utf8(std::string_view text);
void append_utf8(std::string& out, char32_t c);
std::string encode_utf8(std::u32string_view text);
bool is_ascii(std::string_view text);

// Python's str.isspace(), which str.split() and str.strip() use: bidirectional class WS, B
// or S, or general category Zs (so U+001C..U+001F count, U+200B does not).
bool is_python_space(char32_t c);
// The `regex` module's \s: the Unicode White_Space property (no U+001C..U+001F, unlike re).
bool is_regex_space(char32_t c);
bool is_letter(char32_t c);       // \p{L}: Lu Ll Lt Lm Lo
bool is_number(char32_t c);       // \p{N}: Nd Nl No
bool is_other_category(char32_t c);        // C*: Cc Cf Cs Co Cn (unassigned included)
bool is_punctuation_category(char32_t c);  // P*
bool is_space_separator(char32_t c);       // Zs
bool is_nonspacing_mark(char32_t c);       // Mn

// Simple case folding, as the `regex` module's IGNORECASE compares characters.
char32_t simple_case_fold(char32_t c);

// Python's str.lower(): full Unicode lower-casing with the final-sigma rule ("ΟΔΟΣ" -> "οδος").
std::string to_lower(std::string_view text);
std::string normalize_nfc(std::string_view text);
std::string normalize_nfd(std::string_view text);

// Python's str.split() with no argument: runs of is_python_space separate the words.
std::vector<std::string_view> split_python_whitespace(std::string_view text);
// Python's str.lstrip() / str.rstrip() with no argument.
std::string_view lstrip_python(std::string_view text);
std::string_view rstrip_python(std::string_view text);

}  // namespace dualclip::text::unicode
