// The first step of every HF slow tokenizer: added and special tokens written literally in the
// text are split out before the model's own tokenization, honouring their lstrip, rstrip and
// single_word flags.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "dualclip/text/tokenizer_files.h"

namespace dualclip::text {

// One part of the split text: an added token (added_id >= 0) or plain text for the model.
struct TextSegment {
  std::string text;
  int64_t added_id = -1;
};

class AddedTokenSplitter {
 public:
  explicit AddedTokenSplitter(std::vector<AddedToken> tokens);

  // Splits `text` at every literal added token (leftmost, then longest match). Plain segments
  // that lstrip/rstrip emptied are dropped, as HF drops them.
  std::vector<TextSegment> split(std::string_view text) const;

  const std::vector<AddedToken>& tokens() const { return tokens_; }
  // The added token with this content, or nullptr.
  const AddedToken* find(std::string_view content) const;
  // The added token with this id, or nullptr.
  const AddedToken* find_id(int64_t id) const;

 private:
  std::vector<AddedToken> tokens_;
  bool first_byte_[256] = {};
};

// The special and added tokens of one tokenizer, with ids resolved.
struct SpecialTokens {
  std::map<std::string, AddedToken> named;  // "bos_token" -> <s> with its id
  // Contents of the named and additional special tokens, in HF's all_special_tokens order
  // (bos, eos, unk, sep, pad, cls, mask, additional).
  std::vector<std::string> contents;
  std::set<int64_t> ids;                     // all_special_ids
  std::set<std::string> plain_added_tokens;  // added tokens that are not special
  std::unique_ptr<AddedTokenSplitter> splitter;

  int64_t id(const std::string& key) const { return named.at(key).id; }
};

// A named special token with the flags the tokenizer class gives it when the files do not.
struct SpecialTokenDefault {
  std::string key;  // "bos_token"
  AddedToken token;
  bool required;    // the tokenizer cannot encode without it
};

// Resolves the special tokens of `config`: each named token takes its id from the added
// tokens of the files, else from `vocab`. Throws dualclip::Error naming `vocab_file` when a
// required token has neither. Every special token also joins the added tokens that split().
SpecialTokens resolve_special_tokens(const TokenizerConfig& config, const Vocab& vocab,
                                     const std::vector<SpecialTokenDefault>& defaults, const std::string& vocab_file);

}  // namespace dualclip::text
