// Checkpoints: output_dir/checkpoint-<step>/ contains the model and processor files in Hugging
// Face's layout (config.json, model.safetensors, tokenizer and preprocessor files), so any
// checkpoint loads in Python, plus what an exact resume needs:
//   optimizer.safetensors   AdamW moments (exp_avg.<param>, exp_avg_sq.<param>) and step count
//   rng_state.safetensors   the torch generator states (dropout)
//   trainer_state.json      global step, epoch, log history (as HF), and under "dualclip": the
//                           epoch index, the global sample position in the epoch, the schedule,
//                           the float16 loss scale and the run's counters
// A checkpoint is written to a temporary folder and renamed, so a kill at any moment leaves
// the previous checkpoints whole.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "dualclip/models/dual_encoder.h"
#include "dualclip/train/optimizer.h"
#include "dualclip/train/schedule.h"
#include "dualclip/train/step.h"

namespace dualclip::train {

struct TrainerState {
  int64_t global_step = 0;
  double epoch = 0.0;  // fractional, as HF logs it
  int64_t max_steps = 0;
  double num_train_epochs = 0.0;
  int64_t train_batch_size = 0;
  nlohmann::json log_history = nlohmann::json::array();

  // The data position: the epoch being read and how many of its samples (over all ranks,
  // in the epoch's permutation) the completed steps consumed.
  int64_t epoch_index = 0;
  int64_t epoch_position = 0;
  int world_size = 1;

  Schedule schedule;
  GradScalerState scaler;
  int64_t nonfinite_steps = 0;
  int64_t skipped_images = 0;
  int64_t samples_seen = 0;
  double train_loss_sum = 0.0;  // sum of step losses, for train_results.json's train_loss
  double train_seconds = 0.0;

  nlohmann::json to_json() const;
  // Throws dualclip::Error naming `source` when a field is missing.
  static TrainerState from_json(const nlohmann::json& json, const std::string& source);
};

// The checkpoint folders in `output_dir`, oldest (lowest step) first.
std::vector<std::filesystem::path> list_checkpoints(const std::filesystem::path& output_dir);
std::optional<std::filesystem::path> latest_checkpoint(const std::filesystem::path& output_dir);

// Copies the tokenizer and image processor files that exist in `from` to `to`.
void copy_processor_files(const std::filesystem::path& from, const std::filesystem::path& to);

// Writes output_dir/checkpoint-<global_step> (replacing one of the same step) and then
// removes the oldest checkpoints beyond `save_total_limit` (-1 keeps all).
std::filesystem::path save_checkpoint(const std::filesystem::path& output_dir, const TrainerState& state,
                                      models::DualEncoder& model, const AdamW& optimizer,
                                      const std::filesystem::path& processor_dir, int64_t save_total_limit);

// Reads trainer_state.json and optimizer.safetensors of `checkpoint` into `state` and
// `optimizer`, and restores the generator states. The model weights are loaded separately
// (load_dual_encoder on the same folder).
void load_checkpoint(const std::filesystem::path& checkpoint, TrainerState& state, AdamW& optimizer);

// The torch generator states (CPU, and CUDA when available).
io::TensorMap capture_rng_state();
void restore_rng_state(const io::TensorMap& state, const std::string& source);

}  // namespace dualclip::train
