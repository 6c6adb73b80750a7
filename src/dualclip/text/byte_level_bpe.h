// Byte-level BPE as GPT-2, RoBERTa and CLIP use it: every byte of a pre-tokenized piece maps
// to one printable code point, then merges are applied by rank. Shared by the RoBERTa and
// CLIP tokenizers; each adds its own pre-tokenizer and special tokens.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace dualclip::text {

using Vocab = std::unordered_map<std::string, int64_t>;
using Merge = std::pair<std::string, std::string>;

// GPT-2's bytes_to_unicode table: printable Latin-1 bytes map to themselves, the other 68
// bytes to U+0100.. in byte order. Entry b is the UTF-8 of the code point for byte b.
const std::array<std::string, 256>& byte_to_symbol();
// The byte a symbol code point stands for, or -1 when the code point is not in the table.
int symbol_to_byte(char32_t c);
// Maps every byte of `text` through byte_to_symbol.
std::string bytes_to_symbols(std::string_view text);
// Inverse of bytes_to_symbols; code points outside the table keep their own UTF-8 bytes.
std::string symbols_to_bytes(std::string_view symbols);

// Merge ranks and the merge loop of HF's slow bpe(): repeatedly take the lowest-ranked
// adjacent pair and merge all its non-overlapping occurrences left to right.
class BpeMerges {
 public:
  // `merges` in rank order. A pair listed twice keeps its later rank, as the dict HF builds
  // from the list does.
  explicit BpeMerges(const std::vector<Merge>& merges);

  // Splits `word` (code points of byte-mapped text) into BPE tokens. A non-empty
  // `end_of_word_suffix` ("</w>" for CLIP) is appended to the last symbol before merging.
  std::vector<std::string> apply(std::string_view word, std::string_view end_of_word_suffix) const;

  size_t size() const { return rank_count_; }

 private:
  struct PairInfo {
    int32_t rank;
    int32_t merged_symbol;
  };
  int32_t intern(const std::string& symbol);
  int32_t find_symbol(const std::string& symbol) const;
  const PairInfo* find_pair(int32_t left, int32_t right) const;

  std::unordered_map<std::string, int32_t> symbol_ids_;
  std::vector<std::string> symbols_;
  std::unordered_map<uint64_t, PairInfo> pairs_;
  size_t rank_count_ = 0;
};

// The tokens and ids one pre-tokenized piece splits into.
struct BpeWord {
  std::vector<std::string> tokens;
  std::vector<int64_t> ids;
};

// Pieces already split, shared by the data loader's worker threads. It stops growing at
// `max_entries` (new words are then split every time) so that a stream of unique strings
// cannot exhaust memory.
class BpeCache {
 public:
  explicit BpeCache(size_t max_entries) : max_entries_(max_entries) {}

  // Appends the cached split of `word` to `out`; false when `word` is not cached.
  bool append(const std::string& word, BpeWord& out) const;
  void insert(const std::string& word, const BpeWord& split);

 private:
  size_t max_entries_;
  mutable std::shared_mutex mutex_;
  std::unordered_map<std::string, BpeWord> words_;
};

// Vocabulary + merges + cache: turns one pre-tokenized piece into tokens and ids.
class ByteLevelBpe {
 public:
  ByteLevelBpe(Vocab vocab, const std::vector<Merge>& merges, std::string end_of_word_suffix);

  // Appends the tokens and ids of `piece` (raw UTF-8) to `out`. Tokens missing from the
  // vocabulary get `unk_id`.
  void encode_piece(std::string_view piece, int64_t unk_id, BpeWord& out) const;

  const Vocab& vocab() const { return vocab_; }
  const BpeMerges& merges() const { return merges_; }
  // Token string of `id`, or nullptr when no vocabulary entry has that id.
  const std::string* token_of(int64_t id) const;

 private:
  Vocab vocab_;
  std::unordered_map<int64_t, std::string> id_to_token_;
  BpeMerges merges_;
  std::string end_of_word_suffix_;
  mutable BpeCache cache_;  // internally synchronized
};

}  // namespace dualclip::text
