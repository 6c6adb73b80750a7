// load_tokenizer: picks the tokenizer type from the files of a model directory.
#include <set>

#include "dualclip/core/error.h"
#include "dualclip/text/bpe_tokenizer.h"
#include "dualclip/text/tokenizer.h"
#include "dualclip/text/tokenizer_files.h"
#include "dualclip/text/wordpiece_tokenizer.h"

namespace dualclip::text {

namespace {

enum class Kind { Roberta, Clip, WordPiece };

std::optional<Kind> kind_from_class(const std::string& name) {
  if (name == "RobertaTokenizer") return Kind::Roberta;
  if (name == "CLIPTokenizer") return Kind::Clip;
  if (name == "BertTokenizer") return Kind::WordPiece;
  return std::nullopt;
}

// A BPE vocabulary in CLIP's layout has its start token and "</w>" word ends.
bool looks_like_clip(const TokenizerConfig& config) {
  std::optional<std::string> model_type = config.model_type();
  if (model_type && (*model_type == "clip" || *model_type == "clip_text_model")) return true;
  if (config.has_file("vocab.json")) {
    Vocab vocab = read_vocab_json(config.path("vocab.json"));
    return vocab.count("<|startoftext|>") > 0;
  }
  const nlohmann::json& model = config.tokenizer_json().value("model", nlohmann::json::object());
  return model.contains("vocab") && model["vocab"].is_object() && model["vocab"].contains("<|startoftext|>");
}

Kind detect_kind(const TokenizerConfig& config) {
  const std::filesystem::path& dir = config.dir();
  if (std::optional<std::string> name = config.tokenizer_class()) {
    if (std::optional<Kind> kind = kind_from_class(*name)) return *kind;
    throw Error((dir / "tokenizer_config.json").string() + ": tokenizer_class \"" + *name +
                "\" is not supported; dualclip reads RobertaTokenizer, BertTokenizer and CLIPTokenizer "
                "(and their Fast variants)");
  }
  if (config.has_file("vocab.txt")) return Kind::WordPiece;
  bool slow_bpe = config.has_file("vocab.json") && config.has_file("merges.txt");
  if (!slow_bpe && config.tokenizer_json().is_object()) {
    std::string type = config.tokenizer_json().value("model", nlohmann::json::object()).value("type", "");
    if (type == "WordPiece") return Kind::WordPiece;
    if (type != "BPE") {
      throw Error((dir / "tokenizer.json").string() + ": model.type \"" + type +
                  "\" is not supported; dualclip reads byte-level BPE and WordPiece tokenizers");
    }
  } else if (!slow_bpe) {
    throw Error(dir.string() + " has no tokenizer: expected vocab.json + merges.txt (RoBERTa/CLIP BPE), "
                "vocab.txt (BERT WordPiece) or tokenizer.json");
  }
  return looks_like_clip(config) ? Kind::Clip : Kind::Roberta;
}

}  // namespace

std::unique_ptr<Tokenizer> load_tokenizer(const std::filesystem::path& model_dir) {
  if (!std::filesystem::is_directory(model_dir)) {
    throw Error("tokenizer folder " + model_dir.string() + " does not exist or is not a folder");
  }
  TokenizerConfig config(model_dir);
  switch (detect_kind(config)) {
    case Kind::Roberta: return std::make_unique<BpeTokenizer>(config, BpeFlavor::Roberta);
    case Kind::Clip: return std::make_unique<BpeTokenizer>(config, BpeFlavor::Clip);
    case Kind::WordPiece: return std::make_unique<WordPieceTokenizer>(config);
  }
  throw Error("unreachable tokenizer kind");
}

}  // namespace dualclip::text
