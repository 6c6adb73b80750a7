#include "dualclip/text/tokenizer_files.h"

#include <limits>

#include "dualclip/core/error.h"
#include "dualclip/core/fs.h"
#include "dualclip/text/unicode.h"

namespace dualclip::text {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// CLIPTokenizer reads merges [1 : 49152 - 256 - 2 + 1].
constexpr size_t kClipMaxMerges = 49152 - 256 - 2;

json read_json_if_present(const fs::path& path) {
  return fs::exists(path) ? read_json_file(path) : json::object();
}

// Splits file content into lines as Python's text mode + split("\n") does: "\r\n" and a lone
// "\r" both end a line (universal newlines).
std::vector<std::string> split_lines(const std::string& content) {
  std::vector<std::string> lines(1);
  for (size_t i = 0; i < content.size(); ++i) {
    char ch = content[i];
    if (ch == '\r' && i + 1 < content.size() && content[i + 1] == '\n') continue;
    if (ch == '\n' || ch == '\r') {
      lines.emplace_back();
    } else {
      lines.back().push_back(ch);
    }
  }
  return lines;
}

Merge parse_merge_line(const std::string& line, const fs::path& path, size_t line_number) {
  auto parts = unicode::split_python_whitespace(line);
  if (parts.size() != 2) {
    throw Error(path.string() + " line " + std::to_string(line_number) +
                ": a merge must be two symbols separated by a space, found \"" + line +
                "\"; the file should be a merges.txt written by a BPE tokenizer");
  }
  return {std::string(parts[0]), std::string(parts[1])};
}

AddedToken added_token_from_json(const json& j, const std::string& where) {
  AddedToken token;
  if (j.is_string()) {
    token.content = j.get<std::string>();
    return token;
  }
  if (!j.is_object() || !j.contains("content") || !j["content"].is_string()) {
    throw Error(where + ": expected a token string or an object with a string \"content\", found " + j.dump());
  }
  token.content = j["content"].get<std::string>();
  auto read_flag = [&](const char* key, bool& value) {
    if (j.contains(key) && j[key].is_boolean()) value = j[key].get<bool>();
  };
  read_flag("lstrip", token.lstrip);
  read_flag("rstrip", token.rstrip);
  read_flag("single_word", token.single_word);
  read_flag("normalized", token.normalized);
  read_flag("special", token.special);
  return token;
}

}  // namespace

json read_json_file(const fs::path& path) {
  std::string content = read_file(path);
  try {
    return json::parse(content);
  } catch (const json::parse_error& e) {
    throw Error(path.string() + " is not valid JSON (" + e.what() + "); restore the file from the model's source");
  }
}

// ---- tokenizer_config.json and friends ----

TokenizerConfig::TokenizerConfig(const fs::path& dir) : dir_(dir) {
  config_ = read_json_if_present(dir / "tokenizer_config.json");
  special_map_ = read_json_if_present(dir / "special_tokens_map.json");
  if (fs::exists(dir / "tokenizer.json")) tokenizer_json_ = read_json_file(dir / "tokenizer.json");
  if (!config_.is_object()) throw Error((dir / "tokenizer_config.json").string() + " must contain a JSON object");
  if (!special_map_.is_object()) throw Error((dir / "special_tokens_map.json").string() + " must contain a JSON object");
}

std::optional<std::string> TokenizerConfig::tokenizer_class() const {
  auto it = config_.find("tokenizer_class");
  if (it == config_.end() || !it->is_string()) return std::nullopt;
  std::string name = it->get<std::string>();
  const std::string fast = "Fast";
  if (name.size() > fast.size() && name.compare(name.size() - fast.size(), fast.size(), fast) == 0) {
    name.resize(name.size() - fast.size());
  }
  return name;
}

std::optional<std::string> TokenizerConfig::model_type() const {
  if (!has_file("config.json")) return std::nullopt;
  json config = read_json_file(dir_ / "config.json");
  if (config.is_object() && config.contains("model_type") && config["model_type"].is_string()) {
    return config["model_type"].get<std::string>();
  }
  return std::nullopt;
}

std::optional<bool> TokenizerConfig::optional_flag(const std::string& key) const {
  auto it = config_.find(key);
  if (it == config_.end() || it->is_null()) return std::nullopt;
  if (!it->is_boolean()) {
    throw Error((dir_ / "tokenizer_config.json").string() + ": \"" + key + "\" must be true, false or null, found " +
                it->dump());
  }
  return it->get<bool>();
}

bool TokenizerConfig::flag(const std::string& key, bool fallback) const {
  return optional_flag(key).value_or(fallback);
}

std::optional<int64_t> TokenizerConfig::model_max_length() const {
  auto it = config_.find("model_max_length");
  if (it == config_.end() || !it->is_number()) return std::nullopt;
  // HF writes int(1e30) for "no limit"; nlohmann reads such integers as doubles.
  double value = it->get<double>();
  if (value <= 0 || value >= 1e18) return std::nullopt;
  return static_cast<int64_t>(value);
}

AddedToken TokenizerConfig::special_token(const std::string& key, const AddedToken& fallback) const {
  for (const json* source : {&config_, &special_map_}) {
    auto it = source->find(key);
    if (it == source->end() || it->is_null()) continue;
    const std::string file = source == &config_ ? "tokenizer_config.json" : "special_tokens_map.json";
    AddedToken token = added_token_from_json(*it, (dir_ / file).string() + " key \"" + key + "\"");
    if (it->is_string()) {
      // A plain string keeps the flags the tokenizer class gives this token by default.
      AddedToken with_defaults = fallback;
      with_defaults.content = token.content;
      return with_defaults;
    }
    return token;
  }
  return fallback;
}

