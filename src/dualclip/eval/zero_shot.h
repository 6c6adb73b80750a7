// Zero-shot classification as open_clip evaluates it: each class embedding is the mean of the
// normalised text embeddings of its prompts ("a photo of a {}." for every template),
// normalised again; an image's prediction is the class with the highest cosine similarity.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/types.h>

#include "dualclip/eval/embed.h"

namespace dualclip::eval {

struct Confusion {
  int64_t label = 0;       // the true class
  int64_t predicted = 0;   // the class predicted instead
  int64_t count = 0;
};

struct ZeroShotResult {
  int64_t top_k = 5;                           // min(5, number of classes)
  double top1_accuracy = 0.0;                  // in [0, 1]
  double top_k_accuracy = 0.0;
  std::vector<std::vector<int64_t>> top_classes;  // per image, the top_k classes, best first
  std::vector<std::vector<float>> top_probs;      // their softmax probabilities
  std::vector<Confusion> confusions;              // wrong top-1 predictions, most frequent first
};

// Replaces "{}" in each template with the class name; throws dualclip::Error naming a template
// without "{}".
std::vector<std::string> fill_templates(const std::string& class_name, const std::vector<std::string>& templates);

// The [classes, projection_dim] normalised class embeddings.
torch::Tensor build_class_embeddings(models::DualEncoder& model, const Processor& processor,
                                     const std::vector<std::string>& class_names,
                                     const std::vector<std::string>& templates, const EmbedOptions& options);

// Accuracy, per-image top classes and confusions from logits [images, classes] and the true
// class of each image. Ties between equal logits go to the lower class index.
ZeroShotResult score_zero_shot(const torch::Tensor& logits, const std::vector<int64_t>& labels);

// Accuracy lines and the `max_pairs` most confused (true -> predicted) pairs, for the terminal.
std::string format_zero_shot(const ZeroShotResult& result, const std::vector<std::string>& class_names,
                             size_t max_pairs = 10);

// A labelled image: the file and the index of its class.
struct LabelledImage {
  std::filesystem::path path;
  int64_t label = 0;
};

// Reads a labelled image set: a folder with one subfolder per class (named exactly as the
// class), or a CSV file of `path,label` rows (a header row "path,label" or "image_path,label", as
// make-dataset writes it, is optional; relative
// paths are relative to the CSV's folder). Throws dualclip::Error naming the subfolder, CSV line
// or file that does not match `class_names` or does not exist.
std::vector<LabelledImage> read_labelled_images(const std::filesystem::path& source,
                                                const std::vector<std::string>& class_names);

// Writes one CSV row per image: path, label, prediction, correct, the top classes and their
// probabilities.
void write_zero_shot_predictions(const std::filesystem::path& path, const std::vector<LabelledImage>& images,
                                 const ZeroShotResult& result, const std::vector<std::string>& class_names);

}  // namespace dualclip::eval
