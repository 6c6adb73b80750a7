// The demo's training run: `dualclip train` itself, started in local processes by the same
// launcher that `dualclip train --nproc_per_node` uses.

#include <cstdio>

#include "dualclip/core/error.h"
#include "dualclip/core/log.h"
#include "dualclip/demo/stages.h"
#include "dualclip/dist/distributed.h"

namespace dualclip::demo {

namespace {

// %g keeps small learning rates such as 1e-05 exact, where std::to_string would print 0.000010.
std::string format_number(double value) {
  char text[64];
  std::snprintf(text, sizeof text, "%.8g", value);
  return text;
}

}  // namespace

std::vector<std::string> training_command(const DemoOptions& options, const DemoPaths& paths) {
  // The global contrastive loss (no --local_loss): every process scores its captions against
  // the images of all processes, as one process with the whole batch would.
  return {"train",
          "--model_name_or_path", paths.model.string(),
          "--data_dir", paths.data.string(),
          "--output_dir", paths.train.string(),
          "--overwrite_output_dir",
          "--do_train",
          "--num_train_epochs", format_number(options.num_train_epochs),
          "--per_device_train_batch_size", std::to_string(options.per_device_train_batch_size),
          "--learning_rate", format_number(options.learning_rate),
          "--lr_scheduler_type", "cosine",
          "--warmup_ratio", format_number(options.warmup_ratio),
          "--weight_decay", format_number(options.weight_decay),
          "--weight_decay_rule", options.weight_decay_rule,
          "--dropout", "0",
          "--max_seq_length", std::to_string(options.sizes.max_position_embeddings),
          "--logging_steps", std::to_string(options.logging_steps),
          "--save_strategy", "no",
          "--dataloader_num_workers", std::to_string(options.dataloader_num_workers),
          "--disable_tqdm",
          "--seed", std::to_string(options.seed)};
}

void run_training_processes(const DemoOptions& options, const DemoPaths& paths) {
  // The launcher starts this program (/proc/self/exe) with the command above, sets each
  // worker's OMP_NUM_THREADS to its share of the cores, and prefixes their lines with the rank.
  const int exit_code = dist::launch_local_workers(options.nproc_per_node, training_command(options, paths), 0);
  if (exit_code != 0) {
    throw Error("training failed: 'dualclip train' exited with status " + std::to_string(exit_code) +
                "; its output above names the cause");
  }
}

}  // namespace dualclip::demo
