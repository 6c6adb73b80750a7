#include "test_support.h"

#include <array>
#include <cstdio>
#include <sys/wait.h>

namespace dualclip::testing {

int run_dualclip(const std::string& args, std::string* output) {
  const std::string command = std::string(DUALCLIP_BINARY) + " " + args + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return -1;
  std::string text;
  std::array<char, 4096> buffer{};
  size_t n = 0;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) text.append(buffer.data(), n);
  const int status = pclose(pipe);
  if (output) *output = text;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace dualclip::testing
