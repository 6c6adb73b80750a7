// `dualclip train`: the Hugging Face Trainer's loop for a dual encoder (run_clip.py), with the
// data pipeline, checkpoints, resume, evaluation and metrics.
#pragma once

#include <filesystem>
#include <optional>

#include "dualclip/train/training_args.h"

namespace dualclip::train {

// Runs training, evaluation or both, as `args` requests. Returns the exit status: 0 when done,
// 128 + the signal number when SIGTERM or SIGINT stopped it (after saving a checkpoint).
// Bad input raises dualclip::Error.
int run_training(const TrainingArguments& args);

// The checkpoint a training run in `args.output_dir` resumes from, as run_clip decides it:
// --resume_from_checkpoint (a folder, or "true" for the latest), else the latest checkpoint
// when output_dir has one and --overwrite_output_dir is not given. Throws dualclip::Error when
// output_dir contains other files (naming them) and --overwrite_output_dir is not given.
std::optional<std::filesystem::path> find_resume_checkpoint(const TrainingArguments& args);

}  // namespace dualclip::train
