// The demo's two small towers, made from configs alone: a CLIP vision tower for the shapes
// images and a BERT text tower whose WordPiece vocabulary is built from the dataset's
// captions. Each is written as a Hugging Face model directory with its processor files, so
// `dualclip create` (models::create_dual_encoder) joins them as it would downloaded towers.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace dualclip::demo {

struct TinyTowerSizes {
  int64_t image_size = 32;  // pixels per side, as the dataset writes them
  int64_t patch_size = 8;
  int64_t hidden_size = 64;
  int64_t intermediate_size = 256;
  int64_t num_attention_heads = 4;
  int64_t vision_layers = 4;
  int64_t text_layers = 2;
  int64_t max_position_embeddings = 32;  // tokens per caption, [CLS] and [SEP] included
};

// A "clip_vision_model" config.json for CLIPVisionModel with dropout off.
nlohmann::json vision_tower_config(const TinyTowerSizes& sizes);

// A "bert" config.json for BertModel over `vocab_size` tokens, with dropout off.
nlohmann::json text_tower_config(const TinyTowerSizes& sizes, int64_t vocab_size);

// preprocessor_config.json of a CLIPImageProcessor at `image_size`: resize the shortest edge
// and centre-crop to that size, rescale to [0, 1] and normalise with CLIP's mean and std.
nlohmann::json clip_preprocessor_config(int64_t image_size);

// The WordPiece vocabulary for `captions`: [PAD] [UNK] [CLS] [SEP] [MASK] (ids 0 to 4), then
// every lower-cased word and punctuation mark that BERT's BasicTokenizer splits them into,
// sorted, then single letters and digits with their "##" forms, so that a word outside the
// captions is spelled out instead of becoming [UNK].
std::vector<std::string> build_caption_vocab(const std::vector<std::string>& captions);

// Writes vocab.txt, tokenizer_config.json (BertTokenizer, do_lower_case) and
// special_tokens_map.json into `dir`.
void write_bert_tokenizer_files(const std::filesystem::path& dir, const std::vector<std::string>& vocab,
                                int64_t model_max_length);

// Every caption of a COCO captions annotation file ("annotations": [{"caption": ...}]).
std::vector<std::string> read_coco_caption_texts(const std::filesystem::path& annotation_file);

}  // namespace dualclip::demo
