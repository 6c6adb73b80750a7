// The files a finished run leaves in output_dir besides checkpoints. The final model and
// processor files load in every dualclip command and in Hugging Face. train_results.json,
// eval_results.json and all_results.json follow the Trainer; trainer_state.json,
// training_args.json and the loss curve picture loss.png complete the set.
#pragma once

#include <cstdint>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "dualclip/models/dual_encoder.h"
#include "dualclip/train/checkpoint.h"
#include "dualclip/train/training_args.h"

namespace dualclip::train {

// train_results.json's fields: train_loss (mean step loss), train_runtime,
// train_samples_per_second, train_steps_per_second, epoch, train_samples, plus dualclip's
// skipped_images and skipped_steps.
nlohmann::json train_results(const TrainerState& state, int64_t skipped_images, int64_t train_samples);

// Writes the final model, processor files and result files; empty metrics objects are left
// out (no training, or no evaluation).
void write_final_outputs(const TrainingArguments& args, models::DualEncoder& model,
                         const std::filesystem::path& processor_dir, const TrainerState& state,
                         const nlohmann::json& train_metrics, const nlohmann::json& eval_metrics);

// Draws output_dir/loss.png from output_dir/metrics.jsonl once it has rows.
void write_loss_picture(const std::filesystem::path& output_dir);

}  // namespace dualclip::train
