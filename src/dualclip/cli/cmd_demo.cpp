#include <cstdio>

#include "dualclip/cli/args.h"
#include "dualclip/cli/commands.h"
#include "dualclip/core/error.h"
#include "dualclip/demo/demo.h"

namespace dualclip::cli {

namespace {

std::string format_default(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", value);
  return text;
}

}  // namespace

int run_demo(const std::vector<std::string>& args) {
  const demo::DemoOptions defaults;
  ArgParser parser("demo",
                   "Build a dual encoder from two small towers, train it on a generated shapes dataset over local "
                   "processes, and show the similarity heatmaps before and after, the loss curve, zero-shot accuracy "
                   "and retrieval recall in OUTPUT_DIR/report.html. Nothing is downloaded.");
  parser.add_option("output_dir", defaults.output_dir.string(),
                    "Folder for the dataset, towers, models, pictures and report; an earlier demo's files there are replaced.",
                    "DIR");
  parser.add_option("train_images", std::to_string(defaults.train_images), "Number of generated training images.", "N");
  parser.add_option("val_images", std::to_string(defaults.val_images),
                    "Number of generated val images, used for the heatmaps and the evaluation.", "N");
  parser.add_option("second_object_fraction", format_default(defaults.second_object_fraction),
                    "Share of images that also contain a smaller second object (slower to learn).", "F");
  parser.add_option("num_train_epochs", format_default(defaults.num_train_epochs), "Training epochs over the training captions.", "N");
  parser.add_option("per_device_train_batch_size", std::to_string(defaults.per_device_train_batch_size),
                    "Image-caption pairs per batch in each training process.", "N");
  parser.add_option("learning_rate", format_default(defaults.learning_rate), "Peak AdamW learning rate (cosine schedule after warmup).", "LR");
  parser.add_option("nproc_per_node", std::to_string(defaults.nproc_per_node),
                    "Training processes on this machine, joined by the global contrastive loss.", "N");
  parser.add_option("logging_steps", std::to_string(defaults.logging_steps), "Training steps per point of the loss curve.",
                    "N");
  parser.add_option("seed", std::to_string(defaults.seed), "Seed of the dataset, the initial weights and the training shuffle.", "S");
  if (!parser.parse(args)) return 0;

  demo::DemoOptions options;
  options.output_dir = parser.get("output_dir");
  options.train_images = parser.get_int("train_images");
  options.val_images = parser.get_int("val_images");
  options.second_object_fraction = parser.get_double("second_object_fraction");
  options.num_train_epochs = parser.get_double("num_train_epochs");
  options.per_device_train_batch_size = parser.get_int("per_device_train_batch_size");
  options.learning_rate = parser.get_double("learning_rate");
  options.nproc_per_node = static_cast<int>(parser.get_int("nproc_per_node"));
  options.logging_steps = parser.get_int("logging_steps");
  if (parser.get_int("seed") < 0) throw Error("--seed must be a non-negative integer");
  options.seed = static_cast<uint64_t>(parser.get_int("seed"));

  demo::run_demo(options);
  return 0;
}

}  // namespace dualclip::cli
