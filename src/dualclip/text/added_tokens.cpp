#include "dualclip/text/added_tokens.h"

#include "dualclip/core/error.h"
#include "dualclip/text/unicode.h"

namespace dualclip::text {

AddedTokenSplitter::AddedTokenSplitter(std::vector<AddedToken> tokens) : tokens_(std::move(tokens)) {
  for (const auto& token : tokens_) {
    if (!token.content.empty()) first_byte_[static_cast<unsigned char>(token.content[0])] = true;
  }
}

const AddedToken* AddedTokenSplitter::find(std::string_view content) const {
  for (const auto& token : tokens_) {
    if (token.content == content) return &token;
  }
  return nullptr;
}

const AddedToken* AddedTokenSplitter::find_id(int64_t id) const {
  for (const auto& token : tokens_) {
    if (token.id == id) return &token;
  }
  return nullptr;
}

std::vector<TextSegment> AddedTokenSplitter::split(std::string_view text) const {
  // Step 1: cut the text at literal added tokens.
  std::vector<TextSegment> parts;
  size_t plain_start = 0;
  for (size_t pos = 0; pos < text.size();) {
    const AddedToken* match = nullptr;
    if (first_byte_[static_cast<unsigned char>(text[pos])]) {
      for (const auto& token : tokens_) {
        if (token.content.empty() || text.compare(pos, token.content.size(), token.content) != 0) continue;
        if (!match || token.content.size() > match->content.size()) match = &token;
      }
    }
    if (!match) {
      ++pos;
      continue;
    }
    if (pos > plain_start) parts.push_back({std::string(text.substr(plain_start, pos - plain_start)), -1});
    parts.push_back({match->content, match->id});
    pos += match->content.size();
    plain_start = pos;
  }
  if (plain_start < text.size()) parts.push_back({std::string(text.substr(plain_start)), -1});

  // Step 2: the flags of each added token act on its plain neighbours.
  for (size_t i = 0; i < parts.size(); ++i) {
    if (parts[i].added_id < 0) continue;
    const AddedToken* token = find(parts[i].text);
    TextSegment* left = i > 0 ? &parts[i - 1] : nullptr;
    TextSegment* right = i + 1 < parts.size() ? &parts[i + 1] : nullptr;
    if (left && left->added_id >= 0) left = nullptr;
    if (right && right->added_id >= 0) right = nullptr;

    if (token->rstrip && right) right->text = std::string(unicode::lstrip_python(right->text));
    if (token->lstrip && left) left->text = std::string(unicode::rstrip_python(left->text));
    // single_word: a match glued to a word is not a token; it stays text of that word.
    if (token->single_word && left && !left->text.empty() && left->text.back() != ' ') {
      left->text += parts[i].text;
      parts[i] = {"", -1};
    } else if (token->single_word && right && !right->text.empty() && right->text.front() != ' ') {
      right->text = parts[i].text + right->text;
      parts[i] = {"", -1};
    }
  }

  // Step 3: drop the segments that stripping emptied.
  std::vector<TextSegment> segments;
  for (auto& part : parts) {
    if (part.added_id >= 0 || !part.text.empty()) segments.push_back(std::move(part));
  }
  return segments;
}

SpecialTokens resolve_special_tokens(const TokenizerConfig& config, const Vocab& vocab,
                                     const std::vector<SpecialTokenDefault>& defaults, const std::string& vocab_file) {
  SpecialTokens out;
  std::vector<AddedToken> added = config.added_tokens();
  auto find_added = [&](const std::string& content) -> AddedToken* {
    for (auto& token : added) {
      if (token.content == content) return &token;
    }
    return nullptr;
  };

  // Step 1: the named tokens. Ids of added tokens take precedence over the vocabulary, as in
  // HF's convert_tokens_to_ids.
  for (const auto& fallback : defaults) {
    AddedToken token = config.special_token(fallback.key, fallback.token);
    if (const AddedToken* listed = find_added(token.content)) {
      token = *listed;
    } else if (auto it = vocab.find(token.content); it != vocab.end()) {
      token.id = it->second;
      token.special = true;
      added.push_back(token);
    } else if (fallback.required) {
      throw Error(config.dir().string() + ": the special token \"" + token.content + "\" (" + fallback.key +
                  ") is neither in " + vocab_file + " nor in the added tokens of tokenizer_config.json; add it " +
                  "to the vocabulary or set " + fallback.key + " to a token the vocabulary has");
    } else {
      continue;  // an optional token the vocabulary lacks, e.g. no <mask> in a text-only vocabulary
    }
    out.named[fallback.key] = token;
    out.contents.push_back(token.content);
    out.ids.insert(token.id);
  }

  // Step 2: additional special tokens must be known too.
  for (const auto& content : config.additional_special_tokens()) {
    const AddedToken* listed = find_added(content);
    auto it = vocab.find(content);
    if (!listed && it == vocab.end()) {
      throw Error(config.dir().string() + ": the additional special token \"" + content + "\" is neither in " +
                  vocab_file + " nor in the added tokens of tokenizer_config.json");
    }
    int64_t id = listed ? listed->id : it->second;
    if (!listed) added.push_back({content, id, false, false, false, true, true});
    out.contents.push_back(content);
    out.ids.insert(id);
  }

  // Step 3: added tokens outside the special ones decode as separate words.
  std::set<std::string> special_contents(out.contents.begin(), out.contents.end());
  for (const auto& token : added) {
    if (!special_contents.count(token.content)) out.plain_added_tokens.insert(token.content);
  }
  out.splitter = std::make_unique<AddedTokenSplitter>(std::move(added));
  return out;
}

}  // namespace dualclip::text
