// A reader for the zip archives torch.save writes: the central directory (zip64 included)
// and stored (uncompressed) entries, read in place from a memory-mapped file.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "dualclip/io/mapped_file.h"

namespace dualclip::io {

struct ZipEntry {
  uint64_t data_offset = 0;  // where the entry's bytes start in the file
  uint64_t size = 0;
};

class ZipArchive {
 public:
  // Reads the central directory; throws dualclip::Error naming the file when it is not a zip,
  // is truncated, or contains a compressed entry.
  explicit ZipArchive(const std::filesystem::path& path);

  const std::map<std::string, ZipEntry>& entries() const { return entries_; }
  bool contains(const std::string& name) const { return entries_.count(name) > 0; }
  const ZipEntry& entry(const std::string& name) const;
  std::string read(const std::string& name) const;
  const std::shared_ptr<MappedFile>& file() const { return file_; }

 private:
  std::shared_ptr<MappedFile> file_;
  std::map<std::string, ZipEntry> entries_;
};

}  // namespace dualclip::io
