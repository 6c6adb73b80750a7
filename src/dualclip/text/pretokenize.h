// Pre-tokenizers of the byte-level BPE tokenizers: hand-written scanners equivalent to the
// `regex` patterns HF's slow tokenizers apply with regex.findall.
#pragma once

#include <string_view>
#include <vector>

namespace dualclip::text {

// GPT-2 / RoBERTa:
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// The pieces cover `text` completely (every code point is in \s, \p{L}, \p{N} or the rest).
// `text` must be valid UTF-8.
std::vector<std::string_view> gpt2_pretokenize(std::string_view text);

// CLIP, with IGNORECASE, on text that is already cleaned and lower-cased:
//   <\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
// Whitespace matches no alternative and is dropped; each digit is its own piece.
std::vector<std::string_view> clip_pretokenize(std::string_view text);

}  // namespace dualclip::text
