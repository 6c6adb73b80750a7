#include "dualclip/demo/demo.h"

#include <sys/resource.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>

#include <torch/torch.h>

#include "dualclip/core/error.h"
#include "dualclip/core/log.h"
#include "dualclip/core/runtime.h"
#include "dualclip/data/shapes_dataset.h"
#include "dualclip/demo/stages.h"
#include "dualclip/eval/zero_shot.h"
#include "dualclip/io/model_dir.h"
#include "dualclip/models/dual_encoder.h"
#include "dualclip/report/loss_curve.h"
#include "dualclip/report/metrics_log.h"
#include "dualclip/train/parameter_groups.h"

namespace dualclip::demo {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr int kStageCount = 8;

// User plus system time of this process and of its finished children (the training workers).
double cpu_seconds() {
  double total = 0;
  for (int who : {RUSAGE_SELF, RUSAGE_CHILDREN}) {
    rusage usage{};
    getrusage(who, &usage);
    total += static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
             static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) * 1e-6;
  }
  return total;
}

// Logs the start and end of each stage and records its wall-clock and CPU time.
class StageClock {
 public:
  explicit StageClock(std::vector<StageTiming>* timings) : timings_(timings) {}

  void start(const std::string& name, const std::string& what) {
    ++number_;
    name_ = name;
    wall_start_ = std::chrono::steady_clock::now();
    cpu_start_ = cpu_seconds();
    log::info("demo " + std::to_string(number_) + "/" + std::to_string(kStageCount) + " " + name + ": " + what);
  }

  void finish() {
    StageTiming timing{name_, std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start_).count(),
                       cpu_seconds() - cpu_start_};
    char line[160];
    std::snprintf(line, sizeof line, "demo %d/%d %s: done in %.1f s (CPU %.1f s)", number_, kStageCount,
                  name_.c_str(), timing.wall_seconds, timing.cpu_seconds);
    log::info(line);
    timings_->push_back(timing);
  }

 private:
  std::vector<StageTiming>* timings_;
  int number_ = 0;
  std::string name_;
  std::chrono::steady_clock::time_point wall_start_;
  double cpu_start_ = 0;
};

void validate(const DemoOptions& options) {
  auto require = [](bool ok, const std::string& message) {
    if (!ok) throw Error(message);
  };
  require(options.train_images > 0, "--train_images must be positive");
  require(options.val_images >= 24, "--val_images must be at least 24, so that the val split can hold every class");
  require(options.captions_per_image >= 1 && options.captions_per_image <= 20, "--captions_per_image must be 1 to 20");
  require(options.second_object_fraction >= 0 && options.second_object_fraction <= 1,
          "--second_object_fraction must be in [0, 1]");
  require(options.plain_caption_fraction >= 0 && options.plain_caption_fraction <= 1,
          "--plain_caption_fraction must be in [0, 1]");
  require(options.nproc_per_node >= 1, "--nproc_per_node must be at least 1");
  require(options.num_train_epochs > 0, "--num_train_epochs must be positive");
  require(options.per_device_train_batch_size > 0, "--per_device_train_batch_size must be positive");
  require(options.learning_rate > 0, "--learning_rate must be positive");
  require(options.warmup_ratio >= 0 && options.warmup_ratio < 1, "--warmup_ratio must be in [0, 1)");
  require(options.weight_decay >= 0, "--weight_decay must be zero or positive");
  train::parse_decay_rule(options.weight_decay_rule);  // throws, naming --weight_decay_rule
  require(std::isfinite(options.logit_scale_init_value), "--logit_scale_init_value must be a finite number");
  const TinyTowerSizes& sizes = options.sizes;
  require(sizes.image_size >= 8, "--image_size must be at least 8 pixels");
  require(sizes.patch_size > 0 && sizes.image_size % sizes.patch_size == 0,
          "--patch_size must be positive and divide --image_size (" + std::to_string(sizes.image_size) + ")");
  require(sizes.num_attention_heads > 0, "--num_attention_heads must be positive");
  require(sizes.hidden_size > 0 && sizes.hidden_size % sizes.num_attention_heads == 0,
          "--hidden_size must be a positive multiple of " + std::to_string(sizes.num_attention_heads) +
              ", the number of attention heads (--num_attention_heads)");
  require(sizes.vision_layers > 0, "--vision_layers must be positive");
  require(sizes.text_layers > 0, "--text_layers must be positive");
  require(options.projection_dim > 0, "--projection_dim must be positive");
  require(options.logging_steps > 0, "--logging_steps must be positive");
}

