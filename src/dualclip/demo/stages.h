// The demo's stages after the dataset and towers exist: picking and drawing the heatmap
// pairs, training through the launcher, evaluating, and the report. Internal to demo/.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "dualclip/demo/demo.h"

namespace dualclip::demo {

// Where each stage reads and writes, all under the demo's output folder.
struct DemoPaths {
  std::filesystem::path root;
  std::filesystem::path data;          // the shapes dataset
  std::filesystem::path vision_tower;  // towers/vision
  std::filesystem::path text_tower;    // towers/text
  std::filesystem::path model;         // the joined, untrained dual encoder
  std::filesystem::path train;         // `dualclip train` output_dir, ending with the trained model

  explicit DemoPaths(const std::filesystem::path& output_dir);
  // The names directly under the output folder that the demo writes.
  static const std::vector<std::string>& owned_names();
};

// The images and captions of the heatmaps: one val image for each of up to six classes that
// differ in colour, and the shortest caption of each.
struct HeatmapPairs {
  std::vector<std::filesystem::path> images;
  std::vector<std::string> captions;
  std::vector<std::string> class_names;
};

HeatmapPairs pick_heatmap_pairs(const std::filesystem::path& data_dir, const std::vector<std::string>& class_names);

// How diagonal a heatmap is: the mean probability on the diagonal and the number of images
// whose own caption scores highest.
struct HeatmapSummary {
  double mean_diagonal = 0;
  int64_t matched = 0;
  int64_t count = 0;
};

// Scores the pairs with the model in `model_dir` and draws them into `png`.
HeatmapSummary draw_heatmap(const std::filesystem::path& model_dir, const HeatmapPairs& pairs,
                            const std::string& title, const std::filesystem::path& png);

// The `dualclip train` command line (after the program name) for the demo's run.
std::vector<std::string> training_command(const DemoOptions& options, const DemoPaths& paths);

// Runs training in options.nproc_per_node local processes; throws dualclip::Error when it fails.
void run_training_processes(const DemoOptions& options, const DemoPaths& paths);

// Zero-shot accuracy on val_labels.csv and retrieval recall on the val captions.
struct Evaluation {
  double top1 = 0;
  double top5 = 0;
  nlohmann::json retrieval;
  std::string zero_shot_text;  // eval::format_zero_shot's lines
};

// Evaluates the model in `model_dir`; with `with_retrieval` false only zero-shot runs.
// `predictions_csv`, when not empty, receives one row per val image.
Evaluation evaluate_model(const std::filesystem::path& model_dir, const DemoPaths& paths, const DemoOptions& options,
                          bool with_retrieval, const std::filesystem::path& predictions_csv = {});

// Everything the report and the terminal summary show.
struct ReportFacts {
  const DemoOptions* options = nullptr;
  const DemoPaths* paths = nullptr;
  int64_t class_count = 0;
  int64_t vocab_size = 0;
  int64_t vision_parameters = 0;
  int64_t text_parameters = 0;
  int64_t total_parameters = 0;
  HeatmapSummary before;
  HeatmapSummary after;
  Evaluation untrained;
  Evaluation trained;
  double first_loss = 0;
  double final_loss = 0;
  int64_t training_steps = 0;
  std::string training_command_line;
};

// Writes report.html into the output folder.
void write_demo_report(const ReportFacts& facts, const DemoResult& result);

// The lines printed at the end: where the files went and the figures.
std::string format_terminal_summary(const ReportFacts& facts, const DemoResult& result);

}  // namespace dualclip::demo
