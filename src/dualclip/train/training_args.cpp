#include "dualclip/train/training_args.h"

#include "dualclip/core/error.h"

namespace dualclip::train {

IntervalStrategy parse_interval_strategy(const std::string& name, const std::string& argument) {
  if (name == "no") return IntervalStrategy::No;
  if (name == "steps") return IntervalStrategy::Steps;
  if (name == "epoch") return IntervalStrategy::Epoch;
  throw Error("--" + argument + " '" + name + "' is not valid; use no, steps or epoch");
}

std::string interval_strategy_name(IntervalStrategy strategy) {
  switch (strategy) {
    case IntervalStrategy::No: return "no";
    case IntervalStrategy::Steps: return "steps";
    case IntervalStrategy::Epoch: return "epoch";
  }
  return "no";
}

void TrainingArguments::validate() const {
  auto require = [](bool ok, const std::string& message) {
    if (!ok) throw Error(message);
  };
  require(!model_name_or_path.empty(), "--model_name_or_path is required: a dual encoder folder from 'dualclip create'");
  require(!output_dir.empty(), "--output_dir is required: the folder for checkpoints, metrics and the final model");
  require(do_train || do_eval, "nothing to do: give --do_train, --do_eval or both");
  require(!data_dir.empty() || !train_file.empty() || !validation_file.empty(),
          "no data: give --data_dir (a COCO 2017 folder) or --train_file / --validation_file (CSV, TSV or JSON Lines)");
  require(!do_train || !data_dir.empty() || !train_file.empty(), "--do_train needs --data_dir or --train_file");
  require(!do_eval || !data_dir.empty() || !validation_file.empty(), "--do_eval needs --data_dir or --validation_file");

  require(per_device_train_batch_size >= 1, "--per_device_train_batch_size must be at least 1");
  require(per_device_eval_batch_size >= 1, "--per_device_eval_batch_size must be at least 1");
  require(gradient_accumulation_steps >= 1, "--gradient_accumulation_steps must be at least 1");
  require(learning_rate >= 0.0, "--learning_rate must not be negative");
  require(weight_decay >= 0.0, "--weight_decay must not be negative");
  require(max_grad_norm >= 0.0, "--max_grad_norm must not be negative (0 turns clipping off)");
  require(adam_beta1 >= 0.0 && adam_beta1 < 1.0, "--adam_beta1 must be in [0, 1)");
  require(adam_beta2 >= 0.0 && adam_beta2 < 1.0, "--adam_beta2 must be in [0, 1)");
  require(adam_epsilon > 0.0, "--adam_epsilon must be positive");
  require(max_steps > 0 || num_train_epochs > 0.0, "--num_train_epochs must be positive unless --max_steps is set");
  require(warmup_steps >= 0, "--warmup_steps must not be negative");
  require(warmup_ratio >= 0.0 && warmup_ratio <= 1.0, "--warmup_ratio must be in [0, 1]");
  require(max_seq_length >= 2, "--max_seq_length must be at least 2 (the two special tokens)");
  require(logging_steps >= 1, "--logging_steps must be at least 1");
  require(save_steps >= 1, "--save_steps must be at least 1");
  require(eval_steps == -1 || eval_steps >= 1, "--eval_steps must be at least 1");
  require(save_total_limit == -1 || save_total_limit >= 1, "--save_total_limit must be at least 1");
  require(dataloader_num_workers >= 0, "--dataloader_num_workers must not be negative");
  require(!(dropout && (*dropout < 0.0 || *dropout >= 1.0)), "--dropout must be in [0, 1)");
  require(!(bf16 && fp16), "--bf16 and --fp16 exclude each other; pick one");
  require(nproc_per_node >= 1, "--nproc_per_node must be at least 1");
  require(ddp_timeout >= 1, "--ddp_timeout must be at least 1 second");
}

nlohmann::json TrainingArguments::to_json() const {
  return {
      {"model_name_or_path", model_name_or_path},
      {"output_dir", output_dir.string()},
      {"overwrite_output_dir", overwrite_output_dir},
      {"resume_from_checkpoint", resume_from_checkpoint},
      {"data_dir", data_dir.string()},
      {"train_file", train_file.string()},
      {"validation_file", validation_file.string()},
      {"image_column", image_column},
      {"caption_column", caption_column},
      {"max_train_samples", max_train_samples},
      {"max_eval_samples", max_eval_samples},
      {"max_seq_length", max_seq_length},
      {"pad_to_max_length", pad_to_max_length},
      {"strict_data", strict_data},
      {"exact_image_preprocessing", exact_image_preprocessing},
      {"dataloader_num_workers", dataloader_num_workers},
      {"dataloader_drop_last", dataloader_drop_last},
      {"do_train", do_train},
      {"do_eval", do_eval},
      {"per_device_train_batch_size", per_device_train_batch_size},
      {"per_device_eval_batch_size", per_device_eval_batch_size},
      {"learning_rate", learning_rate},
      {"weight_decay", weight_decay},
      {"adam_beta1", adam_beta1},
      {"adam_beta2", adam_beta2},
      {"adam_epsilon", adam_epsilon},
      {"max_grad_norm", max_grad_norm},
      {"num_train_epochs", num_train_epochs},
      {"max_steps", max_steps},
      {"lr_scheduler_type", schedule_name(lr_scheduler_type)},
      {"warmup_steps", warmup_steps},
      {"warmup_ratio", warmup_ratio},
      {"gradient_accumulation_steps", gradient_accumulation_steps},
      {"weight_decay_rule", weight_decay_rule == DecayRule::HuggingFace ? "hf" : "open_clip"},
      {"logit_scale_clamp", logit_scale_clamp},
      {"freeze_vision_model", freeze_vision_model},
      {"freeze_text_model", freeze_text_model},
      {"gradient_checkpointing", gradient_checkpointing},
      {"dropout", dropout ? nlohmann::json(*dropout) : nlohmann::json()},
      {"bf16", bf16},
      {"fp16", fp16},
      {"skip_nonfinite", skip_nonfinite},
      {"local_loss", local_loss},
      {"seed", seed},
      {"logging_steps", logging_steps},
      {"evaluation_strategy", interval_strategy_name(evaluation_strategy)},
      {"eval_steps", eval_steps},
      {"save_strategy", interval_strategy_name(save_strategy)},
      {"save_steps", save_steps},
      {"save_total_limit", save_total_limit},
      {"use_cpu", use_cpu},
      {"nproc_per_node", nproc_per_node},
      {"ddp_timeout", ddp_timeout},
  };
}

}  // namespace dualclip::train
