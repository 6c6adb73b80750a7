// Helpers for the tokenizer tests: golden case files, exact caption bytes from utf8_hex, and
// the int64 tensors of a golden safetensors file.
#pragma once

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "test_support.h"

namespace dualclip::testing {

inline nlohmann::json read_json(const std::filesystem::path& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in) << "cannot open " << path;
  return nlohmann::json::parse(in);
}

inline std::string hex_to_bytes(const std::string& hex) {
  std::string bytes;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) bytes.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return bytes;
}

// The exact bytes of a golden string: its utf8_hex when present, else the JSON text.
inline std::string case_text(const nlohmann::json& entry) {
  if (entry.contains("utf8_hex")) return hex_to_bytes(entry["utf8_hex"].get<std::string>());
  return entry["text"].get<std::string>();
}

// A row-major int64 tensor read straight from a safetensors file (the golden files use I64
// for ids and masks). A minimal reader so that these tests do not depend on the io part.
struct Int64Tensor {
  std::vector<int64_t> shape;
  std::vector<int64_t> values;
  std::vector<int64_t> row(int64_t i) const {
    int64_t width = shape.at(1);
    return std::vector<int64_t>(values.begin() + i * width, values.begin() + (i + 1) * width);
  }
};

inline Int64Tensor read_int64_tensor(const std::filesystem::path& path, const std::string& name) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string data = buffer.str();
  uint64_t header_size = 0;
  std::memcpy(&header_size, data.data(), 8);
  nlohmann::json header = nlohmann::json::parse(data.substr(8, header_size));
  const auto& entry = header.at(name);
  EXPECT_EQ(entry.at("dtype"), "I64") << name << " in " << path;

  Int64Tensor tensor;
  tensor.shape = entry.at("shape").get<std::vector<int64_t>>();
  size_t begin = entry.at("data_offsets")[0].get<size_t>();
  size_t end = entry.at("data_offsets")[1].get<size_t>();
  tensor.values.resize((end - begin) / 8);
  std::memcpy(tensor.values.data(), data.data() + 8 + header_size + begin, end - begin);
  return tensor;
}

inline std::vector<int64_t> tensor_row(const torch::Tensor& t, int64_t i) {
  torch::Tensor row = t[i].contiguous();
  return std::vector<int64_t>(row.data_ptr<int64_t>(), row.data_ptr<int64_t>() + row.numel());
}

}  // namespace dualclip::testing
