// A disk cache for embeddings that take long to compute (a whole COCO split): one safetensors
// file per key under the cache folder. The key is a 64-bit FNV-1a hash of everything the
// embeddings depend on: the files of the model directory (weights, config, tokenizer and
// processor files; path, size, modification time), the dtype, max_seq_length, the dualclip
// version, and the data files (path, size, modification time). Changing any of them, such as
// saving new weights over a checkpoint, gives a new key; stale files are never removed
// automatically.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "dualclip/io/safetensors.h"

namespace dualclip::eval {

// "path size mtime" for each file, one per line; a missing file is listed as missing.
std::string describe_files(const std::vector<std::filesystem::path>& files);

// The regular files directly inside a model directory (weights, shard index, config,
// tokenizer and processor files), sorted; subfolders such as the cache itself are skipped.
std::vector<std::filesystem::path> model_files(const std::filesystem::path& model_dir);

// 16 hex digits of the FNV-1a 64-bit hash of `text`.
std::string hash_hex(const std::string& text);

// `<model_dir>/.dualclip_cache` when the model folder is writable, else
// $XDG_CACHE_HOME/dualclip, else ~/.cache/dualclip.
std::filesystem::path default_cache_dir(const std::filesystem::path& model_dir);

class EmbeddingCache {
 public:
  explicit EmbeddingCache(std::filesystem::path dir) : dir_(std::move(dir)) {}

  std::filesystem::path file_for(const std::string& key) const { return dir_ / ("embeddings-" + key + ".safetensors"); }
  // The cached tensors, or nothing when the file does not exist or cannot be read (a warning
  // is logged for an unreadable file, which is then recomputed and overwritten).
  std::optional<io::TensorMap> load(const std::string& key) const;
  // Writes the tensors atomically, creating the folder, and returns true on success. A failure
  // to write only logs a warning and returns false, because the results are already computed.
  bool store(const std::string& key, const io::TensorMap& tensors, const std::map<std::string, std::string>& metadata) const;

 private:
  std::filesystem::path dir_;
};

}  // namespace dualclip::eval
