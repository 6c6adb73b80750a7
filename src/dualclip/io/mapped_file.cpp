#include "dualclip/io/mapped_file.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dualclip/core/error.h"

namespace dualclip::io {

std::shared_ptr<MappedFile> MappedFile::open(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    throw Error("cannot open " + path.string() + ": " + std::strerror(errno));
  }

  struct stat info {};
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    ::close(fd);
    throw Error("cannot read " + path.string() + ": not a regular file");
  }

  std::shared_ptr<MappedFile> file(new MappedFile());
  file->path_ = path;
  file->size_ = static_cast<size_t>(info.st_size);

  // An empty file cannot be mapped; callers see size() == 0 and report it as truncated.
  if (file->size_ > 0) {
    void* address = ::mmap(nullptr, file->size_, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    if (address == MAP_FAILED) {
      int saved = errno;
      ::close(fd);
      throw Error("cannot map " + path.string() + " into memory: " + std::strerror(saved));
    }
    file->data_ = static_cast<uint8_t*>(address);
  }
  ::close(fd);
  return file;
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(data_, size_);
}

torch::Tensor tensor_from_mapping(const std::shared_ptr<MappedFile>& file, size_t offset, size_t nbytes,
                                  torch::IntArrayRef shape, torch::Dtype dtype) {
  auto options = torch::TensorOptions().dtype(dtype).device(torch::kCPU);
  uint8_t* start = const_cast<uint8_t*>(file->data()) + offset;
  size_t element_size = c10::elementSize(dtype);

  // Misaligned data (legal in safetensors) or an empty tensor: copy into fresh memory.
  if (nbytes == 0 || reinterpret_cast<uintptr_t>(start) % element_size != 0) {
    torch::Tensor copy = torch::empty(shape, options);
    if (nbytes > 0) std::memcpy(copy.data_ptr(), start, nbytes);
    return copy;
  }

  std::shared_ptr<MappedFile> keep_alive = file;
  return torch::from_blob(start, shape, [keep_alive](void*) {}, options);
}

}  // namespace dualclip::io