// Empties the output folder of an earlier demo's files. Anything else there stops the run,
// so that the demo never deletes files it did not write.
void prepare_output_dir(const fs::path& output_dir) {
  if (!fs::exists(output_dir)) {
    fs::create_directories(output_dir);
    return;
  }
  if (!fs::is_directory(output_dir)) {
    throw Error("--output_dir " + output_dir.string() + " is a file; choose a folder");
  }
  const auto& owned = DemoPaths::owned_names();
  for (const auto& entry : fs::directory_iterator(output_dir)) {
    const std::string name = entry.path().filename().string();
    if (std::find(owned.begin(), owned.end(), name) == owned.end()) {
      throw Error("--output_dir " + output_dir.string() + " contains '" + name +
                  "', which the demo does not write; choose an empty or new folder");
    }
  }
  for (const auto& name : owned) fs::remove_all(output_dir / name);
}

// Writes both towers from configs and joins them with models::create_dual_encoder.
void build_model(const DemoOptions& options, const DemoPaths& paths, ReportFacts* facts) {
  // The text tower's vocabulary covers the training captions and the zero-shot prompts.
  std::vector<std::string> texts = read_coco_caption_texts(paths.data / "annotations" / "captions_train2017.json");
  for (const auto& class_name : eval::read_texts_file(paths.data / "classes.txt")) {
    for (auto& prompt : eval::fill_templates(class_name, options.templates)) texts.push_back(std::move(prompt));
  }
  const std::vector<std::string> vocab = build_caption_vocab(texts);
  facts->vocab_size = static_cast<int64_t>(vocab.size());

  models::save_random_tower(vision_tower_config(options.sizes), paths.vision_tower, options.seed);
  io::write_json(paths.vision_tower / "preprocessor_config.json", clip_preprocessor_config(options.sizes.image_size));
  models::save_random_tower(text_tower_config(options.sizes, facts->vocab_size), paths.text_tower, options.seed + 1);
  write_bert_tokenizer_files(paths.text_tower, vocab, options.sizes.max_position_embeddings);

  models::CreateOptions create;
  create.projection_dim = options.projection_dim;
  create.logit_scale_init_value = options.logit_scale_init_value;
  create.seed = options.seed;
  models::DualEncoder model =
      models::create_dual_encoder(paths.vision_tower.string(), paths.text_tower.string(), paths.model, create);
  facts->vision_parameters = models::count_parameters(*model->vision_model);
  facts->text_parameters = models::count_parameters(*model->text_model);
  facts->total_parameters = models::count_parameters(*model);
  log::info("vision tower: CLIP ViT, " + std::to_string(facts->vision_parameters) + " parameters; text tower: BERT, " +
            std::to_string(facts->text_parameters) + " parameters, vocabulary of " + std::to_string(facts->vocab_size) +
            "; dual encoder in " + paths.model.string());
}

std::string join_command(const std::vector<std::string>& args) {
  std::string line = "dualclip";
  for (const auto& arg : args) line += " " + arg;
  return line;
}

json results_json(const DemoOptions& options, const ReportFacts& facts, const DemoResult& result) {
  json stages = json::object();
  for (const auto& stage : result.stages) {
    stages[stage.name] = {{"wall_seconds", stage.wall_seconds}, {"cpu_seconds", stage.cpu_seconds}};
  }
  return {{"zero_shot", {{"top1_accuracy", result.zero_shot_top1},
                         {"top5_accuracy", result.zero_shot_top5},
                         {"untrained_top1_accuracy", facts.untrained.top1},
                         {"classes", facts.class_count},
                         {"templates", options.templates}}},
          {"retrieval", result.retrieval},
          {"heatmap", {{"untrained_mean_diagonal", facts.before.mean_diagonal},
                       {"trained_mean_diagonal", facts.after.mean_diagonal},
                       {"trained_matched", facts.after.matched},
                       {"images", facts.after.count}}},
          {"training", {{"first_loss", facts.first_loss},
                        {"final_loss", facts.final_loss},
                        {"steps", facts.training_steps},
                        {"processes", options.nproc_per_node},
                        {"epochs", options.num_train_epochs},
                        {"per_device_train_batch_size", options.per_device_train_batch_size},
                        {"learning_rate", options.learning_rate},
                        {"weight_decay", options.weight_decay},
                        {"weight_decay_rule", options.weight_decay_rule},
                        {"seed", options.seed}}},
          {"dataset", {{"train_images", options.train_images},
                       {"val_images", options.val_images},
                       {"captions_per_image", options.captions_per_image},
                       {"second_object_fraction", options.second_object_fraction},
                       {"plain_caption_fraction", options.plain_caption_fraction}}},
          {"model", {{"vision_parameters", facts.vision_parameters},
                     {"text_parameters", facts.text_parameters},
                     {"total_parameters", facts.total_parameters},
                     {"vocab_size", facts.vocab_size}}},
          {"stages", stages},
          {"total_wall_seconds", result.total_wall_seconds},
          {"total_cpu_seconds", result.total_cpu_seconds}};
}

}  // namespace

