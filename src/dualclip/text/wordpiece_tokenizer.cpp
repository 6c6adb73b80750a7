#include "dualclip/text/wordpiece_tokenizer.h"

#include "dualclip/core/error.h"
#include "dualclip/text/text_input.h"
#include "dualclip/text/unicode.h"

namespace dualclip::text {

namespace {

AddedToken plain(const std::string& content) { return AddedToken{content, -1, false, false, false, true, true}; }

const std::vector<SpecialTokenDefault>& default_specials() {
  static const std::vector<SpecialTokenDefault> defaults = {
      {"unk_token", plain("[UNK]"), true}, {"sep_token", plain("[SEP]"), true},
      {"pad_token", plain("[PAD]"), true}, {"cls_token", plain("[CLS]"), true},
      {"mask_token", plain("[MASK]"), false}};
  return defaults;
}

// tokenizer.json's BertNormalizer settings, used when tokenizer_config.json lacks them.
std::optional<bool> normalizer_flag(const nlohmann::json& tokenizer_json, const char* key) {
  if (!tokenizer_json.is_object()) return std::nullopt;
  auto normalizer = tokenizer_json.find("normalizer");
  if (normalizer == tokenizer_json.end() || !normalizer->is_object()) return std::nullopt;
  auto it = normalizer->find(key);
  if (it == normalizer->end() || !it->is_boolean()) return std::nullopt;
  return it->get<bool>();
}

}  // namespace

WordPieceTokenizer::WordPieceTokenizer(const TokenizerConfig& config) : dir_(config.dir()) {
  // Step 1: the vocabulary.
  std::string vocab_file = "vocab.txt";
  const nlohmann::json& tokenizer_json = config.tokenizer_json();
  if (config.has_file("vocab.txt")) {
    vocab_ = read_vocab_txt(config.path("vocab.txt"));
  } else if (tokenizer_json.is_object()) {
    const std::string where = config.path("tokenizer.json").string();
    const nlohmann::json& model = tokenizer_json.value("model", nlohmann::json::object());
    if (model.value("type", "") != "WordPiece") {
      throw Error(where + ": model.type is \"" + model.value("type", "") + "\", but a WordPiece tokenizer needs \"WordPiece\"");
    }
    vocab_ = vocab_from_json(model.value("vocab", nlohmann::json()), where + " model.vocab");
    continuation_prefix_ = model.value("continuing_subword_prefix", "##");
    max_chars_per_word_ = model.value("max_input_chars_per_word", size_t{100});
    vocab_file = "tokenizer.json";
  } else {
    throw Error(dir_.string() + ": a WordPiece tokenizer needs vocab.txt (or tokenizer.json)");
  }
  for (const auto& [token, id] : vocab_) id_to_token_[id] = token;

  // Step 2: special tokens.
  specials_ = resolve_special_tokens(config, vocab_, default_specials(), vocab_file);
  cls_id_ = specials_.id("cls_token");
  sep_id_ = specials_.id("sep_token");
  pad_id_ = specials_.id("pad_token");
  unk_id_ = specials_.id("unk_token");
  special_never_split_.insert(specials_.contents.begin(), specials_.contents.end());

  // Step 3: BasicTokenizer options; tokenizer.json's normalizer fills in what the config lacks.
  BasicTokenizerOptions options;
  options.do_lower_case = config.optional_flag("do_lower_case")
                              .value_or(normalizer_flag(tokenizer_json, "lowercase").value_or(true));
  options.tokenize_chinese_chars = config.optional_flag("tokenize_chinese_chars")
                                       .value_or(normalizer_flag(tokenizer_json, "handle_chinese_chars").value_or(true));
  options.strip_accents = config.optional_flag("strip_accents");
  if (!options.strip_accents) options.strip_accents = normalizer_flag(tokenizer_json, "strip_accents");
  if (config.has_file("tokenizer_config.json")) {
    nlohmann::json raw = read_json_file(config.path("tokenizer_config.json"));
    if (raw.contains("never_split") && raw["never_split"].is_array()) {
      for (const auto& word : raw["never_split"]) {
        if (word.is_string()) options.never_split.insert(word.get<std::string>());
      }
    }
  }
  bool do_basic_tokenize = config.flag("do_basic_tokenize", true);
  // HF lower-cases the text before splitting out special tokens only when the tokenizer has a
  // do_lower_case attribute, which BertTokenizer takes from its BasicTokenizer.
  lower_case_ = do_basic_tokenize && options.do_lower_case;
  if (do_basic_tokenize) basic_ = std::make_unique<BasicTokenizer>(options);

  int64_t size = 0;
  for (const auto& [token, id] : vocab_) size = std::max(size, id + 1);
  for (const auto& token : specials_.splitter->tokens()) size = std::max(size, token.id + 1);
  vocab_size_ = size;
  model_max_length_ = config.model_max_length();
  clean_up_spaces_ = config.flag("clean_up_tokenization_spaces", true);
}

std::string WordPieceTokenizer::lower_case_outside_specials(const std::string& text) const {
  // HF: re.sub("(special|...)|(.+?)", keep specials, lower each other character). Each
  // character is lower-cased alone, so no final-sigma context applies ("Σ" -> "σ" always).
  std::vector<std::string> keep = specials_.contents;
  for (const auto& token : specials_.splitter->tokens()) {
    if (!token.special && token.normalized) keep.push_back(token.content);
  }

  std::string out;
  out.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    const std::string* match = nullptr;
    for (const auto& token : keep) {
      if (!token.empty() && text.compare(pos, token.size(), token) == 0) {
        match = &token;
        break;
      }
    }
    if (match) {
      out += *match;
      pos += match->size();
      continue;
    }
    size_t start = pos;
    unicode::next_code_point(text, pos);
    out += unicode::to_lower(std::string_view(text).substr(start, pos - start));
  }
  return out;
}

