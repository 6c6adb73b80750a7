// A dual encoder ready for inference: the model loaded on a device (float32 or bfloat16),
// switched to eval mode, with its processor. Every evaluation command starts from this.
#pragma once

#include <filesystem>
#include <string>

#include <torch/types.h>

#include "dualclip/eval/processor.h"
#include "dualclip/models/dual_encoder.h"

namespace dualclip::eval {

struct InferenceOptions {
  std::string device = "cpu";   // "cpu", "cuda" or "cuda:N"
  bool bf16 = false;            // weights and activations in bfloat16
  int64_t max_seq_length = 128; // longer captions are truncated (special tokens included)
};

struct InferenceModel {
  std::filesystem::path model_dir;
  models::DualEncoder model{nullptr};
  Processor processor;
  torch::Device device;
};

// Parses "cpu", "cuda" or "cuda:N"; throws dualclip::Error when CUDA is requested but
// unavailable or the string is none of these.
torch::Device parse_device(const std::string& text);

// Resolves `name_or_path` (a folder or a hub id in the local cache), loads the weights on the
// requested device and dtype and reads the tokenizer and image processor from the same folder.
InferenceModel load_inference_model(const std::string& name_or_path, const InferenceOptions& options);

}  // namespace dualclip::eval
