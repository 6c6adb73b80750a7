// Catching the dualclip::Error a call throws, so a test can check what its message names.
#pragma once

#include <string>

#include <gtest/gtest.h>

#include "dualclip/core/error.h"

namespace dualclip::testing {

// Runs `action` and returns the message of the dualclip::Error it throws; records a test
// failure and returns "" when it throws nothing.
template <typename Action>
std::string error_of(Action action) {
  try {
    action();
  } catch (const dualclip::Error& error) {
    return error.what();
  }
  ADD_FAILURE() << "expected a dualclip::Error";
  return "";
}

}  // namespace dualclip::testing
