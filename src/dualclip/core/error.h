// The one exception type dualclip throws for bad input: the message names the file, key or
// argument and says what to do. The command-line front end prints it and exits with status 2.
#pragma once

#include <stdexcept>
#include <string>

namespace dualclip {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace dualclip
