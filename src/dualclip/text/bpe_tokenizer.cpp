#include "dualclip/text/bpe_tokenizer.h"

#include "dualclip/core/error.h"
#include "dualclip/text/pretokenize.h"
#include "dualclip/text/text_input.h"
#include "dualclip/text/unicode.h"

namespace dualclip::text {

namespace {

AddedToken plain(const std::string& content) { return AddedToken{content, -1, false, false, false, true, true}; }

std::vector<SpecialTokenDefault> default_specials(BpeFlavor flavor) {
  if (flavor == BpeFlavor::Clip) {
    return {{"bos_token", plain("<|startoftext|>"), true},
            {"eos_token", plain("<|endoftext|>"), true},
            {"unk_token", plain("<|endoftext|>"), true},
            {"pad_token", plain("<|endoftext|>"), true}};
  }
  // RobertaTokenizer makes <mask> swallow the space before it and match unnormalized text.
  AddedToken mask{"<mask>", -1, true, false, false, false, true};
  return {{"bos_token", plain("<s>"), true},   {"eos_token", plain("</s>"), true},
          {"unk_token", plain("<unk>"), true}, {"sep_token", plain("</s>"), true},
          {"pad_token", plain("<pad>"), true}, {"cls_token", plain("<s>"), true},
          {"mask_token", mask, false}};
}

int64_t max_id_plus_one(const Vocab& vocab, const SpecialTokens& specials) {
  int64_t size = 0;
  for (const auto& [token, id] : vocab) size = std::max(size, id + 1);
  for (const auto& token : specials.splitter->tokens()) size = std::max(size, token.id + 1);
  return size;
}

}  // namespace

BpeTokenizer::BpeTokenizer(const TokenizerConfig& config, BpeFlavor flavor) : flavor_(flavor), dir_(config.dir()) {
  // Step 1: vocabulary and merges, from the slow tokenizer's files or from tokenizer.json.
  Vocab vocab;
  std::vector<Merge> merges;
  std::string vocab_file = "vocab.json";
  if (config.has_file("vocab.json") && config.has_file("merges.txt")) {
    vocab = read_vocab_json(config.path("vocab.json"));
    merges = read_merges_txt(config.path("merges.txt"),
                             flavor == BpeFlavor::Clip ? MergesLayout::Clip : MergesLayout::Gpt2);
  } else if (config.tokenizer_json().is_object()) {
    const std::string where = config.path("tokenizer.json").string();
    const nlohmann::json& model = config.tokenizer_json().value("model", nlohmann::json::object());
    if (model.value("type", "") != "BPE") {
      throw Error(where + ": model.type is \"" + model.value("type", "") + "\", but a byte-level BPE tokenizer needs \"BPE\"");
    }
    vocab = vocab_from_json(model.value("vocab", nlohmann::json()), where + " model.vocab");
    merges = merges_from_json(model.value("merges", nlohmann::json()), where + " model.merges");
    vocab_file = "tokenizer.json";
  } else {
    throw Error(dir_.string() + ": a byte-level BPE tokenizer needs vocab.json and merges.txt (or tokenizer.json)");
  }

  // Step 2: special tokens and their ids.
  specials_ = resolve_special_tokens(config, vocab, default_specials(flavor), vocab_file);
  bos_id_ = specials_.id("bos_token");
  eos_id_ = specials_.id("eos_token");
  unk_id_ = specials_.id("unk_token");
  pad_id_ = specials_.id("pad_token");
  if (flavor == BpeFlavor::Roberta) {
    // RoBERTa wraps with cls/sep, which default to bos/eos.
    bos_id_ = specials_.id("cls_token");
    eos_id_ = specials_.id("sep_token");
  }

  // Step 3: settings.
  vocab_size_ = max_id_plus_one(vocab, specials_);
  model_max_length_ = config.model_max_length();
  clean_up_spaces_ = config.flag("clean_up_tokenization_spaces", true);
  if (flavor == BpeFlavor::Roberta && config.flag("add_prefix_space", false)) {
    // NOTE: add_prefix_space=true (a space before the first word) is not implemented.
    throw Error(config.path("tokenizer_config.json").string() +
                ": add_prefix_space=true is not supported; only RoBERTa's default false is");
  }
  if (flavor == BpeFlavor::Clip) {
    BasicTokenizerOptions options;
    options.strip_accents = false;
    options.split_on_punctuation = false;
    cleaner_ = std::make_unique<BasicTokenizer>(options);
  }
  bpe_ = std::make_unique<ByteLevelBpe>(std::move(vocab), merges, flavor == BpeFlavor::Clip ? "</w>" : "");
}

std::string BpeTokenizer::clean_text(const std::string& text) const {
  if (!cleaner_) throw Error("clean_text is defined only for the CLIP tokenizer");
  std::string joined;
  for (const auto& word : cleaner_->tokenize(prepare_text(text))) joined += (joined.empty() ? "" : " ") + word;
  return joined;
}

void BpeTokenizer::encode_plain(const std::string& text, BpeWord& out) const {
  if (flavor_ == BpeFlavor::Roberta) {
    for (std::string_view piece : gpt2_pretokenize(text)) bpe_->encode_piece(piece, unk_id_, out);
    return;
  }

  std::string cleaned = clean_text(text);
  for (std::string_view piece : clip_pretokenize(cleaned)) {
    // HF's CLIP bpe() cache starts with these two, so they are never split or given "</w>".
    if (piece == "<|startoftext|>" || piece == "<|endoftext|>") {
      auto it = bpe_->vocab().find(std::string(piece));
      out.tokens.emplace_back(piece);
      out.ids.push_back(it == bpe_->vocab().end() ? unk_id_ : it->second);
      continue;
    }
    bpe_->encode_piece(piece, unk_id_, out);
  }
}

BpeWord BpeTokenizer::encode_text(const std::string& text) const {
  BpeWord out;
  for (const auto& segment : specials_.splitter->split(prepare_text(text))) {
    if (segment.added_id >= 0) {
      out.tokens.push_back(segment.text);
      out.ids.push_back(segment.added_id);
    } else {
      encode_plain(segment.text, out);
    }
  }
  return out;
}

std::vector<std::string> BpeTokenizer::tokenize(const std::string& text) const { return encode_text(text).tokens; }

std::vector<int64_t> BpeTokenizer::encode(const std::string& text, bool add_special_tokens) const {
  std::vector<int64_t> ids = encode_text(text).ids;
  return add_special_tokens ? build_inputs(ids).input_ids : ids;
}

Encoding BpeTokenizer::build_inputs(const std::vector<int64_t>& ids, const std::vector<int64_t>* pair_ids) const {
  // <s> a </s> and <s> a </s></s> b </s> (CLIP: the same with its bos/eos); token types all 0.
  Encoding out;
  out.input_ids.push_back(bos_id_);
  out.input_ids.insert(out.input_ids.end(), ids.begin(), ids.end());
  out.input_ids.push_back(eos_id_);
  if (pair_ids) {
    out.input_ids.push_back(eos_id_);
    out.input_ids.insert(out.input_ids.end(), pair_ids->begin(), pair_ids->end());
    out.input_ids.push_back(eos_id_);
  }
  out.token_type_ids.assign(out.input_ids.size(), 0);
  return out;
}

std::string BpeTokenizer::id_to_token(int64_t id) const {
  if (const AddedToken* token = specials_.splitter->find_id(id)) return token->content;
  if (const std::string* token = bpe_->token_of(id)) return *token;
  throw Error("token id " + std::to_string(id) + " is not in the vocabulary of " + dir_.string() + " (" +
              std::to_string(vocab_size_) + " ids)");
}

std::string BpeTokenizer::tokens_to_string(const std::vector<std::string>& tokens) const {
  std::string symbols;
  for (const auto& token : tokens) symbols += token;
  std::string text = symbols_to_bytes(symbols);
  repair_utf8(text);  // HF decodes with errors="replace"
  if (flavor_ == BpeFlavor::Roberta) return text;

  // CLIP: word ends become spaces and the result is stripped.
  std::string spaced;
  for (size_t pos = 0;;) {
    size_t hit = text.find("</w>", pos);
    spaced.append(text, pos, hit == std::string::npos ? std::string::npos : hit - pos);
    if (hit == std::string::npos) break;
    spaced.push_back(' ');
    pos = hit + 4;
  }
  return std::string(unicode::rstrip_python(unicode::lstrip_python(spaced)));
}

std::string BpeTokenizer::decode(const std::vector<int64_t>& ids, bool skip_special_tokens) const {
  DecodeRules rules;
  rules.id_to_token = [this](int64_t id) { return id_to_token(id); };
  rules.tokens_to_string = [this](const std::vector<std::string>& tokens) { return tokens_to_string(tokens); };
  rules.special_ids = specials_.ids;
  rules.plain_added_tokens = specials_.plain_added_tokens;
  rules.clean_up_spaces = clean_up_spaces_;
  return decode_like_hf(ids, skip_special_tokens, rules);
}

}  // namespace dualclip::text
