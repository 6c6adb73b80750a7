#include <iostream>

#include <torch/torch.h>

#include "dualclip/cli/commands.h"
#include "dualclip/cli/eval_options.h"
#include "dualclip/core/error.h"
#include "dualclip/core/log.h"
#include "dualclip/core/runtime.h"
#include "dualclip/eval/coco.h"
#include "dualclip/eval/embedding_cache.h"
#include "dualclip/eval/retrieval.h"

namespace dualclip::cli {

namespace {

struct SplitEmbeddings {
  torch::Tensor image_embeds;
  torch::Tensor text_embeds;
};

// Describes everything the embeddings depend on (the list is documented in embedding_cache.h).
std::string describe_cache_key(const eval::InferenceModel& loaded, const ArgParser& parser,
                               const eval::CocoCaptions& coco) {
  std::vector<std::filesystem::path> data_files{coco.annotation_file};
  for (const auto& image : coco.images) data_files.push_back(image.first);
  return "dualclip " + runtime::dualclip_version() + "\nmodel\n" + eval::describe_files(eval::model_files(loaded.model_dir)) +
         "dtype " + (parser.flag("bf16") ? "bfloat16" : "float32") + "\nmax_seq_length " +
         std::to_string(loaded.processor.max_seq_length()) + "\ndata\n" + eval::describe_files(data_files);
}

bool cache_matches(const eval::CocoCaptions& coco, const io::TensorMap& cached) {
  auto images = cached.find("image_embeds");
  auto texts = cached.find("text_embeds");
  return images != cached.end() && texts != cached.end() &&
         images->second.size(0) == static_cast<int64_t>(coco.images.size()) &&
         texts->second.size(0) == static_cast<int64_t>(coco.captions.size());
}

SplitEmbeddings compute_split_embeddings(eval::InferenceModel& loaded, const eval::EmbedOptions& options,
                                         const eval::CocoCaptions& coco) {
  std::vector<std::filesystem::path> paths;
  for (const auto& image : coco.images) paths.push_back(image.first);
  std::vector<std::string> texts;
  for (const auto& caption : coco.captions) texts.push_back(caption.first);
  return {eval::embed_images(loaded.model, loaded.processor, paths, options),
          eval::embed_texts(loaded.model, loaded.processor, texts, options)};
}

}  // namespace

int run_retrieval(const std::vector<std::string>& args) {
  ArgParser parser("retrieval",
                   "Image-to-text and text-to-image Recall@1/5/10 on a COCO captions split, where any caption of an "
                   "image counts as a hit.");
  add_model_options(parser);
  parser.add_option("data_dir", "", "COCO folder with annotations/captions_{split}2017.json and {split}2017/ images.", "DIR");
  parser.add_option("split", "val", "The split to evaluate: val or train (any name with a matching annotation file).", "NAME");
  parser.add_option("max_images", "0", "Evaluate only the first N images of the split and their captions (0: all).", "N");
  parser.add_option("cache_dir", "", "Folder for cached embeddings (default: <model>/.dualclip_cache when writable, else ~/.cache/dualclip).", "DIR");
  parser.add_flag("no_cache", "Neither read nor write cached embeddings.");
  parser.add_flag("json", "Print the recalls as JSON.");
  if (!parser.parse(args)) return 0;

  const eval::CocoCaptions coco = eval::read_coco_captions(parser.get("data_dir"), parser.get("split"), parser.get_int("max_images"));
  const std::vector<int64_t> caption_image_index = eval::index_captions_by_image(coco.images, coco.captions);
  log::info(coco.annotation_file.string() + ": " + std::to_string(coco.images.size()) + " images, " +
            std::to_string(coco.captions.size()) + " captions");

  eval::InferenceModel loaded = load_model_from_options(parser);
  const eval::EmbedOptions options = read_embed_options(parser, loaded);

  // Embeddings from the cache when this model and data were embedded before.
  const std::string cache_dir = parser.get_optional("cache_dir").value_or("");
  const eval::EmbeddingCache cache(cache_dir.empty() ? eval::default_cache_dir(loaded.model_dir) : std::filesystem::path(cache_dir));
  const std::string key = eval::hash_hex(describe_cache_key(loaded, parser, coco));
  SplitEmbeddings embeddings;
  std::optional<io::TensorMap> cached;
  if (!parser.flag("no_cache")) cached = cache.load(key);
  if (cached && cache_matches(coco, *cached)) {
    log::info("using cached embeddings " + cache.file_for(key).string());
    embeddings = {cached->at("image_embeds"), cached->at("text_embeds")};
  } else {
    embeddings = compute_split_embeddings(loaded, options, coco);
    const io::TensorMap tensors{{"image_embeds", embeddings.image_embeds}, {"text_embeds", embeddings.text_embeds}};
    const std::map<std::string, std::string> metadata{
        {"format", "pt"}, {"model_dir", loaded.model_dir.string()}, {"annotation_file", coco.annotation_file.string()}};
    if (!parser.flag("no_cache") && cache.store(key, tensors, metadata)) {
      log::info("cached embeddings in " + cache.file_for(key).string());
    }
  }

  const eval::RetrievalMetrics metrics =
      eval::compute_retrieval_recall(embeddings.image_embeds, embeddings.text_embeds, caption_image_index);
  if (parser.flag("json")) {
    std::cout << metrics.to_json().dump(2) << "\n";
  } else {
    std::cout << metrics.format();
  }
  return 0;
}

}  // namespace dualclip::cli
