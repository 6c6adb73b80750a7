#include "dualclip/eval/similarity.h"

#include <cstdio>
#include <sstream>

#include <torch/torch.h>

namespace dualclip::eval {

namespace {

// Keeps the end of a long label, which is where file names differ.
std::string shorten_label(const std::string& label, size_t width) {
  if (label.size() <= width) return label;
  return "..." + label.substr(label.size() - (width - 3));
}

std::string format_matrix(const std::string& title, const torch::Tensor& matrix, const std::vector<std::string>& rows) {
  size_t label_width = 5;
  for (const auto& row : rows) label_width = std::max(label_width, std::min<size_t>(row.size(), 40));

  std::ostringstream out;
  char cell[32];
  out << title << "\n" << std::string(label_width, ' ');
  for (int64_t j = 0; j < matrix.size(1); ++j) {
    std::snprintf(cell, sizeof cell, "%10s", ("[" + std::to_string(j) + "]").c_str());
    out << cell;
  }
  out << "\n";

  const auto values = matrix.accessor<float, 2>();
  for (int64_t i = 0; i < matrix.size(0); ++i) {
    const std::string label = shorten_label(rows[i], 40);
    out << label << std::string(label_width - label.size(), ' ');
    for (int64_t j = 0; j < matrix.size(1); ++j) {
      std::snprintf(cell, sizeof cell, "%10.4f", values[i][j]);
      out << cell;
    }
    out << "\n";
  }
  return out.str();
}

nlohmann::json matrix_to_json(const torch::Tensor& matrix) {
  nlohmann::json rows = nlohmann::json::array();
  const auto values = matrix.accessor<float, 2>();
  for (int64_t i = 0; i < matrix.size(0); ++i) {
    nlohmann::json row = nlohmann::json::array();
    for (int64_t j = 0; j < matrix.size(1); ++j) row.push_back(values[i][j]);
    rows.push_back(row);
  }
  return rows;
}

}  // namespace

SimilarityResult similarity_from_embeddings(const torch::Tensor& image_embeds, const torch::Tensor& text_embeds,
                                            double logit_scale_exp) {
  SimilarityResult result;
  result.logit_scale_exp = logit_scale_exp;
  result.logits_per_image = torch::matmul(text_embeds, image_embeds.t()).mul(logit_scale_exp).t().contiguous();
  result.probs = result.logits_per_image.softmax(1);
  return result;
}

SimilarityResult compute_similarity(models::DualEncoder& model, const Processor& processor,
                                    const std::vector<std::filesystem::path>& images,
                                    const std::vector<std::string>& texts, const EmbedOptions& options) {
  const torch::Tensor image_embeds = embed_images(model, processor, images, options);
  const torch::Tensor text_embeds = embed_texts(model, processor, texts, options);
  SimilarityResult result = similarity_from_embeddings(image_embeds, text_embeds, logit_scale_exp(model));
  for (const auto& image : images) result.images.push_back(image.string());
  result.texts = texts;
  return result;
}

std::string format_similarity(const SimilarityResult& result) {
  std::ostringstream out;
  out << "texts:\n";
  for (size_t j = 0; j < result.texts.size(); ++j) out << "  [" << j << "] " << result.texts[j] << "\n";

  char scale[64];
  std::snprintf(scale, sizeof scale, "%.4f", result.logit_scale_exp);
  out << "\n"
      << format_matrix(std::string("logits_per_image (rows: images, columns: texts; logit_scale.exp() = ") + scale + "):",
                       result.logits_per_image, result.images)
      << "\n"
      << format_matrix("probs = logits_per_image.softmax(dim=1):", result.probs, result.images);
  return out.str();
}

nlohmann::json similarity_to_json(const SimilarityResult& result) {
  return {{"images", result.images},
          {"texts", result.texts},
          {"logit_scale_exp", result.logit_scale_exp},
          {"logits_per_image", matrix_to_json(result.logits_per_image)},
          {"probs", matrix_to_json(result.probs)}};
}

}  // namespace dualclip::eval
