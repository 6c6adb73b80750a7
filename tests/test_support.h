// Helpers shared by the tests: where the golden reference data lives, temporary folders,
// and running the dualclip program.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

namespace dualclip::testing {

// The golden reference folder: $DUALCLIP_GOLDEN_DIR, else ../shared/golden beside the source tree.
inline std::filesystem::path golden_dir() {
  if (const char* env = std::getenv("DUALCLIP_GOLDEN_DIR"); env && *env) return env;
  return std::filesystem::path(DUALCLIP_SOURCE_DIR) / ".." / "shared" / "golden";
}

inline bool running_under_ci() {
  const char* ci = std::getenv("CI");
  return ci && std::string(ci) == "true";
}

// A fresh, empty folder under the system temp dir, removed when the object goes away.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "dualclip-test-XXXXXX").string();
    path_ = mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Runs the dualclip program with `args` (a shell-quoted string); returns its exit status and
// stores stdout+stderr in `output`.
int run_dualclip(const std::string& args, std::string* output = nullptr);

}  // namespace dualclip::testing

// Skips the test when the golden folder is absent, except under CI (CI=true), where a missing
// golden folder fails the test.
#define DUALCLIP_REQUIRE_GOLDEN()                                                                  \
  do {                                                                                             \
    if (!std::filesystem::exists(::dualclip::testing::golden_dir() / "README.md")) {               \
      if (::dualclip::testing::running_under_ci()) {                                              \
        FAIL() << "golden reference data not found at " << ::dualclip::testing::golden_dir()      \
               << " (set DUALCLIP_GOLDEN_DIR); under CI this is a failure";                       \
      }                                                                                            \
      GTEST_SKIP() << "golden reference data not found at " << ::dualclip::testing::golden_dir()  \
                   << "; set DUALCLIP_GOLDEN_DIR to run this test";                               \
    }                                                                                              \
  } while (0)
