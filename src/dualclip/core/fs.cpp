#include "dualclip/core/fs.h"

#include <fstream>
#include <sstream>
#include <unistd.h>

#include "dualclip/core/error.h"

namespace dualclip {

namespace fs = std::filesystem;

void write_atomic(const fs::path& path, const std::function<void(const fs::path&)>& write) {
  // The temporary name carries the process id so that two ranks or runs never share one.
  fs::path tmp = path;
  tmp += ".tmp." + std::to_string(::getpid());
  try {
    write(tmp);
  } catch (...) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    throw;
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    throw Error("cannot write " + path.string() + ": rename failed: " + ec.message());
  }
}

void write_file_atomic(const fs::path& path, const std::string& content) {
  write_atomic(path, [&](const fs::path& tmp) {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw Error("cannot open " + tmp.string() + " for writing");
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    out.close();
    if (!out) throw Error("cannot write " + tmp.string() + " (disk full?)");
  });
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw Error("cannot read " + path.string() + ": " +
                (fs::exists(path) ? "permission denied or not a regular file" : "file not found"));
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

}  // namespace dualclip
