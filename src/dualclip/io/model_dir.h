// Locating and reading a Hugging Face model directory: a local path, or a hub id such as
// "openai/clip-vit-base-patch32" resolved in the local Hugging Face cache
// ($HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub). Nothing is downloaded.
#pragma once

#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "dualclip/io/safetensors.h"

namespace dualclip::io {

// Returns the folder for `name_or_path`; throws dualclip::Error listing the places searched.
std::filesystem::path resolve_model_dir(const std::string& name_or_path);

// Parses a JSON file; throws dualclip::Error naming the file when it is missing or invalid.
nlohmann::json read_json(const std::filesystem::path& path);

// Writes JSON with two-space indentation, atomically.
void write_json(const std::filesystem::path& path, const nlohmann::json& value);

// Loads the weights of a model directory: model.safetensors, the shards listed in
// model.safetensors.index.json, or pytorch_model.bin, in that order of preference.
TensorMap load_weights(const std::filesystem::path& model_dir);

}  // namespace dualclip::io
