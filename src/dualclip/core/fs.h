// File writes that never leave a half-written file behind: data goes to a temporary name in
// the same folder and is renamed over the target only when complete.
#pragma once

#include <filesystem>
#include <functional>
#include <string>

namespace dualclip {

// Writes `content` to `path` through a temporary file and rename.
void write_file_atomic(const std::filesystem::path& path, const std::string& content);

// Calls `write(tmp_path)` to produce the file, then renames tmp_path to `path`. If `write`
// throws, the temporary file is removed and `path` is left as it was.
void write_atomic(const std::filesystem::path& path,
                  const std::function<void(const std::filesystem::path&)>& write);

// Reads a whole file; throws dualclip::Error naming the path when it cannot be read.
std::string read_file(const std::filesystem::path& path);

}  // namespace dualclip