DemoPaths::DemoPaths(const fs::path& output_dir)
    : root(output_dir),
      data(output_dir / "data"),
      vision_tower(output_dir / "towers" / "vision"),
      text_tower(output_dir / "towers" / "text"),
      model(output_dir / "model"),
      train(output_dir / "train") {}

const std::vector<std::string>& DemoPaths::owned_names() {
  static const std::vector<std::string> names = {
      "data",          "towers",          "model",        "train",        "heatmap_before.png", "heatmap_after.png",
      "loss_curve.png", "report.html", "demo_results.json", "zero_shot_predictions.csv"};
  return names;
}

DemoResult run_demo(const DemoOptions& options) {
  validate(options);
  const auto demo_start = std::chrono::steady_clock::now();
  const double cpu_start = cpu_seconds();
  const int threads = runtime::configure_threads();
  log::info("demo: writing to " + options.output_dir.string() + " (" + std::to_string(threads) + " threads here, " +
            std::to_string(options.nproc_per_node) + " training processes)");
  prepare_output_dir(options.output_dir);
  const DemoPaths paths(options.output_dir);

  DemoResult result;
  ReportFacts facts;
  facts.options = &options;
  facts.paths = &paths;
  StageClock clock(&result.stages);

  clock.start("dataset", "writing " + std::to_string(options.train_images) + " train and " +
                             std::to_string(options.val_images) + " val images of coloured shapes");
  data::ShapesDatasetOptions dataset;
  dataset.output_dir = paths.data;
  dataset.train_images = options.train_images;
  dataset.val_images = options.val_images;
  dataset.image_size = static_cast<int>(options.sizes.image_size);
  dataset.captions_per_image = options.captions_per_image;
  dataset.second_object_fraction = options.second_object_fraction;
  dataset.plain_caption_fraction = options.plain_caption_fraction;
  dataset.seed = options.seed;
  data::write_shapes_dataset(dataset);
  clock.finish();

  clock.start("towers", "building a CLIP vision tower and a BERT text tower from configs, joining them");
  build_model(options, paths, &facts);
  clock.finish();

  clock.start("untrained", "similarity heatmap and zero-shot accuracy of the untrained model");
  const std::vector<std::string> class_names = eval::read_texts_file(paths.data / "classes.txt");
  facts.class_count = static_cast<int64_t>(class_names.size());
  const HeatmapPairs pairs = pick_heatmap_pairs(paths.data, class_names);
  facts.before = draw_heatmap(paths.model, pairs, "Before training", paths.root / "heatmap_before.png");
  facts.untrained = evaluate_model(paths.model, paths, options, false);
  clock.finish();

  const std::vector<std::string> command = training_command(options, paths);
  facts.training_command_line = join_command(command) + " --nproc_per_node " + std::to_string(options.nproc_per_node);
  clock.start("train", facts.training_command_line);
  run_training_processes(options, paths);
  clock.finish();

  clock.start("loss curve", "drawing the training loss from metrics.jsonl");
  const fs::path metrics_jsonl = paths.train / "metrics.jsonl";
  report::write_loss_curve_png(metrics_jsonl, paths.root / "loss_curve.png", {"Contrastive loss of the demo run"});
  const report::MetricsLog metrics_log = report::read_metrics_log(metrics_jsonl);
  if (!metrics_log.training.empty()) {
    facts.first_loss = metrics_log.training.front().loss;
    facts.final_loss = metrics_log.training.back().loss;
    facts.training_steps = static_cast<int64_t>(metrics_log.training.back().step);
  }
  clock.finish();

  clock.start("trained", "similarity heatmap of the trained model");
  facts.after = draw_heatmap(paths.train, pairs, "After training", paths.root / "heatmap_after.png");
  clock.finish();

  clock.start("evaluate", "zero-shot accuracy and retrieval recall on the val split");
  facts.trained = evaluate_model(paths.train, paths, options, true, paths.root / "zero_shot_predictions.csv");
  std::cerr << facts.trained.zero_shot_text;
  clock.finish();

  clock.start("report", "writing report.html and demo_results.json");
  result.zero_shot_top1 = facts.trained.top1;
  result.zero_shot_top5 = facts.trained.top5;
  result.retrieval = facts.trained.retrieval;
  result.final_loss = facts.final_loss;
  result.total_wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - demo_start).count();
  result.total_cpu_seconds = cpu_seconds() - cpu_start;
  result.metrics = results_json(options, facts, result);
  io::write_json(paths.root / "demo_results.json", result.metrics);
  write_demo_report(facts, result);
  clock.finish();
  result.total_wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - demo_start).count();
  result.total_cpu_seconds = cpu_seconds() - cpu_start;

  std::cout << format_terminal_summary(facts, result) << std::flush;
  return result;
}

}  // namespace dualclip::demo