std::vector<std::string> TokenizerConfig::additional_special_tokens() const {
  std::vector<std::string> tokens;
  for (const json* source : {&config_, &special_map_}) {
    auto it = source->find("additional_special_tokens");
    if (it == source->end() || !it->is_array()) continue;
    for (const auto& entry : *it) tokens.push_back(added_token_from_json(entry, "additional_special_tokens").content);
    break;
  }
  return tokens;
}

std::vector<AddedToken> TokenizerConfig::added_tokens() const {
  std::vector<AddedToken> tokens;
  auto decoder = config_.find("added_tokens_decoder");
  if (decoder != config_.end() && decoder->is_object()) {
    const std::string where = (dir_ / "tokenizer_config.json").string() + " added_tokens_decoder";
    for (const auto& [id_text, entry] : decoder->items()) {
      AddedToken token = added_token_from_json(entry, where + " entry \"" + id_text + "\"");
      try {
        size_t used = 0;
        token.id = std::stoll(id_text, &used);
        if (used != id_text.size() || token.id < 0) throw std::invalid_argument(id_text);
      } catch (const std::exception&) {
        throw Error(where + ": key \"" + id_text + "\" is not a non-negative integer id");
      }
      tokens.push_back(token);
    }
    return tokens;
  }

  if (tokenizer_json_.is_object() && tokenizer_json_.contains("added_tokens") &&
      tokenizer_json_["added_tokens"].is_array()) {
    const std::string where = (dir_ / "tokenizer.json").string() + " added_tokens";
    for (const auto& entry : tokenizer_json_["added_tokens"]) {
      AddedToken token = added_token_from_json(entry, where);
      if (!entry.contains("id") || !entry["id"].is_number_integer()) {
        throw Error(where + ": entry " + entry.dump() + " has no integer \"id\"");
      }
      token.id = entry["id"].get<int64_t>();
      tokens.push_back(token);
    }
  }
  return tokens;
}

// ---- vocabularies and merges ----

Vocab vocab_from_json(const json& j, const std::string& where) {
  if (!j.is_object()) {
    throw Error(where + " must be a JSON object mapping token strings to ids, found a " + std::string(j.type_name()));
  }
  Vocab vocab;
  vocab.reserve(j.size());
  for (const auto& [token, id] : j.items()) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0) {
      throw Error(where + ": the id of token \"" + token + "\" must be a non-negative integer, found " + id.dump());
    }
    vocab.emplace(token, id.get<int64_t>());
  }
  if (vocab.empty()) throw Error(where + " is an empty vocabulary");
  return vocab;
}

Vocab read_vocab_json(const fs::path& path) { return vocab_from_json(read_json_file(path), path.string()); }

std::vector<Merge> read_merges_txt(const fs::path& path, MergesLayout layout) {
  std::string content = read_file(path);
  if (layout == MergesLayout::Clip) {
    std::string_view stripped = unicode::rstrip_python(unicode::lstrip_python(content));
    content = std::string(stripped);
  }
  std::vector<std::string> lines = split_lines(content);

  // Both layouts drop the first line ("#version: 0.2"); GPT-2's also drops the last one.
  size_t first = 1;
  size_t end = lines.size();
  if (layout == MergesLayout::Gpt2) end = end > 1 ? end - 1 : 1;
  if (layout == MergesLayout::Clip) end = std::min(end, first + kClipMaxMerges);

  std::vector<Merge> merges;
  for (size_t i = first; i < end; ++i) merges.push_back(parse_merge_line(lines[i], path, i + 1));
  return merges;
}

std::vector<Merge> merges_from_json(const json& j, const std::string& where) {
  if (!j.is_array()) throw Error(where + " must be a JSON array of merges");
  std::vector<Merge> merges;
  merges.reserve(j.size());
  for (size_t i = 0; i < j.size(); ++i) {
    const json& entry = j[i];
    if (entry.is_string()) {
      std::string line = entry.get<std::string>();
      auto parts = unicode::split_python_whitespace(line);
      if (parts.size() == 2) {
        merges.emplace_back(std::string(parts[0]), std::string(parts[1]));
        continue;
      }
    } else if (entry.is_array() && entry.size() == 2 && entry[0].is_string() && entry[1].is_string()) {
      merges.emplace_back(entry[0].get<std::string>(), entry[1].get<std::string>());
      continue;
    }
    throw Error(where + " entry " + std::to_string(i) + " must be \"a b\" or [\"a\", \"b\"], found " + entry.dump());
  }
  return merges;
}

Vocab read_vocab_txt(const fs::path& path) {
  std::string content = read_file(path);
  std::vector<std::string> lines = split_lines(content);
  // readlines() yields no entry for the empty string after a final newline.
  if (!lines.empty() && lines.back().empty()) lines.pop_back();
  if (lines.empty()) throw Error(path.string() + " is empty; a WordPiece vocab.txt lists one token per line");

  Vocab vocab;
  vocab.reserve(lines.size());
  for (size_t i = 0; i < lines.size(); ++i) vocab[lines[i]] = static_cast<int64_t>(i);
  return vocab;
}

}  // namespace dualclip::text
