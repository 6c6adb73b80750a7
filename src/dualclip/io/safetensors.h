// The safetensors format: an 8-byte little-endian header length N, N bytes of JSON
// ({name: {dtype, shape, data_offsets}}, optional "__metadata__"), then raw little-endian
// row-major tensor data. Readers validate every offset against the file size.
#pragma once

#include <filesystem>
#include <map>
#include <string>

#include <torch/types.h>

namespace dualclip::io {

using TensorMap = std::map<std::string, torch::Tensor>;

struct SafetensorsFile {
  TensorMap tensors;
  std::map<std::string, std::string> metadata;
};

// Reads every tensor of `path` (CPU tensors). Throws dualclip::Error naming the file (and the
// tensor) for a truncated file, offsets outside the data or overlapping, or an unknown dtype.
SafetensorsFile read_safetensors(const std::filesystem::path& path);

// Writes `tensors` (moved to CPU, made contiguous) with `metadata`, atomically.
void write_safetensors(const std::filesystem::path& path, const TensorMap& tensors,
                       const std::map<std::string, std::string>& metadata = {{"format", "pt"}});

}  // namespace dualclip::io
