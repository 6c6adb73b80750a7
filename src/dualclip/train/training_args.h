// The settings of a training run, named and defaulted as Hugging Face's TrainingArguments and
// run_clip's ModelArguments/DataTrainingArguments, so a run_clip command means the same here.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "dualclip/train/parameter_groups.h"
#include "dualclip/train/schedule.h"

namespace dualclip::train {

// When evaluation or saving happens (TrainingArguments' IntervalStrategy).
enum class IntervalStrategy { No, Steps, Epoch };
IntervalStrategy parse_interval_strategy(const std::string& name, const std::string& argument);
std::string interval_strategy_name(IntervalStrategy strategy);

struct TrainingArguments {
  // Model and output.
  std::string model_name_or_path;
  std::filesystem::path output_dir;
  bool overwrite_output_dir = false;
  // "" (none), "true" (the latest checkpoint in output_dir) or a checkpoint folder.
  std::string resume_from_checkpoint;

  // Data: a COCO 2017 folder, or train/validation lists.
  std::filesystem::path data_dir;
  std::filesystem::path train_file;
  std::filesystem::path validation_file;
  std::string image_column = "image_path";
  std::string caption_column = "caption";
  int64_t max_train_samples = -1;
  int64_t max_eval_samples = -1;
  int64_t max_seq_length = 128;
  bool pad_to_max_length = false;
  bool strict_data = false;
  bool exact_image_preprocessing = false;
  int dataloader_num_workers = 4;
  bool dataloader_drop_last = false;

  // What to run.
  bool do_train = false;
  bool do_eval = false;

  // Optimisation.
  int64_t per_device_train_batch_size = 8;
  int64_t per_device_eval_batch_size = 8;
  double learning_rate = 5e-5;
  double weight_decay = 0.0;
  double adam_beta1 = 0.9;
  double adam_beta2 = 0.999;
  double adam_epsilon = 1e-8;
  double max_grad_norm = 1.0;
  double num_train_epochs = 3.0;
  int64_t max_steps = -1;
  ScheduleKind lr_scheduler_type = ScheduleKind::Linear;
  int64_t warmup_steps = 0;
  double warmup_ratio = 0.0;
  int64_t gradient_accumulation_steps = 1;
  DecayRule weight_decay_rule = DecayRule::HuggingFace;
  bool logit_scale_clamp = true;
  bool freeze_vision_model = false;
  bool freeze_text_model = false;
  bool gradient_checkpointing = false;
  std::optional<double> dropout;
  bool bf16 = false;
  bool fp16 = false;
  bool skip_nonfinite = false;
  bool local_loss = false;
  uint64_t seed = 42;

  // Logging, evaluation, checkpoints.
  int64_t logging_steps = 500;
  IntervalStrategy evaluation_strategy = IntervalStrategy::No;
  int64_t eval_steps = -1;  // -1: logging_steps, as TrainingArguments
  IntervalStrategy save_strategy = IntervalStrategy::Steps;
  int64_t save_steps = 500;
  int64_t save_total_limit = -1;  // -1: keep every checkpoint
  bool disable_tqdm = false;

  // Devices and processes.
  bool use_cpu = false;
  int nproc_per_node = 1;
  int master_port = 29500;
  int64_t ddp_timeout = 1800;

  // Checks combinations that cannot work; throws dualclip::Error naming the arguments.
  void validate() const;
  nlohmann::json to_json() const;
};

}  // namespace dualclip::train
