// A read-only view of a whole file through mmap, shared by the tensors created on it so the
// mapping lives as long as the last of them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>

#include <torch/types.h>

namespace dualclip::io {

class MappedFile {
 public:
  // Maps `path` copy-on-write: writes through a tensor made from it never reach the file.
  // Throws dualclip::Error naming the file when it cannot be opened or mapped.
  static std::shared_ptr<MappedFile> open(const std::filesystem::path& path);
  ~MappedFile();

  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  MappedFile() = default;
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
  std::filesystem::path path_;
};

// A CPU tensor over `nbytes` bytes at `offset` of `file`: the mapping itself when the offset
// suits the dtype's alignment (the tensor keeps the mapping alive), else a copy.
torch::Tensor tensor_from_mapping(const std::shared_ptr<MappedFile>& file, size_t offset, size_t nbytes,
                                  torch::IntArrayRef shape, torch::Dtype dtype);

}  // namespace dualclip::io
