#include "dualclip/io/zip_archive.h"

#include <algorithm>

#include "dualclip/core/error.h"

namespace dualclip::io {

namespace {

constexpr uint32_t kEndOfCentralDirectory = 0x06054b50;
constexpr uint32_t kZip64Locator = 0x07064b50;
constexpr uint32_t kZip64EndOfCentralDirectory = 0x06064b50;
constexpr uint32_t kCentralDirectoryHeader = 0x02014b50;
constexpr uint32_t kLocalFileHeader = 0x04034b50;

// Bounds-checked little-endian reads from the mapped file.
class Reader {
 public:
  explicit Reader(const MappedFile& file) : file_(file) {}

  void check(uint64_t offset, uint64_t bytes) const {
    if (offset > file_.size() || bytes > file_.size() - offset) {
      throw Error(file_.path().string() + ": truncated zip archive (a record at byte " + std::to_string(offset) +
                  " runs past the end of the file)");
    }
  }
  uint64_t read(uint64_t offset, int bytes) const {
    check(offset, bytes);
    uint64_t value = 0;
    for (int i = bytes - 1; i >= 0; --i) value = (value << 8) | file_.data()[offset + i];
    return value;
  }
  uint16_t u16(uint64_t offset) const { return static_cast<uint16_t>(read(offset, 2)); }
  uint32_t u32(uint64_t offset) const { return static_cast<uint32_t>(read(offset, 4)); }
  uint64_t u64(uint64_t offset) const { return read(offset, 8); }
  std::string text(uint64_t offset, uint64_t length) const {
    check(offset, length);
    return std::string(reinterpret_cast<const char*>(file_.data() + offset), length);
  }

 private:
  const MappedFile& file_;
};

// Finds the end-of-central-directory record, which sits in the last 22 + 65535 bytes.
uint64_t find_end_record(const MappedFile& file) {
  if (file.size() < 22) return UINT64_MAX;
  uint64_t lowest = file.size() > 22 + 65535 ? file.size() - 22 - 65535 : 0;
  for (uint64_t offset = file.size() - 22 + 1; offset-- > lowest;) {
    const uint8_t* p = file.data() + offset;
    if (p[0] == 0x50 && p[1] == 0x4b && p[2] == 0x05 && p[3] == 0x06) return offset;
  }
  return UINT64_MAX;
}

}  // namespace

ZipArchive::ZipArchive(const std::filesystem::path& path) : file_(MappedFile::open(path)) {
  const std::string name = path.string();
  Reader reader(*file_);

  // Step 1: the end record gives the central directory's place and size (zip64 when large).
  uint64_t end = find_end_record(*file_);
  if (end == UINT64_MAX || reader.u32(end) != kEndOfCentralDirectory) {
    throw Error(name + ": not a zip archive (no end-of-central-directory record); the file is truncated or not a torch.save checkpoint");
  }
  uint64_t count = reader.u16(end + 10);
  uint64_t directory_offset = reader.u32(end + 16);
  if (end >= 20 && reader.u32(end - 20) == kZip64Locator) {
    uint64_t record = reader.u64(end - 20 + 8);
    if (reader.u32(record) != kZip64EndOfCentralDirectory) {
      throw Error(name + ": corrupt zip64 end record at byte " + std::to_string(record));
    }
    count = reader.u64(record + 32);
    directory_offset = reader.u64(record + 48);
  }

  // Step 2: one central directory header per entry.
  uint64_t offset = directory_offset;
  for (uint64_t i = 0; i < count; ++i) {
    if (reader.u32(offset) != kCentralDirectoryHeader) {
      throw Error(name + ": corrupt zip central directory at byte " + std::to_string(offset));
    }
    uint16_t method = reader.u16(offset + 10);
    uint64_t compressed_size = reader.u32(offset + 20);
    uint64_t size = reader.u32(offset + 24);
    uint16_t name_length = reader.u16(offset + 28);
    uint16_t extra_length = reader.u16(offset + 30);
    uint16_t comment_length = reader.u16(offset + 32);
    uint64_t local_offset = reader.u32(offset + 42);
    std::string entry_name = reader.text(offset + 46, name_length);

    // Sizes and offsets of 0xFFFFFFFF live in the zip64 extra field, in this order.
    uint64_t extra = offset + 46 + name_length;
    for (uint64_t at = extra; at + 4 <= extra + extra_length;) {
      uint16_t id = reader.u16(at);
      uint16_t length = reader.u16(at + 2);
      if (id == 0x0001) {
        uint64_t field = at + 4;
        if (size == 0xFFFFFFFF) size = reader.u64(field), field += 8;
        if (compressed_size == 0xFFFFFFFF) compressed_size = reader.u64(field), field += 8;
        if (local_offset == 0xFFFFFFFF) local_offset = reader.u64(field);
      }
      at += 4 + length;
    }

    if (method != 0 || compressed_size != size) {
      throw Error(name + ": zip entry \"" + entry_name + "\" is compressed (method " + std::to_string(method) +
                  "); torch.save writes stored entries only, so this is not a PyTorch checkpoint");
    }

    // Step 3: the local header in front of the data has its own name and extra lengths.
    if (reader.u32(local_offset) != kLocalFileHeader) {
      throw Error(name + ": corrupt zip local header for \"" + entry_name + "\"");
    }
    uint64_t data_offset = local_offset + 30 + reader.u16(local_offset + 26) + reader.u16(local_offset + 28);
    if (data_offset > file_->size() || size > file_->size() - data_offset) {
      throw Error(name + ": zip entry \"" + entry_name + "\" runs past the end of the file; the file is truncated");
    }
    entries_[entry_name] = ZipEntry{data_offset, size};
    offset += 46 + name_length + extra_length + comment_length;
  }
}

const ZipEntry& ZipArchive::entry(const std::string& name) const {
  auto found = entries_.find(name);
  if (found == entries_.end()) {
    throw Error(file_->path().string() + ": zip entry \"" + name + "\" is missing");
  }
  return found->second;
}

std::string ZipArchive::read(const std::string& name) const {
  const ZipEntry& found = entry(name);
  return std::string(reinterpret_cast<const char*>(file_->data() + found.data_offset), found.size);
}

}  // namespace dualclip::io
