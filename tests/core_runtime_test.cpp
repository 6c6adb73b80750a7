#include <cstdlib>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "dualclip/core/runtime.h"

namespace {

// Restores OMP_NUM_THREADS and libtorch's thread count when a test ends.
class ThreadSettingsGuard {
 public:
  ThreadSettingsGuard() : threads_(torch::get_num_threads()) {
    if (const char* env = std::getenv("OMP_NUM_THREADS")) saved_ = env;
  }
  ~ThreadSettingsGuard() {
    if (saved_.empty()) {
      unsetenv("OMP_NUM_THREADS");
    } else {
      setenv("OMP_NUM_THREADS", saved_.c_str(), 1);
    }
    torch::set_num_threads(threads_);
  }

 private:
  int threads_;
  std::string saved_;
};

}  // namespace

TEST(RuntimeThreads, OmpNumThreadsSetsDefault) {
  ThreadSettingsGuard guard;
  setenv("OMP_NUM_THREADS", "1", 1);
  EXPECT_EQ(dualclip::runtime::configure_threads(0), 1);
  EXPECT_EQ(torch::get_num_threads(), 1);
}

TEST(RuntimeThreads, ExplicitCountWinsOverEnvironment) {
  ThreadSettingsGuard guard;
  setenv("OMP_NUM_THREADS", "1", 1);
  EXPECT_EQ(dualclip::runtime::configure_threads(2), 2);
  EXPECT_EQ(torch::get_num_threads(), 2);
}

TEST(RuntimeThreads, InvalidEnvironmentFallsBackToCores) {
  ThreadSettingsGuard guard;
  setenv("OMP_NUM_THREADS", "not-a-number", 1);
  EXPECT_GE(dualclip::runtime::configure_threads(0), 1);
}
