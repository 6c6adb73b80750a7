#include <iostream>
#include <sstream>

#include <torch/torch.h>

#include "dualclip/cli/commands.h"
#include "dualclip/cli/eval_options.h"
#include "dualclip/core/error.h"
#include "dualclip/core/log.h"
#include "dualclip/eval/zero_shot.h"

namespace dualclip::cli {

namespace {

std::string trim(const std::string& text) {
  const size_t begin = text.find_first_not_of(" \t");
  if (begin == std::string::npos) return "";
  return text.substr(begin, text.find_last_not_of(" \t") - begin + 1);
}

// --classes "cat,dog" and --classes_file (one class per line), in that order.
std::vector<std::string> read_class_names(const ArgParser& parser) {
  std::vector<std::string> names;
  if (auto list = parser.get_optional("classes"); list && !list->empty()) {
    std::istringstream in(*list);
    std::string name;
    while (std::getline(in, name, ',')) {
      if (trim(name).empty()) throw Error("--classes '" + *list + "' has an empty class name; separate names with single commas");
      names.push_back(trim(name));
    }
  }
  if (auto file = parser.get_optional("classes_file"); file && !file->empty()) {
    for (const std::string& line : eval::read_texts_file(*file)) names.push_back(trim(line));
  }
  if (names.empty()) throw Error("no classes given: pass --classes cat,dog,... or --classes_file FILE");
  return names;
}

}  // namespace

int run_zero_shot(const std::vector<std::string>& args) {
  ArgParser parser("zero-shot",
                   "Classify labelled images by their similarity to prompts built from class names, and report "
                   "top-1/top-5 accuracy and the most confused classes.");
  add_model_options(parser);
  parser.add_option("classes", "", "Comma-separated class names, e.g. cat,dog,bird.", "NAMES");
  parser.add_option("classes_file", "", "A file of class names, one per line (added after --classes).", "FILE");
  parser.add_list("templates", "Prompt templates with {} for the class name; each class embedding is the mean over them (default: \"a photo of a {}.\").", "TEMPLATE");
  parser.add_option("images", "", "A folder with one subfolder of images per class, or a CSV file of path,label rows.", "DIR|CSV");
  parser.add_option("predictions", "zero_shot_predictions.csv", "CSV file for the per-image predictions.", "FILE");
  parser.add_flag("json", "Print the accuracies and confusions as JSON.");
  if (!parser.parse(args)) return 0;

  // Inputs first, so that a typo fails before the model loads.
  const std::vector<std::string> class_names = read_class_names(parser);
  std::vector<std::string> templates = parser.get_list("templates");
  if (templates.empty()) templates = {"a photo of a {}."};
  for (const auto& template_text : templates) eval::fill_templates("x", {template_text});
  const std::string source = parser.get("images");
  const std::vector<eval::LabelledImage> images = eval::read_labelled_images(source, class_names);
  log::info(std::to_string(images.size()) + " images in " + std::to_string(class_names.size()) + " classes, " +
            std::to_string(templates.size()) + " templates");

  // Class embeddings, image embeddings, then logits as the model scales them.
  eval::InferenceModel loaded = load_model_from_options(parser);
  const eval::EmbedOptions options = read_embed_options(parser, loaded);
  const torch::Tensor class_embeds =
      eval::build_class_embeddings(loaded.model, loaded.processor, class_names, templates, options);
  std::vector<std::filesystem::path> paths;
  std::vector<int64_t> labels;
  for (const auto& image : images) {
    paths.push_back(image.path);
    labels.push_back(image.label);
  }
  const torch::Tensor image_embeds = eval::embed_images(loaded.model, loaded.processor, paths, options);
  const torch::Tensor logits = torch::matmul(image_embeds, class_embeds.t()) * eval::logit_scale_exp(loaded.model);
  const eval::ZeroShotResult result = eval::score_zero_shot(logits, labels);

  const std::string predictions = parser.get("predictions");
  eval::write_zero_shot_predictions(predictions, images, result, class_names);
  if (parser.flag("json")) {
    nlohmann::json confusions = nlohmann::json::array();
    for (const auto& c : result.confusions) {
      confusions.push_back({{"label", class_names[c.label]}, {"predicted", class_names[c.predicted]}, {"count", c.count}});
    }
    std::cout << nlohmann::json{{"top1_accuracy", result.top1_accuracy},
                                {"top" + std::to_string(result.top_k) + "_accuracy", result.top_k_accuracy},
                                {"num_images", images.size()},
                                {"confusions", confusions},
                                {"predictions", predictions}}
                     .dump(2)
              << "\n";
  } else {
    std::cout << eval::format_zero_shot(result, class_names) << "per-image predictions: " << predictions << "\n";
  }
  return 0;
}

}  // namespace dualclip::cli
