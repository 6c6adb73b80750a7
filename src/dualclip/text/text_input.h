// Helpers the tokenizer implementations share; not part of the public interface.
#pragma once

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace dualclip::text {

// Checks `text` against kMaxTextBytes (dualclip::Error when longer) and returns it with every
// invalid UTF-8 sequence replaced by U+FFFD.
std::string prepare_text(std::string_view text);

// The decode loop of HF's slow tokenizers (PreTrainedTokenizer._decode, transformers 4.40):
// special ids are skipped on request, added tokens that are not special are kept as separate
// pieces joined by spaces, the rest goes through `tokens_to_string`, and the result is cleaned
// up when `clean_up_spaces` is set.
struct DecodeRules {
  std::function<std::string(int64_t)> id_to_token;
  std::function<std::string(const std::vector<std::string>&)> tokens_to_string;
  std::set<int64_t> special_ids;
  std::set<std::string> plain_added_tokens;
  bool clean_up_spaces = true;
};
std::string decode_like_hf(const std::vector<int64_t>& ids, bool skip_special_tokens, const DecodeRules& rules);

}  // namespace dualclip::text
