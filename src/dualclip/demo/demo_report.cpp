// The demo's report.html and the summary printed at the end of the run.

#include <cstdio>
#include <sstream>

#include "dualclip/demo/stages.h"
#include "dualclip/report/html_report.h"

namespace dualclip::demo {

namespace {

std::string format(const char* pattern, double value) {
  char text[64];
  std::snprintf(text, sizeof text, pattern, value);
  return text;
}

std::string percent(double fraction) { return format("%.1f%%", 100.0 * fraction); }

std::string minutes_and_seconds(double seconds) {
  const int whole = static_cast<int>(seconds + 0.5);
  return std::to_string(whole / 60) + " min " + std::to_string(whole % 60) + " s";
}

double recall(const nlohmann::json& retrieval, const std::string& key) {
  return retrieval.contains(key) ? retrieval[key].get<double>() : 0.0;
}

report::ReportSection built_section(const ReportFacts& facts) {
  const DemoOptions& o = *facts.options;
  const TinyTowerSizes& s = o.sizes;
  report::ReportSection section;
  section.heading = "What was built";
  section.paragraphs = {
      "Data: " + std::to_string(o.train_images) + " training and " + std::to_string(o.val_images) + " val images of " +
          std::to_string(s.image_size) + "x" + std::to_string(s.image_size) + " pixels, each a coloured shape in one of " +
          std::to_string(facts.class_count) + " classes (6 colours times 4 shapes) with " +
          std::to_string(o.captions_per_image) + " captions, in COCO captions layout (data/). " +
          percent(o.second_object_fraction) + " of the images also contain a second, smaller object. " +
          "Each caption names the main object alone with probability " + percent(o.plain_caption_fraction) +
          " (a little fewer are written, because a repeated caption of an image is drawn again). The others add " +
          "its position, the background or both.",
      "Towers: a CLIP vision transformer (" + std::to_string(s.patch_size) + "-pixel patches, width " +
          std::to_string(s.hidden_size) + ", " + std::to_string(s.vision_layers) + " layers, " +
          std::to_string(facts.vision_parameters) + " parameters) and a BERT text encoder (width " +
          std::to_string(s.hidden_size) + ", " + std::to_string(s.text_layers) + " layers, " +
          std::to_string(facts.text_parameters) + " parameters) whose WordPiece vocabulary of " +
          std::to_string(facts.vocab_size) + " tokens was built from the captions. Each was made from a config " +
          "with random weights and saved as a Hugging Face model folder (towers/vision, towers/text).",
      "Dual encoder: the towers joined as 'dualclip create' does, with " + std::to_string(o.projection_dim) +
          "-dimensional projections and a learnable logit_scale, " + std::to_string(facts.total_parameters) +
          " parameters in all (model/).",
  };
  return section;
}

report::ReportSection heatmap_section(const std::string& heading, const std::string& png, const HeatmapSummary& summary,
                                      const std::string& lead) {
  report::ReportSection section;
  section.heading = heading;
  section.paragraphs = {lead + " " + std::to_string(summary.matched) + " of " + std::to_string(summary.count) +
                        " images score their own caption highest; the mean probability on the diagonal is " +
                        format("%.3f", summary.mean_diagonal) + " (a flat map gives " +
                        format("%.3f", 1.0 / static_cast<double>(summary.count)) + ")."};
  section.image = png;
  section.image_caption = "Columns are val images, rows their captions; each column is a softmax over the captions.";
  return section;
}

report::ReportSection training_section(const ReportFacts& facts, const DemoResult& result) {
  double train_seconds = 0;
  for (const auto& stage : result.stages) {
    if (stage.name == "train") train_seconds = stage.wall_seconds;
  }
  report::ReportSection section;
  section.heading = "Training";
  section.paragraphs = {
      "'dualclip train' ran in " + std::to_string(facts.options->nproc_per_node) +
          " local processes with the global contrastive loss: each process scores its captions against the images "
          "of every process, as one process with the whole batch would.",
      "The loss fell from " + format("%.3f", facts.first_loss) + " to " + format("%.3f", facts.final_loss) + " over " +
          std::to_string(facts.training_steps) + " steps in " + minutes_and_seconds(train_seconds) + ".",
      "Command: " + facts.training_command_line};
  section.image = "loss_curve.png";
  section.image_caption = "Training loss per logged step, raw and smoothed.";
  return section;
}

report::ReportSection numbers_section(const ReportFacts& facts, const DemoResult& result) {
  const nlohmann::json& r = result.retrieval;
  report::ReportSection section;
  section.heading = "Numbers";
  section.paragraphs = {"Zero-shot classification embeds each class name with the templates and assigns every val "
                        "image to the closest class. Retrieval ranks all val captions for each val image (image to "
                        "text) and all val images for each caption (text to image)."};
  section.table = {
      {"zero-shot top-1 accuracy (trained)", percent(result.zero_shot_top1)},
      {"zero-shot top-5 accuracy (trained)", percent(result.zero_shot_top5)},
      {"zero-shot top-1 accuracy (untrained)", percent(facts.untrained.top1)},
      {"chance", percent(1.0 / static_cast<double>(facts.class_count))},
      {"image to text R@1 / R@5 / R@10", format("%.1f", recall(r, "image_to_text_R@1")) + " / " +
                                            format("%.1f", recall(r, "image_to_text_R@5")) + " / " +
                                            format("%.1f", recall(r, "image_to_text_R@10"))},
      {"text to image R@1 / R@5 / R@10", format("%.1f", recall(r, "text_to_image_R@1")) + " / " +
                                            format("%.1f", recall(r, "text_to_image_R@5")) + " / " +
                                            format("%.1f", recall(r, "text_to_image_R@10"))},
  };
  for (const auto& stage : result.stages) {
    section.table.push_back({"time: " + stage.name, format("%.1f s", stage.wall_seconds) + " (CPU " +
                                                        format("%.1f s", stage.cpu_seconds) + ")"});
  }
  return section;
}

}  // namespace

void write_demo_report(const ReportFacts& facts, const DemoResult& result) {
  const std::vector<report::ReportSection> sections = {
      built_section(facts),
      heatmap_section("Before training", "heatmap_before.png", facts.before, "With random weights"),
      training_section(facts, result),
      heatmap_section("After training", "heatmap_after.png", facts.after, "After training"),
      numbers_section(facts, result),
  };
  report::write_report_html(facts.paths->root / "report.html", "dualclip demo: a dual encoder from scratch", sections,
                            result.metrics);
}

std::string format_terminal_summary(const ReportFacts& facts, const DemoResult& result) {
  const nlohmann::json& r = result.retrieval;
  const std::string root = facts.paths->root.string();
  std::ostringstream out;
  out << "\ndualclip demo finished in " << minutes_and_seconds(result.total_wall_seconds) << " (CPU time "
      << minutes_and_seconds(result.total_cpu_seconds) << ")\n"
      << "  zero-shot accuracy on the val split (" << facts.class_count << " classes): "
      << percent(result.zero_shot_top1) << " top-1, " << percent(result.zero_shot_top5) << " top-5 (untrained "
      << percent(facts.untrained.top1) << ", chance " << percent(1.0 / static_cast<double>(facts.class_count)) << ")\n"
      << "  retrieval R@1: image to text " << format("%.1f", recall(r, "image_to_text_R@1")) << ", text to image "
      << format("%.1f", recall(r, "text_to_image_R@1")) << "; R@5: " << format("%.1f", recall(r, "image_to_text_R@5"))
      << ", " << format("%.1f", recall(r, "text_to_image_R@5")) << "\n"
      << "  heatmap: " << facts.after.matched << " of " << facts.after.count
      << " images pick their own caption after training (mean diagonal probability "
      << format("%.2f", facts.before.mean_diagonal) << " before, " << format("%.2f", facts.after.mean_diagonal)
      << " after)\n"
      << "  training loss " << format("%.3f", facts.first_loss) << " -> " << format("%.3f", facts.final_loss) << " over "
      << facts.training_steps << " steps in " << facts.options->nproc_per_node << " processes\n"
      << "files:\n"
      << "  " << root << "/report.html          the pictures and numbers together\n"
      << "  " << root << "/heatmap_before.png   " << root << "/heatmap_after.png   " << root << "/loss_curve.png\n"
      << "  " << root << "/demo_results.json    every figure as JSON\n"
      << "  " << root << "/train                the trained model (a Hugging Face folder)\n";
  return out.str();
}

}  // namespace dualclip::demo
