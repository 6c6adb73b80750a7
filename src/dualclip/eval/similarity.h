// Image-text similarity as Python users compute it with a dual encoder:
//   logits_per_image = exp(logit_scale) * image_embeds @ text_embeds.T   [images, texts]
//   probs = logits_per_image.softmax(dim=1)                               (over the texts)
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/types.h>

#include "dualclip/eval/embed.h"

namespace dualclip::eval {

struct SimilarityResult {
  std::vector<std::string> images;  // image labels (the paths as given)
  std::vector<std::string> texts;
  double logit_scale_exp = 1.0;
  torch::Tensor logits_per_image;   // float32 [images, texts]
  torch::Tensor probs;              // softmax of each row
};

// The similarity of normalised embeddings, scaled by `logit_scale_exp`.
SimilarityResult similarity_from_embeddings(const torch::Tensor& image_embeds, const torch::Tensor& text_embeds,
                                            double logit_scale_exp);

// Embeds the images and texts in batches and scores every pair.
SimilarityResult compute_similarity(models::DualEncoder& model, const Processor& processor,
                                    const std::vector<std::filesystem::path>& images,
                                    const std::vector<std::string>& texts, const EmbedOptions& options);

// Both matrices as labelled tables: a numbered legend of the texts, then one row per image.
std::string format_similarity(const SimilarityResult& result);

// {"images": [...], "texts": [...], "logit_scale_exp": ..., "logits_per_image": [[...]], "probs": [[...]]}
nlohmann::json similarity_to_json(const SimilarityResult& result);

}  // namespace dualclip::eval
