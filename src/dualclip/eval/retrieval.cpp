#include "dualclip/eval/retrieval.h"

#include <cstdio>
#include <limits>
#include <map>
#include <sstream>

#include <torch/torch.h>

#include "dualclip/core/error.h"
#include "dualclip/eval/embed.h"

namespace dualclip::eval {

namespace {

// Fraction of `ranks` below each k.
std::vector<double> recall_at(const torch::Tensor& ranks, const std::vector<int64_t>& ks) {
  std::vector<double> recalls;
  for (int64_t k : ks) {
    recalls.push_back(ranks.numel() == 0 ? 0.0 : (ranks < k).to(torch::kFloat64).mean().item<double>());
  }
  return recalls;
}

// For each image, the rank of its best-scoring caption among all captions.
torch::Tensor image_to_text_ranks(const torch::Tensor& image_embeds, const torch::Tensor& text_embeds,
                                  const std::vector<std::vector<int64_t>>& captions_of_image, int64_t chunk_size) {
  std::vector<int64_t> ranks;
  const int64_t num_images = image_embeds.size(0);
  for (int64_t start = 0; start < num_images; start += chunk_size) {
    const int64_t end = std::min(num_images, start + chunk_size);
    const torch::Tensor scores = torch::matmul(image_embeds.slice(0, start, end), text_embeds.t());  // [chunk, texts]

    // The best correct score of each image in the chunk, then how many captions beat it.
    for (int64_t i = start; i < end; ++i) {
      const auto& own = captions_of_image[i];
      if (own.empty()) continue;
      const torch::Tensor row = scores[i - start];
      const float best = row.index_select(0, torch::tensor(own, torch::kInt64)).max().item<float>();
      ranks.push_back((row > best).sum().item<int64_t>());
    }
  }
  return torch::tensor(ranks, torch::kInt64);
}

// For each caption, the rank of its image among all images.
torch::Tensor text_to_image_ranks(const torch::Tensor& image_embeds, const torch::Tensor& text_embeds,
                                  const torch::Tensor& caption_image_index, int64_t chunk_size) {
  std::vector<torch::Tensor> ranks;
  const int64_t num_texts = text_embeds.size(0);
  for (int64_t start = 0; start < num_texts; start += chunk_size) {
    const int64_t end = std::min(num_texts, start + chunk_size);
    const torch::Tensor scores = torch::matmul(text_embeds.slice(0, start, end), image_embeds.t());  // [chunk, images]
    const torch::Tensor correct = scores.gather(1, caption_image_index.slice(0, start, end).unsqueeze(1));
    ranks.push_back((scores > correct).sum(1));
  }
  if (ranks.empty()) return torch::empty({0}, torch::kInt64);
  return torch::cat(ranks);
}

}  // namespace

RetrievalMetrics compute_retrieval_recall(const torch::Tensor& image_embeds, const torch::Tensor& text_embeds,
                                          const std::vector<int64_t>& caption_image_index,
                                          const std::vector<int64_t>& ks, int64_t chunk_size) {
  TORCH_CHECK(image_embeds.dim() == 2 && text_embeds.dim() == 2 && image_embeds.size(1) == text_embeds.size(1),
              "retrieval expects [images, dim] and [texts, dim] embeddings of the same dim");
  TORCH_CHECK(static_cast<int64_t>(caption_image_index.size()) == text_embeds.size(0),
              "retrieval expects one image index per caption");
  const int64_t num_images = image_embeds.size(0);

  // Group the captions of each image.
  std::vector<std::vector<int64_t>> captions_of_image(num_images);
  for (size_t t = 0; t < caption_image_index.size(); ++t) {
    const int64_t image = caption_image_index[t];
    TORCH_CHECK(image >= 0 && image < num_images, "caption ", t, " points at image ", image, " of ", num_images);
    captions_of_image[image].push_back(static_cast<int64_t>(t));
  }

  const torch::Tensor images = image_embeds.to(torch::kFloat32);
  const torch::Tensor texts = text_embeds.to(torch::kFloat32);
  const torch::Tensor i2t = image_to_text_ranks(images, texts, captions_of_image, chunk_size);
  const torch::Tensor t2i = text_to_image_ranks(images, texts, torch::tensor(caption_image_index, torch::kInt64), chunk_size);

  RetrievalMetrics metrics;
  metrics.ks = ks;
  metrics.image_to_text = recall_at(i2t, ks);
  metrics.text_to_image = recall_at(t2i, ks);
  metrics.num_image_queries = i2t.numel();
  metrics.num_text_queries = t2i.numel();
  return metrics;
}

nlohmann::json RetrievalMetrics::to_json() const {
  nlohmann::json out;
  double rsum = 0.0;
  for (size_t i = 0; i < ks.size(); ++i) {
    const std::string k = std::to_string(ks[i]);
    out["image_to_text_R@" + k] = 100.0 * image_to_text[i];
    out["text_to_image_R@" + k] = 100.0 * text_to_image[i];
    rsum += 100.0 * (image_to_text[i] + text_to_image[i]);
  }
  out["rsum"] = rsum;
  out["num_image_queries"] = num_image_queries;
  out["num_text_queries"] = num_text_queries;
  return out;
}

std::string RetrievalMetrics::format() const {
  std::ostringstream out;
  char cell[32];
  out << "              ";
  for (int64_t k : ks) {
    std::snprintf(cell, sizeof cell, "%9s", ("R@" + std::to_string(k)).c_str());
    out << cell;
  }
  out << "\n";
  auto row = [&](const std::string& name, const std::vector<double>& recalls, int64_t queries) {
    out << name;
    for (double recall : recalls) {
      std::snprintf(cell, sizeof cell, "%9.2f", 100.0 * recall);
      out << cell;
    }
    out << "   (" << queries << " queries)\n";
  };
  row("image->text  ", image_to_text, num_image_queries);
  row("text->image  ", text_to_image, num_text_queries);
  return out.str();
}

std::vector<int64_t> index_captions_by_image(const std::vector<ImageEntry>& images,
                                             const std::vector<CaptionEntry>& captions) {
  std::map<int64_t, int64_t> row_of_id;
  for (size_t i = 0; i < images.size(); ++i) {
    if (!row_of_id.emplace(images[i].second, static_cast<int64_t>(i)).second) {
      throw Error("image id " + std::to_string(images[i].second) + " appears twice (" + images[i].first.string() +
                  "); each image needs a unique id");
    }
  }
  std::vector<int64_t> index;
  index.reserve(captions.size());
  for (const auto& [text, image_id] : captions) {
    auto it = row_of_id.find(image_id);
    if (it == row_of_id.end()) {
      throw Error("caption '" + text + "' refers to image id " + std::to_string(image_id) + ", which is not in the image list");
    }
    index.push_back(it->second);
  }
  return index;
}

RetrievalMetrics evaluate_retrieval(models::DualEncoder& model, const Processor& processor,
                                    const std::vector<ImageEntry>& images, const std::vector<CaptionEntry>& captions,
                                    int64_t batch_size, const torch::Device& device) {
  const std::vector<int64_t> caption_image_index = index_captions_by_image(images, captions);

  std::vector<std::filesystem::path> paths;
  for (const auto& image : images) paths.push_back(image.first);
  std::vector<std::string> texts;
  for (const auto& caption : captions) texts.push_back(caption.first);

  const EmbedOptions options{batch_size, device};
  const torch::Tensor image_embeds = embed_images(model, processor, paths, options);
  const torch::Tensor text_embeds = embed_texts(model, processor, texts, options);
  return compute_retrieval_recall(image_embeds, text_embeds, caption_image_index);
}

}  // namespace dualclip::eval
