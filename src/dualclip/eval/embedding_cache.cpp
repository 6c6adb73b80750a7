#include "dualclip/eval/embedding_cache.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <unistd.h>

#include "dualclip/core/error.h"
#include "dualclip/core/log.h"

namespace dualclip::eval {

namespace fs = std::filesystem;

std::string describe_files(const std::vector<fs::path>& files) {
  std::string text;
  for (const fs::path& file : files) {
    std::error_code ec;
    const auto size = fs::file_size(file, ec);
    if (ec) {
      text += file.string() + " missing\n";
      continue;
    }
    const auto mtime = fs::last_write_time(file, ec).time_since_epoch().count();
    text += file.string() + " " + std::to_string(size) + " " + std::to_string(mtime) + "\n";
  }
  return text;
}

std::vector<fs::path> model_files(const fs::path& model_dir) {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(model_dir)) {
    if (entry.is_regular_file()) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::string hash_hex(const std::string& text) {
  uint64_t hash = 1469598103934665603ULL;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 1099511628211ULL;
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(hash));
  return hex;
}

fs::path default_cache_dir(const fs::path& model_dir) {
  if (::access(model_dir.c_str(), W_OK) == 0) return model_dir / ".dualclip_cache";
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) return fs::path(xdg) / "dualclip";
  if (const char* home = std::getenv("HOME"); home && *home) return fs::path(home) / ".cache" / "dualclip";
  return fs::temp_directory_path() / "dualclip-cache";
}

std::optional<io::TensorMap> EmbeddingCache::load(const std::string& key) const {
  const fs::path file = file_for(key);
  if (!fs::exists(file)) return std::nullopt;
  try {
    return io::read_safetensors(file).tensors;
  } catch (const Error& e) {
    log::warn("ignoring unreadable embedding cache " + file.string() + ": " + e.what());
    return std::nullopt;
  }
}

bool EmbeddingCache::store(const std::string& key, const io::TensorMap& tensors,
                           const std::map<std::string, std::string>& metadata) const {
  try {
    fs::create_directories(dir_);
    io::write_safetensors(file_for(key), tensors, metadata);
    return true;
  } catch (const std::exception& e) {
    log::warn("could not write the embedding cache under " + dir_.string() + " (" + e.what() +
              "); pass --cache_dir to choose a writable folder");
    return false;
  }
}

}  // namespace dualclip::eval
