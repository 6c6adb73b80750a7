#include <iostream>

#include "dualclip/cli/commands.h"
#include "dualclip/cli/eval_options.h"
#include "dualclip/core/error.h"
#include "dualclip/core/fs.h"
#include "dualclip/core/log.h"
#include "dualclip/eval/similarity.h"
#include "dualclip/report/heatmap.h"
#include "dualclip/vision/image.h"

namespace dualclip::cli {

namespace {

// A heatmap cell stays readable up to about this many rows or columns.
constexpr size_t kMaxHeatmapSide = 40;

void write_heatmap(const eval::SimilarityResult& result, const std::vector<std::filesystem::path>& images,
                   const std::string& title, const std::filesystem::path& png) {
  if (images.size() > kMaxHeatmapSide || result.texts.size() > kMaxHeatmapSide) {
    throw Error("--heatmap supports at most " + std::to_string(kMaxHeatmapSide) + " images and " +
                std::to_string(kMaxHeatmapSide) + " texts; got " + std::to_string(images.size()) + " and " +
                std::to_string(result.texts.size()) + ": pass fewer, or use --json for the full matrix");
  }
  std::vector<vision::Image> thumbnails;
  report::HeatmapOptions options;
  for (const auto& path : images) {
    thumbnails.push_back(vision::decode_image_file(path));
    options.image_labels.push_back(path.filename().string());
  }
  report::write_similarity_heatmap_png(result.probs, result.texts, thumbnails, title, png, options);
  log::info("wrote " + png.string());
}

}  // namespace

int run_similarity(const std::vector<std::string>& args) {
  ArgParser parser("similarity",
                   "Score every image against every text: logits_per_image and its softmax over the texts, with "
                   "images as rows and texts as columns.");
  add_model_options(parser);
  add_image_text_inputs(parser);
  parser.add_flag("json", "Print the result as JSON instead of tables.");
  parser.add_option("heatmap", "", "Also draw the probability matrix with image thumbnails into this PNG file.", "PNG");
  parser.add_option("title", "", "Title of the heatmap (default: the model directory's name).", "TEXT");
  if (!parser.parse(args)) return 0;

  // Check every input before loading the model.
  const std::vector<std::filesystem::path> images = eval::collect_image_files(parser.get_list("images"));
  if (images.empty()) throw Error("no images given: pass image files or folders with --images");
  const std::vector<std::string> texts = read_texts(parser);
  eval::require_texts(texts, "--texts or --texts_file");

  eval::InferenceModel loaded = load_model_from_options(parser);
  const eval::SimilarityResult result =
      eval::compute_similarity(loaded.model, loaded.processor, images, texts, read_embed_options(parser, loaded));

  if (parser.flag("json")) {
    std::cout << eval::similarity_to_json(result).dump(2) << "\n";
  } else {
    std::cout << eval::format_similarity(result);
  }

  if (auto png = parser.get_optional("heatmap"); png && !png->empty()) {
    std::string title = parser.get_optional("title").value_or("");
    if (title.empty()) {
      std::filesystem::path model_dir = loaded.model_dir.lexically_normal();
      if (model_dir.filename().empty()) model_dir = model_dir.parent_path();  // a trailing slash
      title = "image-text similarity: " + model_dir.filename().string();
    }
    write_heatmap(result, images, title, *png);
  }
  return 0;
}

}  // namespace dualclip::cli
