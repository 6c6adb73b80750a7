#include <iostream>

#include <torch/torch.h>

#include "dualclip/cli/commands.h"
#include "dualclip/cli/eval_options.h"
#include "dualclip/core/error.h"
#include "dualclip/core/log.h"
#include "dualclip/eval/coco.h"
#include "dualclip/io/safetensors.h"

namespace dualclip::cli {

namespace {

torch::Tensor ids_tensor(const std::vector<int64_t>& ids) { return torch::tensor(ids, torch::kInt64); }

// The image and caption embeddings of a COCO split, with COCO's image and annotation ids.
void add_coco_embeddings(eval::InferenceModel& loaded, const eval::EmbedOptions& options, const ArgParser& parser,
                         io::TensorMap& tensors, std::map<std::string, std::string>& metadata) {
  const eval::CocoCaptions coco = eval::read_coco_captions(parser.get("data_dir"), parser.get("split"), parser.get_int("max_images"));
  std::vector<std::filesystem::path> paths;
  std::vector<int64_t> image_ids;
  nlohmann::json files = nlohmann::json::array();
  for (const auto& [path, id] : coco.images) {
    paths.push_back(path);
    image_ids.push_back(id);
    files.push_back(path.filename().string());
  }
  std::vector<std::string> texts;
  std::vector<int64_t> caption_image_ids;
  for (const auto& [text, image_id] : coco.captions) {
    texts.push_back(text);
    caption_image_ids.push_back(image_id);
  }

  tensors["image_embeds"] = eval::embed_images(loaded.model, loaded.processor, paths, options);
  tensors["image_ids"] = ids_tensor(image_ids);
  tensors["text_embeds"] = eval::embed_texts(loaded.model, loaded.processor, texts, options);
  tensors["caption_ids"] = ids_tensor(coco.caption_ids);
  tensors["caption_image_ids"] = ids_tensor(caption_image_ids);
  metadata["image_files"] = files.dump();
  metadata["texts"] = nlohmann::json(texts).dump();
}

}  // namespace

int run_embed(const std::vector<std::string>& args) {
  ArgParser parser("embed",
                   "Write normalised image and/or text embeddings with their ids to a safetensors file, for search "
                   "outside dualclip.");
  add_model_options(parser);
  add_image_text_inputs(parser);
  parser.add_option("data_dir", "", "A COCO folder: embed every image and caption of --split (instead of --images/--texts).", "DIR");
  parser.add_option("split", "val", "The COCO split read with --data_dir.", "NAME");
  parser.add_option("max_images", "0", "With --data_dir, only the first N images and their captions (0: all).", "N");
  parser.add_option("output", "", "The safetensors file to write.", "FILE");
  if (!parser.parse(args)) return 0;

  // Which inputs, checked before the model loads.
  const std::string output = parser.get("output");
  const bool coco = !parser.get_optional("data_dir").value_or("").empty();
  const std::vector<std::filesystem::path> images = eval::collect_image_files(parser.get_list("images"));
  const std::vector<std::string> texts = read_texts(parser);
  if (coco && (!images.empty() || !texts.empty())) {
    throw Error("--data_dir cannot be combined with --images, --texts or --texts_file: pass one kind of input");
  }
  if (!coco && images.empty() && texts.empty()) {
    throw Error("nothing to embed: pass --images, --texts, --texts_file or --data_dir");
  }

  eval::InferenceModel loaded = load_model_from_options(parser);
  const eval::EmbedOptions options = read_embed_options(parser, loaded);
  io::TensorMap tensors;
  std::map<std::string, std::string> metadata{{"format", "pt"},
                                              {"model", loaded.model_dir.string()},
                                              {"dtype", parser.flag("bf16") ? "bfloat16" : "float32"}};
  if (coco) {
    add_coco_embeddings(loaded, options, parser, tensors, metadata);
  }
  if (!images.empty()) {
    nlohmann::json files = nlohmann::json::array();
    for (const auto& path : images) files.push_back(path.string());
    tensors["image_embeds"] = eval::embed_images(loaded.model, loaded.processor, images, options);
    metadata["image_files"] = files.dump();
  }
  if (!texts.empty()) {
    tensors["text_embeds"] = eval::embed_texts(loaded.model, loaded.processor, texts, options);
    metadata["texts"] = nlohmann::json(texts).dump();
  }

  io::write_safetensors(output, tensors, metadata);
  for (const auto& [name, tensor] : tensors) {
    std::cout << name << " " << tensor.sizes() << " " << tensor.dtype() << "\n";
  }
  std::cout << "wrote " << output << "\n";
  return 0;
}

}  // namespace dualclip::cli
