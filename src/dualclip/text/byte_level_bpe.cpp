#include "dualclip/text/byte_level_bpe.h"

#include <queue>
#include <tuple>

#include "dualclip/text/unicode.h"

namespace dualclip::text {

namespace {

// Words cached per tokenizer; COCO's captions use about 30k distinct words.
constexpr size_t kCacheEntries = 200000;

uint64_t pair_key(int32_t left, int32_t right) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
}

std::array<int32_t, 256> build_byte_code_points() {
  // Bytes that are printable Latin-1 keep their code point; the rest take U+0100 + n in order.
  std::array<int32_t, 256> code_points{};
  int next = 0;
  for (int b = 0; b < 256; ++b) {
    bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    code_points[b] = printable ? b : 256 + next++;
  }
  return code_points;
}

const std::array<int32_t, 256>& byte_code_points() {
  static const std::array<int32_t, 256> table = build_byte_code_points();
  return table;
}

}  // namespace

const std::array<std::string, 256>& byte_to_symbol() {
  static const std::array<std::string, 256> table = [] {
    std::array<std::string, 256> symbols;
    for (int b = 0; b < 256; ++b) unicode::append_utf8(symbols[b], static_cast<char32_t>(byte_code_points()[b]));
    return symbols;
  }();
  return table;
}

int symbol_to_byte(char32_t c) {
  static const std::array<int16_t, 512> table = [] {
    std::array<int16_t, 512> inverse;
    inverse.fill(-1);
    for (int b = 0; b < 256; ++b) inverse[byte_code_points()[b]] = static_cast<int16_t>(b);
    return inverse;
  }();
  return c < table.size() ? table[c] : -1;
}

std::string bytes_to_symbols(std::string_view text) {
  const auto& table = byte_to_symbol();
  std::string out;
  out.reserve(text.size() * 2);
  for (char ch : text) out += table[static_cast<unsigned char>(ch)];
  return out;
}

std::string symbols_to_bytes(std::string_view symbols) {
  std::string out;
  out.reserve(symbols.size());
  for (size_t pos = 0; pos < symbols.size();) {
    char32_t c = unicode::next_code_point(symbols, pos);
    int b = symbol_to_byte(c);
    if (b >= 0) {
      out.push_back(static_cast<char>(b));
    } else {
      unicode::append_utf8(out, c);
    }
  }
  return out;
}

// ---- merges ----

BpeMerges::BpeMerges(const std::vector<Merge>& merges) : rank_count_(merges.size()) {
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const auto& [left, right] = merges[rank];
    int32_t left_id = intern(left);
    int32_t right_id = intern(right);
    int32_t merged_id = intern(left + right);
    pairs_[pair_key(left_id, right_id)] = {static_cast<int32_t>(rank), merged_id};
  }
}

int32_t BpeMerges::intern(const std::string& symbol) {
  auto [it, inserted] = symbol_ids_.emplace(symbol, static_cast<int32_t>(symbols_.size()));
  if (inserted) symbols_.push_back(symbol);
  return it->second;
}

int32_t BpeMerges::find_symbol(const std::string& symbol) const {
  auto it = symbol_ids_.find(symbol);
  return it == symbol_ids_.end() ? -1 : it->second;
}

const BpeMerges::PairInfo* BpeMerges::find_pair(int32_t left, int32_t right) const {
  if (left < 0 || right < 0) return nullptr;
  auto it = pairs_.find(pair_key(left, right));
  return it == pairs_.end() ? nullptr : &it->second;
}

