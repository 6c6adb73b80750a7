#include "dualclip/demo/tiny_towers.h"

#include <set>

#include "dualclip/core/error.h"
#include "dualclip/core/fs.h"
#include "dualclip/io/model_dir.h"
#include "dualclip/text/basic_tokenizer.h"

namespace dualclip::demo {

namespace fs = std::filesystem;
using nlohmann::json;

json vision_tower_config(const TinyTowerSizes& sizes) {
  // Keys as transformers 4.40's CLIPVisionConfig writes them; the rest keep HF's defaults.
  return {{"architectures", {"CLIPVisionModel"}},
          {"model_type", "clip_vision_model"},
          {"image_size", sizes.image_size},
          {"patch_size", sizes.patch_size},
          {"num_channels", 3},
          {"hidden_size", sizes.hidden_size},
          {"intermediate_size", sizes.intermediate_size},
          {"num_hidden_layers", sizes.vision_layers},
          {"num_attention_heads", sizes.num_attention_heads},
          {"hidden_act", "quick_gelu"},
          {"layer_norm_eps", 1e-5},
          {"attention_dropout", 0.0},
          {"initializer_range", 0.02},
          {"initializer_factor", 1.0}};
}

json text_tower_config(const TinyTowerSizes& sizes, int64_t vocab_size) {
  // Dropout is off: a model this small trained for minutes does not overfit the captions.
  return {{"architectures", {"BertModel"}},
          {"model_type", "bert"},
          {"vocab_size", vocab_size},
          {"hidden_size", sizes.hidden_size},
          {"intermediate_size", sizes.intermediate_size},
          {"num_hidden_layers", sizes.text_layers},
          {"num_attention_heads", sizes.num_attention_heads},
          {"max_position_embeddings", sizes.max_position_embeddings},
          {"type_vocab_size", 2},
          {"hidden_act", "gelu"},
          {"hidden_dropout_prob", 0.0},
          {"attention_probs_dropout_prob", 0.0},
          {"layer_norm_eps", 1e-12},
          {"initializer_range", 0.02},
          {"pad_token_id", 0},
          {"position_embedding_type", "absolute"}};
}

json clip_preprocessor_config(int64_t image_size) {
  return {{"image_processor_type", "CLIPImageProcessor"},
          {"do_resize", true},
          {"size", {{"shortest_edge", image_size}}},
          {"resample", 3},
          {"do_center_crop", true},
          {"crop_size", {{"height", image_size}, {"width", image_size}}},
          {"do_rescale", true},
          {"rescale_factor", 1.0 / 255.0},
          {"do_normalize", true},
          {"image_mean", {0.48145466, 0.4578275, 0.40821073}},
          {"image_std", {0.26862954, 0.26130258, 0.27577711}},
          {"do_convert_rgb", true}};
}

std::vector<std::string> build_caption_vocab(const std::vector<std::string>& captions) {
  // The words WordPiece will look up: BasicTokenizer's output, exactly as the tokenizer
  // will see it at training time (lower-cased, punctuation split off).
  text::BasicTokenizer basic(text::BasicTokenizerOptions{});
  std::set<std::string> words;
  for (const auto& caption : captions) {
    for (auto& word : basic.tokenize(caption)) words.insert(std::move(word));
  }

  // Characters as whole words and as continuations, so an unseen word still has pieces.
  const std::string characters = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::vector<std::string> pieces;
  for (char c : characters) {
    words.insert(std::string(1, c));
    pieces.push_back("##" + std::string(1, c));
  }

  std::vector<std::string> vocab = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
  vocab.insert(vocab.end(), words.begin(), words.end());
  vocab.insert(vocab.end(), pieces.begin(), pieces.end());
  return vocab;
}

void write_bert_tokenizer_files(const fs::path& dir, const std::vector<std::string>& vocab, int64_t model_max_length) {
  std::string vocab_txt;
  for (const auto& token : vocab) vocab_txt += token + "\n";
  write_file_atomic(dir / "vocab.txt", vocab_txt);

  const json special_tokens = {{"pad_token", "[PAD]"},
                               {"unk_token", "[UNK]"},
                               {"cls_token", "[CLS]"},
                               {"sep_token", "[SEP]"},
                               {"mask_token", "[MASK]"}};
  json tokenizer_config = special_tokens;
  tokenizer_config["tokenizer_class"] = "BertTokenizer";
  tokenizer_config["do_lower_case"] = true;
  tokenizer_config["do_basic_tokenize"] = true;
  tokenizer_config["tokenize_chinese_chars"] = true;
  tokenizer_config["strip_accents"] = nullptr;
  tokenizer_config["model_max_length"] = model_max_length;
  io::write_json(dir / "tokenizer_config.json", tokenizer_config);
  io::write_json(dir / "special_tokens_map.json", special_tokens);
}

std::vector<std::string> read_coco_caption_texts(const fs::path& annotation_file) {
  const json root = io::read_json(annotation_file);
  if (!root.contains("annotations") || !root["annotations"].is_array()) {
    throw Error(annotation_file.string() + " has no \"annotations\" list; expected a COCO captions file");
  }
  std::vector<std::string> captions;
  for (const auto& annotation : root["annotations"]) {
    if (!annotation.contains("caption") || !annotation["caption"].is_string()) {
      throw Error(annotation_file.string() + " has an annotation without a \"caption\" string: " + annotation.dump());
    }
    captions.push_back(annotation["caption"].get<std::string>());
  }
  return captions;
}

}  // namespace dualclip::demo
