#include <unistd.h>

#include <filesystem>

#include "dualclip/cli/args.h"
#include "dualclip/cli/commands.h"
#include "dualclip/core/error.h"
#include "dualclip/core/log.h"
#include "dualclip/dist/distributed.h"
#include "dualclip/train/trainer.h"

namespace dualclip::cli {

namespace {

void declare_options(ArgParser& p) {
  // Model, data and output.
  p.add_option("model_name_or_path", "", "Dual encoder folder to train (from 'dualclip create' or a checkpoint).", "DIR");
  p.add_option("output_dir", "", "Folder for checkpoints, metrics.jsonl, loss.png and the final model.", "DIR");
  p.add_flag("overwrite_output_dir", "Train from the start even when output_dir contains checkpoints or other files.");
  p.add_option("resume_from_checkpoint", "", "Checkpoint folder to resume from, or 'true' for the latest in output_dir.", "PATH");
  p.add_option("data_dir", "", "COCO 2017 folder with annotations/captions_{train,val}2017.json and {train,val}2017/.", "DIR");
  p.add_option("train_file", "", "Training pairs as .csv, .tsv, .jsonl or .json; image paths relative to its folder.", "FILE");
  p.add_option("validation_file", "", "Evaluation pairs in the same formats as --train_file.", "FILE");
  p.add_option("image_column", "image_path", "Column of --train_file/--validation_file that contains the image path.", "NAME");
  p.add_option("caption_column", "caption", "Column of --train_file/--validation_file that contains the caption.", "NAME");
  p.add_option("max_train_samples", "", "Use only the first N training pairs.", "N");
  p.add_option("max_eval_samples", "", "Use only the first N evaluation pairs.", "N");
  p.add_option("max_seq_length", "128", "Maximum caption length in tokens, special tokens included.", "N");
  p.add_flag("pad_to_max_length", "Pad every caption to --max_seq_length as run_clip does, instead of to the batch's longest.");
  p.add_flag("strict_data", "Stop at the first missing or unreadable image instead of skipping it.");
  p.add_flag("exact_image_preprocessing", "Preprocess images exactly as Hugging Face's processor (slower than the fast path).");
  p.add_option("dataloader_num_workers", "4", "Threads that decode and preprocess batches ahead of the step; 0 loads on the training thread.", "N");
  p.add_flag("dataloader_drop_last", "Drop the last incomplete batch of each epoch.");

  // What to run.
  p.add_flag("do_train", "Train on the training split.");
  p.add_flag("do_eval", "Compute the loss on the validation split (at --eval_steps and at the end).");

  // Optimisation.
  p.add_option("per_device_train_batch_size", "8", "Training pairs per batch on each process.", "N");
  p.add_option("per_device_eval_batch_size", "8", "Evaluation pairs per batch on each process.", "N");
  p.add_option("learning_rate", "5e-5", "Peak AdamW learning rate.", "LR");
  p.add_option("weight_decay", "0", "AdamW weight decay for the decayed parameter group.", "WD");
  p.add_option("weight_decay_rule", "hf", "Which parameters decay: hf (all but biases and LayerNorm) or open_clip (none with fewer than 2 dimensions).", "RULE");
  p.add_option("adam_beta1", "0.9", "AdamW beta1.", "B1");
  p.add_option("adam_beta2", "0.999", "AdamW beta2.", "B2");
  p.add_option("adam_epsilon", "1e-8", "AdamW epsilon.", "EPS");
  p.add_option("max_grad_norm", "1.0", "Clip the total gradient norm to this value; 0 turns clipping off.", "NORM");
  p.add_option("num_train_epochs", "3", "Epochs to train (may be fractional); --max_steps overrides it.", "N");
  p.add_option("max_steps", "-1", "Total optimizer steps; overrides --num_train_epochs when positive.", "N");
  p.add_option("lr_scheduler_type", "linear", "Learning-rate schedule: linear, cosine or constant.", "NAME");
  p.add_option("warmup_steps", "0", "Steps of linear warmup from 0.", "N");
  p.add_option("warmup_ratio", "0", "Warmup as a fraction of all steps, used when --warmup_steps is 0.", "R");
  p.add_option("gradient_accumulation_steps", "1", "Batches whose gradients add up to one optimizer step.", "N");
  p.add_flag("no_logit_scale_clamp", "Do not clamp logit_scale to ln(100) after each step (Hugging Face's behaviour).");
  p.add_flag("freeze_vision_model", "Keep the vision tower's weights fixed (locked-image tuning).");
  p.add_flag("freeze_text_model", "Keep the text tower's weights fixed.");
  p.add_flag("gradient_checkpointing", "Recompute tower activations in the backward pass to save memory.");
  p.add_option("dropout", "", "Set every dropout probability in both towers to P (0 turns dropout off).", "P");
  p.add_flag("bf16", "Run the forward pass under bfloat16 autocast (CPU or CUDA); weights stay float32.");
  p.add_flag("fp16", "Run the forward pass under float16 autocast with dynamic loss scaling (CUDA only).");
  p.add_flag("skip_nonfinite", "Skip and count steps with a non-finite loss or gradient instead of stopping.");
  p.add_flag("local_loss", "With several processes, compute each process's loss over its own batch only.");
  p.add_option("seed", "42", "Seed for the data shuffle, dropout and new weights.", "N");

  // Logging, evaluation and checkpoints.
  p.add_option("logging_steps", "500", "Write a metrics row and a log line every N steps.", "N");
  p.add_option("evaluation_strategy", "no", "When to evaluate during training: no, steps or epoch.", "WHEN");
  p.add_option("eval_strategy", "", "Newer name of --evaluation_strategy.", "WHEN");
  p.add_option("eval_steps", "", "Evaluate every N steps (default: --logging_steps); alone it implies --evaluation_strategy steps.", "N");
  p.add_option("save_strategy", "steps", "When to write checkpoints: no, steps or epoch.", "WHEN");
  p.add_option("save_steps", "500", "Write a checkpoint every N steps.", "N");
  p.add_option("save_total_limit", "", "Keep at most N checkpoints, removing the oldest.", "N");
  p.add_flag("disable_tqdm", "Print plain log lines instead of the progress bar on a terminal.");

  // Devices and processes.
  p.add_flag("use_cpu", "Train on the CPU even when CUDA is available.");
  p.add_option("nproc_per_node", "1", "Start N training processes on this machine (data parallel).", "N");
  p.add_option("master_port", "29500", "Port on 127.0.0.1 for the processes of --nproc_per_node to meet.", "PORT");
  p.add_option("ddp_timeout", "1800", "Seconds a collective may wait for the other processes.", "SECONDS");

  // Options of Hugging Face's dataset machinery that mean nothing here.
  const std::string datasets = "dualclip reads the data itself (--data_dir, --train_file)";
  p.add_ignored("dataset_name", true, datasets);
  p.add_ignored("dataset_config_name", true, datasets);
  p.add_ignored("remove_unused_columns", true, datasets);
  p.add_ignored("overwrite_cache", true, datasets);
  p.add_ignored("preprocessing_num_workers", true, datasets);
  p.add_ignored("push_to_hub", true, "nothing is uploaded; the model stays in --output_dir");
  p.add_ignored("report_to", true, "metrics go to output_dir/metrics.jsonl");
}

train::TrainingArguments read_arguments(const ArgParser& p) {
  train::TrainingArguments a;
  a.model_name_or_path = p.get_optional("model_name_or_path").value_or("");
  a.output_dir = p.get_optional("output_dir").value_or("");
  a.overwrite_output_dir = p.flag("overwrite_output_dir");
  a.resume_from_checkpoint = p.get_optional("resume_from_checkpoint").value_or("");
  a.data_dir = p.get_optional("data_dir").value_or("");
  a.train_file = p.get_optional("train_file").value_or("");
  a.validation_file = p.get_optional("validation_file").value_or("");
  a.image_column = p.get("image_column");
  a.caption_column = p.get("caption_column");
  if (p.given("max_train_samples")) a.max_train_samples = p.get_int("max_train_samples");
  if (p.given("max_eval_samples")) a.max_eval_samples = p.get_int("max_eval_samples");
  a.max_seq_length = p.get_int("max_seq_length");
  a.pad_to_max_length = p.flag("pad_to_max_length");
  a.strict_data = p.flag("strict_data");
  a.exact_image_preprocessing = p.flag("exact_image_preprocessing");
  a.dataloader_num_workers = static_cast<int>(p.get_int("dataloader_num_workers"));
  a.dataloader_drop_last = p.flag("dataloader_drop_last");
  a.do_train = p.flag("do_train");
  a.do_eval = p.flag("do_eval");

  a.per_device_train_batch_size = p.get_int("per_device_train_batch_size");
  a.per_device_eval_batch_size = p.get_int("per_device_eval_batch_size");
  a.learning_rate = p.get_double("learning_rate");
  a.weight_decay = p.get_double("weight_decay");
  a.weight_decay_rule = train::parse_decay_rule(p.get("weight_decay_rule"));
  a.adam_beta1 = p.get_double("adam_beta1");
  a.adam_beta2 = p.get_double("adam_beta2");
  a.adam_epsilon = p.get_double("adam_epsilon");
  a.max_grad_norm = p.get_double("max_grad_norm");
  a.num_train_epochs = p.get_double("num_train_epochs");
  a.max_steps = p.get_int("max_steps");
  a.lr_scheduler_type = train::parse_schedule_kind(p.get("lr_scheduler_type"));
  a.warmup_steps = p.get_int("warmup_steps");
  a.warmup_ratio = p.get_double("warmup_ratio");
  a.gradient_accumulation_steps = p.get_int("gradient_accumulation_steps");
  a.logit_scale_clamp = !p.flag("no_logit_scale_clamp");
  a.freeze_vision_model = p.flag("freeze_vision_model");
  a.freeze_text_model = p.flag("freeze_text_model");
  a.gradient_checkpointing = p.flag("gradient_checkpointing");
  if (p.given("dropout")) a.dropout = p.get_double("dropout");
  a.bf16 = p.flag("bf16");
  a.fp16 = p.flag("fp16");
  a.skip_nonfinite = p.flag("skip_nonfinite");
  a.local_loss = p.flag("local_loss");
  int64_t seed = p.get_int("seed");
  if (seed < 0) throw Error("--seed must not be negative");
  a.seed = static_cast<uint64_t>(seed);

  a.logging_steps = p.get_int("logging_steps");
  std::string strategy = p.given("eval_strategy") ? p.get("eval_strategy") : p.get("evaluation_strategy");
  a.evaluation_strategy = train::parse_interval_strategy(strategy, "evaluation_strategy");
  if (p.given("eval_steps")) {
    a.eval_steps = p.get_int("eval_steps");
    if (!p.given("evaluation_strategy") && !p.given("eval_strategy")) {
      log::info("--eval_steps given without --evaluation_strategy: evaluating every " + std::to_string(a.eval_steps) +
                " steps");
      a.evaluation_strategy = train::IntervalStrategy::Steps;
    }
  }
  a.save_strategy = train::parse_interval_strategy(p.get("save_strategy"), "save_strategy");
  a.save_steps = p.get_int("save_steps");
  if (p.given("save_total_limit")) a.save_total_limit = p.get_int("save_total_limit");
  a.disable_tqdm = p.flag("disable_tqdm");

  a.use_cpu = p.flag("use_cpu");
  a.nproc_per_node = static_cast<int>(p.get_int("nproc_per_node"));
  a.master_port = static_cast<int>(p.get_int("master_port"));
  a.ddp_timeout = p.get_int("ddp_timeout");
  return a;
}

// The arguments for each worker of --nproc_per_node, after the program name (the launcher
// runs this same program): the train command without that option.
std::vector<std::string> worker_command(const std::vector<std::string>& args) {
  std::vector<std::string> command = {"train"};
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--nproc_per_node") {
      ++i;
      continue;
    }
    if (args[i].rfind("--nproc_per_node=", 0) == 0) continue;
    command.push_back(args[i]);
  }
  return command;
}

}  // namespace

int run_train(const std::vector<std::string>& args) {
  ArgParser parser("train",
                   "Train a dual encoder contrastively on image-caption pairs, as Hugging Face's run_clip.py with the "
                   "Trainer: same argument names and defaults, checkpoints that resume exactly.");
  declare_options(parser);
  if (!parser.parse(args)) return 0;
  for (const auto& note : parser.ignored_notes()) log::info(note);

  train::TrainingArguments arguments = read_arguments(parser);
  arguments.validate();

  // --nproc_per_node N outside a launched worker: start N workers of this same command.
  if (arguments.nproc_per_node > 1 && dist::read_environment().world_size == 1) {
    return dist::launch_local_workers(arguments.nproc_per_node, worker_command(args), arguments.master_port);
  }
  return train::run_training(arguments);
}

}  // namespace dualclip::cli
