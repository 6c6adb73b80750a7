// The demo's evaluation: zero-shot classification of the val images into the 24 shape and
// colour classes, and image-caption retrieval over the val captions, both with eval/.

#include <torch/torch.h>

#include "dualclip/demo/stages.h"
#include "dualclip/eval/coco.h"
#include "dualclip/eval/inference.h"
#include "dualclip/eval/retrieval.h"
#include "dualclip/eval/zero_shot.h"

namespace dualclip::demo {

namespace fs = std::filesystem;

Evaluation evaluate_model(const fs::path& model_dir, const DemoPaths& paths, const DemoOptions& options,
                          bool with_retrieval, const fs::path& predictions_csv) {
  eval::InferenceModel loaded = eval::load_inference_model(model_dir.string(), {});
  eval::EmbedOptions embed_options;
  embed_options.batch_size = options.eval_batch_size;
  embed_options.device = loaded.device;

  // Zero-shot: each image against the template-averaged embedding of every class name.
  const std::vector<std::string> class_names = eval::read_texts_file(paths.data / "classes.txt");
  const auto images = eval::read_labelled_images(paths.data / "val_labels.csv", class_names);
  std::vector<fs::path> image_paths;
  std::vector<int64_t> labels;
  for (const auto& image : images) {
    image_paths.push_back(image.path);
    labels.push_back(image.label);
  }
  const torch::Tensor class_embeds =
      eval::build_class_embeddings(loaded.model, loaded.processor, class_names, options.templates, embed_options);
  const torch::Tensor image_embeds = eval::embed_images(loaded.model, loaded.processor, image_paths, embed_options);
  const torch::Tensor logits = torch::matmul(image_embeds, class_embeds.t()) * eval::logit_scale_exp(loaded.model);
  const eval::ZeroShotResult zero_shot = eval::score_zero_shot(logits, labels);
  if (!predictions_csv.empty()) eval::write_zero_shot_predictions(predictions_csv, images, zero_shot, class_names);

  Evaluation result;
  result.top1 = zero_shot.top1_accuracy;
  result.top5 = zero_shot.top_k_accuracy;
  result.zero_shot_text = eval::format_zero_shot(zero_shot, class_names, 5);

  // Retrieval: every val image against every val caption, and back.
  if (with_retrieval) {
    const eval::CocoCaptions coco = eval::read_coco_captions(paths.data, "val");
    const eval::RetrievalMetrics recall = eval::evaluate_retrieval(loaded.model, loaded.processor, coco.images,
                                                                   coco.captions, options.eval_batch_size, loaded.device);
    result.retrieval = recall.to_json();
  }
  return result;
}

}  // namespace dualclip::demo
