#include "dualclip/io/model_dir.h"

#include <cstdlib>
#include <regex>
#include <set>
#include <vector>

#include "dualclip/core/error.h"
#include "dualclip/core/fs.h"
#include "dualclip/io/torch_bin.h"

namespace dualclip::io {

namespace fs = std::filesystem;

namespace {

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

// The hub caches to search, in Hugging Face's order of precedence.
std::vector<fs::path> hub_cache_dirs() {
  std::vector<fs::path> dirs;
  if (!env("HF_HUB_CACHE").empty()) dirs.emplace_back(env("HF_HUB_CACHE"));
  if (!env("HUGGINGFACE_HUB_CACHE").empty()) dirs.emplace_back(env("HUGGINGFACE_HUB_CACHE"));
  if (!env("HF_HOME").empty()) dirs.push_back(fs::path(env("HF_HOME")) / "hub");
  if (!env("XDG_CACHE_HOME").empty()) dirs.push_back(fs::path(env("XDG_CACHE_HOME")) / "huggingface" / "hub");
  if (!env("HOME").empty()) dirs.push_back(fs::path(env("HOME")) / ".cache" / "huggingface" / "hub");
  return dirs;
}

// A hub repository's snapshot: refs/main names the revision; without it, the only snapshot.
fs::path snapshot_of(const fs::path& repo, const std::string& id) {
  fs::path ref = repo / "refs" / "main";
  if (fs::exists(ref)) {
    std::string revision = read_file(ref);
    while (!revision.empty() && std::isspace(static_cast<unsigned char>(revision.back()))) revision.pop_back();
    fs::path snapshot = repo / "snapshots" / revision;
    if (!fs::is_directory(snapshot)) {
      throw Error("hub cache entry for " + id + ": " + ref.string() + " names revision " + revision + " but " +
                  snapshot.string() + " does not exist; download the model again");
    }
    return snapshot;
  }

  std::vector<fs::path> snapshots;
  if (fs::is_directory(repo / "snapshots")) {
    for (const auto& item : fs::directory_iterator(repo / "snapshots")) {
      if (item.is_directory()) snapshots.push_back(item.path());
    }
  }
  if (snapshots.size() == 1) return snapshots.front();
  throw Error("hub cache entry for " + id + " at " + repo.string() + " has no refs/main and " +
              std::to_string(snapshots.size()) + " snapshots; pass the snapshot folder as a path instead");
}

}  // namespace

fs::path resolve_model_dir(const std::string& name_or_path) {
  // Step 1: an existing folder wins.
  if (fs::is_directory(name_or_path)) return name_or_path;
  if (fs::exists(name_or_path)) {
    throw Error(name_or_path + " is a file; pass the model folder that contains config.json");
  }

  // Step 2: a hub id ("name" or "org/name") in the local cache.
  static const std::regex kHubId(R"([A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?)");
  std::vector<fs::path> searched;
  if (std::regex_match(name_or_path, kHubId)) {
    std::string folder = "models--" + std::regex_replace(name_or_path, std::regex("/"), "--");
    for (const fs::path& cache : hub_cache_dirs()) {
      fs::path repo = cache / folder;
      searched.push_back(repo);
      if (fs::is_directory(repo)) return snapshot_of(repo, name_or_path);
    }
  }

  std::string message = "model not found: " + name_or_path + " is not a folder";
  if (!searched.empty()) {
    message += " and not in the Hugging Face cache (looked in";
    for (const auto& path : searched) message += " " + path.string();
    message += "); download it with `huggingface-cli download " + name_or_path + "` or pass a local folder";
  }
  throw Error(message);
}

nlohmann::json read_json(const fs::path& path) {
  std::string text = read_file(path);
  nlohmann::json value = nlohmann::json::parse(text, nullptr, false);
  if (value.is_discarded()) throw Error(path.string() + " is not valid JSON; fix or regenerate the file");
  return value;
}

void write_json(const fs::path& path, const nlohmann::json& value) {
  write_file_atomic(path, value.dump(2) + "\n");
}

namespace {

// Shards listed in an index's weight_map; each shard must supply exactly the tensors mapped to it.
TensorMap load_sharded(const fs::path& index_path, bool safetensors) {
  nlohmann::json index = read_json(index_path);
  if (!index.contains("weight_map") || !index["weight_map"].is_object()) {
    throw Error(index_path.string() + " has no \"weight_map\" object; the sharded checkpoint index is invalid");
  }

  std::map<std::string, std::set<std::string>> names_by_shard;
  for (const auto& [name, shard] : index["weight_map"].items()) {
    if (!shard.is_string()) throw Error(index_path.string() + ": weight_map entry \"" + name + "\" is not a file name");
    names_by_shard[shard.get<std::string>()].insert(name);
  }

  TensorMap tensors;
  for (const auto& [shard, names] : names_by_shard) {
    fs::path shard_path = index_path.parent_path() / shard;
    TensorMap part = safetensors ? read_safetensors(shard_path).tensors : read_torch_bin(shard_path);
    for (const auto& name : names) {
      auto found = part.find(name);
      if (found == part.end()) {
        throw Error(shard_path.string() + ": tensor \"" + name + "\" listed in " + index_path.filename().string() +
                    " is missing from the shard");
      }
      tensors[name] = found->second;
    }
  }
  return tensors;
}

}  // namespace

TensorMap load_weights(const fs::path& model_dir) {
  if (fs::exists(model_dir / "model.safetensors")) return read_safetensors(model_dir / "model.safetensors").tensors;
  if (fs::exists(model_dir / "model.safetensors.index.json")) {
    return load_sharded(model_dir / "model.safetensors.index.json", true);
  }
  if (fs::exists(model_dir / "pytorch_model.bin")) return read_torch_bin(model_dir / "pytorch_model.bin");
  if (fs::exists(model_dir / "pytorch_model.bin.index.json")) {
    return load_sharded(model_dir / "pytorch_model.bin.index.json", false);
  }
  throw Error("no weights in " + model_dir.string() +
              ": expected model.safetensors, model.safetensors.index.json or pytorch_model.bin");
}

}  // namespace dualclip::io
