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
  parser.add_option("captions_per_image", std::to_string(defaults.captions_per_image),
                    "Captions written per training image; each is one training example.", "N");
  parser.add_option("second_object_fraction", format_default(defaults.second_object_fraction),
                    "Share of images that also contain a smaller second object (slower to learn).", "F");
  parser.add_option("plain_caption_fraction", format_default(defaults.plain_caption_fraction),
                    "Share of captions that name the main object alone, without its position or the background.", "F");
  parser.add_option("image_size", std::to_string(defaults.sizes.image_size),
                    "Side of the generated square images and of the vision tower's input, in pixels.", "PX");
  parser.add_option("patch_size", std::to_string(defaults.sizes.patch_size),
                    "Side of the vision tower's square patches, in pixels; must divide --image_size.", "PX");
  parser.add_option("hidden_size", std::to_string(defaults.sizes.hidden_size),
                    "Width of both towers (their MLPs are 4 times wider).", "N");
  parser.add_option("num_attention_heads", std::to_string(defaults.sizes.num_attention_heads),
                    "Attention heads in every layer of both towers; must divide --hidden_size.", "N");
  parser.add_option("vision_layers", std::to_string(defaults.sizes.vision_layers), "Transformer layers of the vision tower.", "N");
  parser.add_option("text_layers", std::to_string(defaults.sizes.text_layers), "Transformer layers of the text tower.", "N");
  parser.add_option("num_train_epochs", format_default(defaults.num_train_epochs), "Training epochs over the training captions.", "N");
  parser.add_option("per_device_train_batch_size", std::to_string(defaults.per_device_train_batch_size),
                    "Image-caption pairs per batch in each training process.", "N");
  parser.add_option("learning_rate", format_default(defaults.learning_rate), "Peak AdamW learning rate (cosine schedule after warmup).", "LR");
  parser.add_option("warmup_ratio", format_default(defaults.warmup_ratio), "Share of the training steps spent warming up the learning rate.", "F");
  parser.add_option("weight_decay", format_default(defaults.weight_decay), "AdamW weight decay.", "WD");
  parser.add_option("weight_decay_rule", defaults.weight_decay_rule,
                    "Which parameters decay: hf (all but biases and LayerNorm, logit_scale included) or open_clip "
                    "(none with fewer than 2 dimensions, so not logit_scale).",
                    "RULE");
  parser.add_option("logit_scale_init_value", format_default(defaults.logit_scale_init_value),
                    "Initial logit_scale of the joined model (the log of the inverse temperature).", "X");
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
  options.captions_per_image = static_cast<int>(parser.get_int("captions_per_image"));
  options.second_object_fraction = parser.get_double("second_object_fraction");
  options.plain_caption_fraction = parser.get_double("plain_caption_fraction");
  options.sizes.image_size = parser.get_int("image_size");
  options.sizes.patch_size = parser.get_int("patch_size");
  options.sizes.hidden_size = parser.get_int("hidden_size");
  options.sizes.intermediate_size = 4 * options.sizes.hidden_size;
  options.sizes.num_attention_heads = parser.get_int("num_attention_heads");
  options.sizes.vision_layers = parser.get_int("vision_layers");
  options.sizes.text_layers = parser.get_int("text_layers");
  options.num_train_epochs = parser.get_double("num_train_epochs");
  options.per_device_train_batch_size = parser.get_int("per_device_train_batch_size");
  options.learning_rate = parser.get_double("learning_rate");
  options.warmup_ratio = parser.get_double("warmup_ratio");
  options.weight_decay = parser.get_double("weight_decay");
  options.weight_decay_rule = parser.get("weight_decay_rule");
  options.logit_scale_init_value = parser.get_double("logit_scale_init_value");
  options.nproc_per_node = static_cast<int>(parser.get_int("nproc_per_node"));
  options.logging_steps = parser.get_int("logging_steps");
  if (parser.get_int("seed") < 0) throw Error("--seed must be a non-negative integer");
  options.seed = static_cast<uint64_t>(parser.get_int("seed"));

  demo::run_demo(options);
  return 0;
}

}  // namespace dualclip::cli
