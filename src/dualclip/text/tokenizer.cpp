// The parts of the Tokenizer interface every tokenizer shares: special-token bookkeeping,
// truncation and padding of batches, UTF-8 repair and HF's decode clean-up.
#include "dualclip/text/tokenizer.h"

#include <algorithm>

#include <torch/torch.h>

#include "dualclip/core/error.h"
#include "dualclip/text/text_input.h"
#include "dualclip/text/unicode.h"

namespace dualclip::text {

namespace {

void replace_all(std::string& text, std::string_view from, std::string_view to) {
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  for (size_t hit; (hit = text.find(from, pos)) != std::string::npos; pos = hit + from.size()) {
    out.append(text, pos, hit - pos);
    out.append(to);
  }
  out.append(text, pos, std::string::npos);
  text = std::move(out);
}

// HF's truncate_sequences with "longest_first" for a pair: the excess comes off the longer
// segment until both are equally long, then is shared, the first segment taking the smaller half.
void truncate_longest_first(std::vector<int64_t>& a, std::vector<int64_t>& b, size_t excess) {
  size_t length_a = a.size();
  size_t length_b = b.size();
  size_t first_remove = std::min(length_a > length_b ? length_a - length_b : length_b - length_a, excess);
  size_t second_remove = excess - first_remove;
  size_t remove_a = 0;
  size_t remove_b = 0;
  if (length_a > length_b) {
    remove_a = first_remove + second_remove / 2;
    remove_b = second_remove - second_remove / 2;
  } else {
    remove_a = second_remove / 2;
    remove_b = first_remove + second_remove - second_remove / 2;
  }
  a.resize(length_a - std::min(remove_a, length_a));
  b.resize(length_b - std::min(remove_b, length_b));
}

void check_room_for_text(const Tokenizer& tokenizer, int64_t max_length, bool pair) {
  int64_t specials = tokenizer.num_special_tokens(pair);
  if (max_length <= specials) {
    throw Error("max_length " + std::to_string(max_length) + " leaves no room for text: the " +
                tokenizer.type_name() + " tokenizer adds " + std::to_string(specials) + " special tokens to " +
                (pair ? "a text pair" : "each text") + "; use a max_length of at least " +
                std::to_string(specials + 1));
  }
}

std::vector<int64_t> encode_caption(const Tokenizer& tokenizer, const std::string& text, size_t index) {
  try {
    return tokenizer.encode(text, false);
  } catch (const Error& e) {
    throw Error("caption " + std::to_string(index) + " of the batch: " + e.what());
  }
}

// Pads the rows on the right with the pad id (attention_mask 0, token type 0).
BatchEncoding pad_rows(const Tokenizer& tokenizer, const std::vector<Encoding>& rows, int64_t max_length,
                       Padding padding) {
  int64_t length = 0;
  for (const auto& row : rows) length = std::max<int64_t>(length, static_cast<int64_t>(row.input_ids.size()));
  if (padding == Padding::MaxLength) length = std::max(length, max_length);

  const int64_t batch = static_cast<int64_t>(rows.size());
  auto options = torch::TensorOptions().dtype(torch::kInt64);
  BatchEncoding out;
  out.input_ids = torch::full({batch, length}, tokenizer.pad_token_id(), options);
  out.attention_mask = torch::zeros({batch, length}, options);
  torch::Tensor token_types = torch::zeros({batch, length}, options);

  auto ids = out.input_ids.accessor<int64_t, 2>();
  auto mask = out.attention_mask.accessor<int64_t, 2>();
  auto types = token_types.accessor<int64_t, 2>();
  for (int64_t i = 0; i < batch; ++i) {
    for (size_t j = 0; j < rows[i].input_ids.size(); ++j) {
      ids[i][j] = rows[i].input_ids[j];
      mask[i][j] = 1;
      types[i][j] = rows[i].token_type_ids[j];
    }
  }
  if (tokenizer.has_token_type_ids()) out.token_type_ids = token_types;
  return out;
}

}  // namespace

// ---- Tokenizer ----

Encoding Tokenizer::build_inputs(const std::vector<int64_t>& ids, const std::vector<int64_t>* pair_ids) const {
  Encoding out;
  out.input_ids = ids;
  out.token_type_ids.assign(ids.size(), 0);
  if (pair_ids) {
    out.input_ids.insert(out.input_ids.end(), pair_ids->begin(), pair_ids->end());
    out.token_type_ids.resize(out.input_ids.size(), 1);
  }
  return out;
}

std::string Tokenizer::id_to_token(int64_t id) const { return decode({id}, false); }

int64_t Tokenizer::num_special_tokens(bool pair) const {
  std::vector<int64_t> empty;
  return static_cast<int64_t>(build_inputs(empty, pair ? &empty : nullptr).input_ids.size());
}

Encoding Tokenizer::encode_pair(const std::string& text, const std::string& text_pair) const {
  std::vector<int64_t> a = encode(text, false);
  std::vector<int64_t> b = encode(text_pair, false);
  return build_inputs(a, &b);
}

BatchEncoding Tokenizer::batch_encode(const std::vector<std::string>& texts, int64_t max_length,
                                      Padding padding) const {
  check_room_for_text(*this, max_length, false);
  const size_t room = static_cast<size_t>(max_length - num_special_tokens(false));

  std::vector<Encoding> rows;
  rows.reserve(texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    std::vector<int64_t> ids = encode_caption(*this, texts[i], i);
    if (ids.size() > room) ids.resize(room);
    rows.push_back(build_inputs(ids));
  }
  return pad_rows(*this, rows, max_length, padding);
}

BatchEncoding Tokenizer::batch_encode_pairs(const std::vector<std::string>& texts,
                                            const std::vector<std::string>& text_pairs, int64_t max_length,
                                            Padding padding) const {
  if (texts.size() != text_pairs.size()) {
    throw Error("batch_encode_pairs got " + std::to_string(texts.size()) + " texts but " +
                std::to_string(text_pairs.size()) + " second segments; pass one second segment per text");
  }
  check_room_for_text(*this, max_length, true);
  const size_t room = static_cast<size_t>(max_length - num_special_tokens(true));

  std::vector<Encoding> rows;
  rows.reserve(texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    std::vector<int64_t> a = encode_caption(*this, texts[i], i);
    std::vector<int64_t> b = encode_caption(*this, text_pairs[i], i);
    if (a.size() + b.size() > room) truncate_longest_first(a, b, a.size() + b.size() - room);
    rows.push_back(build_inputs(a, &b));
  }
  return pad_rows(*this, rows, max_length, padding);
}

// ---- free functions ----

size_t repair_utf8(std::string& text) {
  size_t replaced = 0;
  std::string out;
  for (size_t pos = 0; pos < text.size();) {
    size_t start = pos;
    bool invalid = false;
    char32_t c = unicode::next_code_point(text, pos, &invalid);
    if (invalid) {
      if (replaced == 0) out.assign(text, 0, start);
      ++replaced;
    }
    if (replaced > 0) unicode::append_utf8(out, c);
  }
  if (replaced > 0) text = std::move(out);
  return replaced;
}

std::string clean_up_tokenization(std::string text) {
  static constexpr std::pair<std::string_view, std::string_view> kRules[] = {
      {" .", "."},     {" ?", "?"},     {" !", "!"},   {" ,", ","},     {" ' ", "'"},
      {" n't", "n't"}, {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"},
  };
  for (const auto& [from, to] : kRules) replace_all(text, from, to);
  return text;
}

std::string prepare_text(std::string_view text) {
  if (text.size() > kMaxTextBytes) {
    throw Error("the text is " + std::to_string(text.size()) + " bytes long, over the limit of " +
                std::to_string(kMaxTextBytes) + " bytes for one caption; shorten or split it");
  }
  std::string valid(text);
  repair_utf8(valid);
  return valid;
}

std::string decode_like_hf(const std::vector<int64_t>& ids, bool skip_special_tokens, const DecodeRules& rules) {
  std::vector<std::string> pieces;
  std::vector<std::string> run;
  auto flush_run = [&] {
    if (run.empty()) return;
    std::string piece = rules.tokens_to_string(run);
    run.clear();
    if (!piece.empty()) pieces.push_back(std::move(piece));
  };

  for (int64_t id : ids) {
    if (skip_special_tokens && rules.special_ids.count(id)) continue;
    std::string token = rules.id_to_token(id);
    if (rules.plain_added_tokens.count(token)) {
      flush_run();
      pieces.push_back(std::move(token));
    } else {
      run.push_back(std::move(token));
    }
  }
  // HF keeps the last run even when it converts to an empty string.
  if (!run.empty()) pieces.push_back(rules.tokens_to_string(run));

  std::string text;
  for (size_t i = 0; i < pieces.size(); ++i) text += (i ? " " : "") + pieces[i];
  return rules.clean_up_spaces ? clean_up_tokenization(std::move(text)) : text;
}

}  // namespace dualclip::text
