#include "dualclip/eval/zero_shot.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <sstream>

#include <torch/torch.h>

#include "dualclip/core/error.h"

namespace dualclip::eval {

std::vector<std::string> fill_templates(const std::string& class_name, const std::vector<std::string>& templates) {
  std::vector<std::string> prompts;
  for (const std::string& template_text : templates) {
    const size_t slot = template_text.find("{}");
    if (slot == std::string::npos) {
      throw Error("template '" + template_text + "' has no {} where the class name goes, e.g. \"a photo of a {}.\"");
    }
    std::string prompt = template_text;
    prompt.replace(slot, 2, class_name);
    prompts.push_back(prompt);
  }
  return prompts;
}

torch::Tensor build_class_embeddings(models::DualEncoder& model, const Processor& processor,
                                     const std::vector<std::string>& class_names,
                                     const std::vector<std::string>& templates, const EmbedOptions& options) {
  if (class_names.empty()) throw Error("no classes given: pass --classes or --classes_file");
  if (templates.empty()) throw Error("no templates given: pass at least one --templates entry with {}");

  // Every prompt of every class in one batched pass, class-major.
  std::vector<std::string> prompts;
  for (const std::string& name : class_names) {
    const std::vector<std::string> filled = fill_templates(name, templates);
    prompts.insert(prompts.end(), filled.begin(), filled.end());
  }
  const torch::Tensor text_embeds = embed_texts(model, processor, prompts, options);

  // Mean over the templates of each class, then back onto the unit sphere.
  const int64_t num_classes = static_cast<int64_t>(class_names.size());
  torch::Tensor class_embeds = text_embeds.view({num_classes, static_cast<int64_t>(templates.size()), -1}).mean(1);
  return class_embeds / class_embeds.norm(2, -1, true);
}

ZeroShotResult score_zero_shot(const torch::Tensor& logits, const std::vector<int64_t>& labels) {
  TORCH_CHECK(logits.dim() == 2 && logits.size(0) == static_cast<int64_t>(labels.size()),
              "zero-shot scoring expects [images, classes] logits and one label per image");
  ZeroShotResult result;
  const int64_t num_images = logits.size(0);
  const int64_t num_classes = logits.size(1);
  result.top_k = std::min<int64_t>(5, num_classes);

  // A stable descending sort keeps equal logits in class order, so ties are deterministic.
  const torch::Tensor probs = logits.to(torch::kFloat32).softmax(1);
  const auto [sorted_probs, order] = torch::sort(probs, /*stable=*/true, /*dim=*/1, /*descending=*/true);
  const auto order_rows = order.accessor<int64_t, 2>();
  const auto prob_rows = sorted_probs.accessor<float, 2>();

  int64_t top1_hits = 0, top_k_hits = 0;
  std::map<std::pair<int64_t, int64_t>, int64_t> confusion_counts;
  for (int64_t i = 0; i < num_images; ++i) {
    std::vector<int64_t> top;
    std::vector<float> top_probs;
    for (int64_t r = 0; r < result.top_k; ++r) {
      top.push_back(order_rows[i][r]);
      top_probs.push_back(prob_rows[i][r]);
    }
    const int64_t label = labels[i];
    if (top[0] == label) {
      ++top1_hits;
    } else {
      ++confusion_counts[{label, top[0]}];
    }
    if (std::find(top.begin(), top.end(), label) != top.end()) ++top_k_hits;
    result.top_classes.push_back(top);
    result.top_probs.push_back(top_probs);
  }
  if (num_images > 0) {
    result.top1_accuracy = static_cast<double>(top1_hits) / num_images;
    result.top_k_accuracy = static_cast<double>(top_k_hits) / num_images;
  }

  // Most frequent confusions first; equal counts in class order.
  for (const auto& [pair, count] : confusion_counts) result.confusions.push_back({pair.first, pair.second, count});
  std::stable_sort(result.confusions.begin(), result.confusions.end(),
                   [](const Confusion& a, const Confusion& b) { return a.count > b.count; });
  return result;
}

std::string format_zero_shot(const ZeroShotResult& result, const std::vector<std::string>& class_names,
                             size_t max_pairs) {
  std::ostringstream out;
  char line[64];
  std::snprintf(line, sizeof line, "top-1 accuracy: %.2f%%\n", 100.0 * result.top1_accuracy);
  out << line;
  std::snprintf(line, sizeof line, "top-%lld accuracy: %.2f%%\n", static_cast<long long>(result.top_k),
                100.0 * result.top_k_accuracy);
  out << line;

  if (result.confusions.empty()) {
    out << "no confusions: every top-1 prediction is correct\n";
    return out.str();
  }
  out << "most confused (true -> predicted: images):\n";
  for (size_t i = 0; i < std::min(max_pairs, result.confusions.size()); ++i) {
    const Confusion& c = result.confusions[i];
    out << "  " << class_names[c.label] << " -> " << class_names[c.predicted] << ": " << c.count << "\n";
  }
  return out.str();
}

}  // namespace dualclip::eval