std::vector<std::string> BpeMerges::apply(std::string_view word, std::string_view end_of_word_suffix) const {
  // One node per code point, linked so that merges can remove the right node. `symbol` is -1
  // for a string that no merge mentions; such a node never merges.
  struct Node {
    std::string text;
    int32_t symbol;
    int prev;
    int next;
  };
  std::vector<Node> nodes;
  for (size_t pos = 0; pos < word.size();) {
    size_t start = pos;
    unicode::next_code_point(word, pos);
    int index = static_cast<int>(nodes.size());
    nodes.push_back({std::string(word.substr(start, pos - start)), -1, index - 1, index + 1});
  }
  if (nodes.empty()) return {};
  nodes.back().next = -1;
  nodes.back().text += end_of_word_suffix;
  for (auto& node : nodes) node.symbol = find_symbol(node.text);

  // Candidate merges ordered by (rank, position). A candidate is stale when either node has
  // changed since it was queued; it is then skipped.
  using Candidate = std::tuple<int32_t, int, int32_t, int32_t>;  // rank, left node, left symbol, right symbol
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> queue;
  auto push_pair = [&](int left) {
    if (left < 0 || nodes[left].next < 0) return;
    const Node& a = nodes[left];
    const Node& b = nodes[a.next];
    if (const PairInfo* info = find_pair(a.symbol, b.symbol)) queue.emplace(info->rank, left, a.symbol, b.symbol);
  };
  for (int i = 0; i + 1 < static_cast<int>(nodes.size()); ++i) push_pair(i);

  std::vector<Candidate> same_rank;
  while (!queue.empty()) {
    // HF merges every occurrence of the lowest pair before it looks for the next lowest, so
    // take all candidates of this rank first: pairs created by these merges wait their turn.
    int32_t rank = std::get<0>(queue.top());
    same_rank.clear();
    while (!queue.empty() && std::get<0>(queue.top()) == rank) {
      same_rank.push_back(queue.top());
      queue.pop();
    }

    for (const auto& [unused_rank, left, left_symbol, right_symbol] : same_rank) {
      Node& a = nodes[left];
      if (a.symbol != left_symbol || a.next < 0 || nodes[a.next].symbol != right_symbol) continue;

      Node& b = nodes[a.next];
      a.symbol = find_pair(left_symbol, right_symbol)->merged_symbol;
      a.text = symbols_[a.symbol];
      a.next = b.next;
      if (b.next >= 0) nodes[b.next].prev = left;
      b.symbol = -2;  // removed; no candidate can match it again

      push_pair(a.prev);
      push_pair(left);
    }
  }

  std::vector<std::string> tokens;
  for (int i = 0; i >= 0; i = nodes[i].next) tokens.push_back(std::move(nodes[i].text));
  return tokens;
}

// ---- cache ----

bool BpeCache::append(const std::string& word, BpeWord& out) const {
  std::shared_lock lock(mutex_);
  auto it = words_.find(word);
  if (it == words_.end()) return false;
  out.tokens.insert(out.tokens.end(), it->second.tokens.begin(), it->second.tokens.end());
  out.ids.insert(out.ids.end(), it->second.ids.begin(), it->second.ids.end());
  return true;
}

void BpeCache::insert(const std::string& word, const BpeWord& split) {
  std::unique_lock lock(mutex_);
  if (words_.size() >= max_entries_) return;
  words_.emplace(word, split);
}

// ---- vocabulary + merges ----

ByteLevelBpe::ByteLevelBpe(Vocab vocab, const std::vector<Merge>& merges, std::string end_of_word_suffix)
    : vocab_(std::move(vocab)), merges_(merges), end_of_word_suffix_(std::move(end_of_word_suffix)),
      cache_(kCacheEntries) {
  // When two tokens share an id the later one wins, like HF's {v: k for k, v in encoder.items()};
  // an unordered_map has no file order, so NOTE: which of two such tokens decodes is unspecified.
  for (const auto& [token, id] : vocab_) id_to_token_[id] = token;
}

void ByteLevelBpe::encode_piece(std::string_view piece, int64_t unk_id, BpeWord& out) const {
  std::string word = bytes_to_symbols(piece);
  if (cache_.append(word, out)) return;

  BpeWord split;
  split.tokens = merges_.apply(word, end_of_word_suffix_);
  for (const auto& token : split.tokens) {
    auto it = vocab_.find(token);
    split.ids.push_back(it == vocab_.end() ? unk_id : it->second);
  }
  cache_.insert(word, split);
  out.tokens.insert(out.tokens.end(), split.tokens.begin(), split.tokens.end());
  out.ids.insert(out.ids.end(), split.ids.begin(), split.ids.end());
}

const std::string* ByteLevelBpe::token_of(int64_t id) const {
  auto it = id_to_token_.find(id);
  return it == id_to_token_.end() ? nullptr : &it->second;
}

}  // namespace dualclip::text
