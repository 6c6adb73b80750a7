// Image-text retrieval recall with the standard COCO/Flickr protocol: every image is a query
// over all captions (a hit when any of its own captions ranks in the top k), and every caption
// is a query over all images (a hit when its image ranks in the top k).
#pragma once

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/types.h>

#include "dualclip/eval/processor.h"
#include "dualclip/models/dual_encoder.h"

namespace dualclip::eval {

struct RetrievalMetrics {
  std::vector<int64_t> ks;                 // the k of each Recall@k, ascending
  std::vector<double> image_to_text;       // Recall@k in [0, 1], one per k
  std::vector<double> text_to_image;
  int64_t num_image_queries = 0;           // images with at least one caption
  int64_t num_text_queries = 0;

  // {"image_to_text_R@1": ..., "text_to_image_R@1": ..., "rsum": ...} with recalls in percent
  // and rsum the sum of all of them, as retrieval papers report.
  nlohmann::json to_json() const;
  // A small table for the terminal.
  std::string format() const;
};

// Recall@k from normalised embeddings. `caption_image_index[t]` is the row of `image_embeds`
// that caption t describes. The rank of a query is the number of candidates scoring strictly
// higher than its best correct candidate, so ties count in the query's favour. Images without
// captions are left out of the image-to-text queries but stay candidates for text-to-image.
// Similarities are computed `chunk_size` queries at a time to bound memory.
RetrievalMetrics compute_retrieval_recall(const torch::Tensor& image_embeds, const torch::Tensor& text_embeds,
                                          const std::vector<int64_t>& caption_image_index,
                                          const std::vector<int64_t>& ks = {1, 5, 10}, int64_t chunk_size = 1024);

// An image (file and dataset id) and the captions (text and the id of their image).
using ImageEntry = std::pair<std::filesystem::path, int64_t>;
using CaptionEntry = std::pair<std::string, int64_t>;

// Maps each caption's image id to the position of that image in `images`; throws
// dualclip::Error naming an image id that appears twice or a caption whose image is absent.
std::vector<int64_t> index_captions_by_image(const std::vector<ImageEntry>& images,
                                             const std::vector<CaptionEntry>& captions);

// Embeds `images` and `captions` with the model in batches and returns their recall. The
// trainer calls this for --eval_retrieval; the model's training flag is restored afterwards.
// It runs on the calling process only: in a multi-process run, call it on one rank.
RetrievalMetrics evaluate_retrieval(models::DualEncoder& model, const Processor& processor,
                                    const std::vector<ImageEntry>& images, const std::vector<CaptionEntry>& captions,
                                    int64_t batch_size, const torch::Device& device);

}  // namespace dualclip::eval