void WordPieceTokenizer::wordpiece(const std::string& word, std::vector<std::string>& out) const {
  std::vector<size_t> offsets;
  for (size_t pos = 0; pos < word.size();) {
    offsets.push_back(pos);
    unicode::next_code_point(word, pos);
  }
  const size_t n = offsets.size();
  offsets.push_back(word.size());
  const std::string& unk = specials_.named.at("unk_token").content;
  if (n > max_chars_per_word_) {
    out.push_back(unk);
    return;
  }

  // Greedy longest match from the left; a word with any unmatched rest is one [UNK].
  std::vector<std::string> pieces;
  for (size_t start = 0; start < n;) {
    size_t end = n;
    std::string match;
    for (; end > start; --end) {
      std::string candidate = word.substr(offsets[start], offsets[end] - offsets[start]);
      if (start > 0) candidate = continuation_prefix_ + candidate;
      if (vocab_.count(candidate)) {
        match = std::move(candidate);
        break;
      }
    }
    if (end == start) {
      out.push_back(unk);
      return;
    }
    pieces.push_back(std::move(match));
    start = end;
  }
  out.insert(out.end(), pieces.begin(), pieces.end());
}

std::vector<std::string> WordPieceTokenizer::basic_tokenize(const std::string& text) const {
  if (!basic_) throw Error(dir_.string() + ": do_basic_tokenize is false, so this tokenizer has no basic tokenizer");
  return basic_->tokenize(prepare_text(text), &special_never_split_);
}

std::vector<std::string> WordPieceTokenizer::tokenize(const std::string& text) const {
  std::string prepared = prepare_text(text);
  if (lower_case_) prepared = lower_case_outside_specials(prepared);

  std::vector<std::string> tokens;
  for (const auto& segment : specials_.splitter->split(prepared)) {
    if (segment.added_id >= 0) {
      tokens.push_back(segment.text);
      continue;
    }
    if (!basic_) {
      for (std::string_view word : unicode::split_python_whitespace(segment.text)) wordpiece(std::string(word), tokens);
      continue;
    }
    for (const auto& word : basic_->tokenize(segment.text, &special_never_split_)) {
      if (basic_->options().never_split.count(word)) {
        tokens.push_back(word);
      } else {
        wordpiece(word, tokens);
      }
    }
  }
  return tokens;
}

int64_t WordPieceTokenizer::token_to_id(const std::string& token) const {
  if (const AddedToken* added = specials_.splitter->find(token)) return added->id;
  auto it = vocab_.find(token);
  return it == vocab_.end() ? unk_id_ : it->second;
}

std::vector<int64_t> WordPieceTokenizer::encode(const std::string& text, bool add_special_tokens) const {
  std::vector<int64_t> ids;
  for (const auto& token : tokenize(text)) ids.push_back(token_to_id(token));
  return add_special_tokens ? build_inputs(ids).input_ids : ids;
}

Encoding WordPieceTokenizer::build_inputs(const std::vector<int64_t>& ids, const std::vector<int64_t>* pair_ids) const {
  // [CLS] a [SEP] with token type 0, then b [SEP] with token type 1.
  Encoding out;
  out.input_ids.push_back(cls_id_);
  out.input_ids.insert(out.input_ids.end(), ids.begin(), ids.end());
  out.input_ids.push_back(sep_id_);
  out.token_type_ids.assign(out.input_ids.size(), 0);
  if (pair_ids) {
    out.input_ids.insert(out.input_ids.end(), pair_ids->begin(), pair_ids->end());
    out.input_ids.push_back(sep_id_);
    out.token_type_ids.resize(out.input_ids.size(), 1);
  }
  return out;
}

std::string WordPieceTokenizer::id_to_token(int64_t id) const {
  if (const AddedToken* token = specials_.splitter->find_id(id)) return token->content;
  auto it = id_to_token_.find(id);
  // HF's BertTokenizer maps an unknown id to the unk token instead of failing.
  return it == id_to_token_.end() ? specials_.named.at("unk_token").content : it->second;
}

std::string WordPieceTokenizer::decode(const std::vector<int64_t>& ids, bool skip_special_tokens) const {
  DecodeRules rules;
  rules.id_to_token = [this](int64_t id) { return id_to_token(id); };
  rules.tokens_to_string = [](const std::vector<std::string>& tokens) {
    // " ".join(tokens).replace(" ##", "").strip()
    std::string joined;
    for (size_t i = 0; i < tokens.size(); ++i) {
      if (i > 0 && tokens[i].compare(0, 2, "##") == 0) {
        joined += tokens[i].substr(2);
      } else {
        joined += (i ? " " : "") + tokens[i];
      }
    }
    return std::string(unicode::rstrip_python(unicode::lstrip_python(joined)));
  };
  rules.special_ids = specials_.ids;
  rules.plain_added_tokens = specials_.plain_added_tokens;
  rules.clean_up_spaces = clean_up_spaces_;
  return decode_like_hf(ids, skip_special_tokens, rules);
}

}  // namespace dualclip::text
