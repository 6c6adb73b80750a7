// Picking the heatmap's images and captions from the val split, and drawing a heatmap.

#include <algorithm>
#include <map>
#include <set>

#include <torch/torch.h>

#include "dualclip/core/error.h"
#include "dualclip/demo/stages.h"
#include "dualclip/eval/coco.h"
#include "dualclip/eval/inference.h"
#include "dualclip/eval/similarity.h"
#include "dualclip/eval/zero_shot.h"
#include "dualclip/report/heatmap.h"
#include "dualclip/vision/image.h"

namespace dualclip::demo {

namespace fs = std::filesystem;

namespace {

constexpr size_t kHeatmapSize = 6;

// Class ids in the order the heatmap prefers them. The shapes classes are colour * 4 + shape,
// so colour c with shape c % 4 gives six colours and every shape: a diagonal that only a
// model reading both colour and shape can produce.
std::vector<int64_t> preferred_classes(size_t class_count) {
  std::vector<int64_t> order;
  for (int64_t colour = 0; colour < 6; ++colour) {
    const int64_t id = colour * 4 + colour % 4;
    if (id < static_cast<int64_t>(class_count)) order.push_back(id);
  }
  for (int64_t id = 0; id < static_cast<int64_t>(class_count); ++id) {
    if (std::find(order.begin(), order.end(), id) == order.end()) order.push_back(id);
  }
  return order;
}

}  // namespace

HeatmapPairs pick_heatmap_pairs(const fs::path& data_dir, const std::vector<std::string>& class_names) {
  const auto labelled = eval::read_labelled_images(data_dir / "val_labels.csv", class_names);
  const auto coco = eval::read_coco_captions(data_dir, "val");

  // The first val image of each class, by file name.
  std::map<int64_t, fs::path> first_image;
  for (const auto& image : labelled) first_image.emplace(image.label, image.path);

  // Captions by image file name; COCO ids link the two lists.
  std::map<int64_t, std::string> file_of_id;
  for (const auto& [path, id] : coco.images) file_of_id[id] = path.filename().string();
  std::map<std::string, std::vector<std::string>> captions_of_file;
  for (const auto& [text, image_id] : coco.captions) captions_of_file[file_of_id[image_id]].push_back(text);

  HeatmapPairs pairs;
  for (int64_t id : preferred_classes(class_names.size())) {
    if (pairs.images.size() == kHeatmapSize) break;
    auto image = first_image.find(id);
    if (image == first_image.end()) continue;
    const auto& captions = captions_of_file[image->second.filename().string()];
    if (captions.empty()) continue;

    // The shortest caption reads best under a heatmap row; ties keep the first.
    auto shortest = std::min_element(captions.begin(), captions.end(),
                                     [](const std::string& a, const std::string& b) { return a.size() < b.size(); });
    pairs.images.push_back(image->second);
    pairs.captions.push_back(*shortest);
    pairs.class_names.push_back(class_names[static_cast<size_t>(id)]);
  }
  if (pairs.images.size() < 2) {
    throw Error(data_dir.string() + "'s val split has captioned images of " + std::to_string(pairs.images.size()) +
                " class(es); the heatmap needs at least 2, so raise --val_images");
  }
  return pairs;
}

HeatmapSummary draw_heatmap(const fs::path& model_dir, const HeatmapPairs& pairs, const std::string& title,
                            const fs::path& png) {
  eval::InferenceModel loaded = eval::load_inference_model(model_dir.string(), {});
  eval::EmbedOptions embed_options;
  embed_options.device = loaded.device;
  const auto similarity = eval::compute_similarity(loaded.model, loaded.processor, pairs.images, pairs.captions, embed_options);

  // Thumbnails as decoded, before the processor's resize and normalisation.
  std::vector<vision::Image> thumbnails;
  for (const auto& path : pairs.images) thumbnails.push_back(vision::decode_image_file(path));
  report::HeatmapOptions heatmap_options;
  heatmap_options.image_labels = pairs.class_names;
  heatmap_options.subtitle = "columns: val images, rows: their captions; softmax over the captions of each image";
  report::write_similarity_heatmap_png(similarity.probs, pairs.captions, thumbnails, title, png, heatmap_options);

  // probs is [images, texts]; image i's own caption is text i.
  HeatmapSummary summary;
  summary.count = static_cast<int64_t>(pairs.images.size());
  const torch::Tensor probs = similarity.probs.to(torch::kFloat64);
  summary.mean_diagonal = probs.diagonal().mean().item<double>();
  const torch::Tensor best = probs.argmax(1);
  summary.matched = (best == torch::arange(summary.count)).sum().item<int64_t>();
  return summary;
}

}  // namespace dualclip::demo
