// launch_local_workers through dist_test_worker --nproc_per_node: output prefixes, the
// workers' environment, exit codes, stopping on failure and forwarding SIGTERM.

#include <gtest/gtest.h>

#include "dist_test_support.h"
#include "test_support.h"

using namespace dualclip::testing;

namespace {

Finished run_launcher(const std::vector<std::string>& args, double timeout_seconds) {
  TempDir logs;
  const auto launcher = spawn_worker(args, {{"WORLD_SIZE", ""}, {"RANK", ""}}, logs.path() / "launcher.log");
  return wait_worker(launcher, timeout_seconds);
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST(DistLauncher, PrefixesOutputAndSetsEnvironment) {
  const auto result = run_launcher({"--nproc_per_node", "2", "launched", "all_ok"}, 20);
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_TRUE(contains(result.output, "[rank 0] hello from rank 0 of 2 local 0 port ")) << result.output;
  EXPECT_TRUE(contains(result.output, "[rank 1] hello from rank 1 of 2 local 1 port ")) << result.output;
  EXPECT_TRUE(contains(result.output, "[rank 1] stderr line from rank 1\n")) << result.output;
  EXPECT_TRUE(contains(result.output, "[launcher] started 2 workers")) << result.output;
}

TEST(DistLauncher, PropagatesFirstFailure) {
  const auto result = run_launcher({"--nproc_per_node", "2", "launched", "rank1_fails"}, 20);
  EXPECT_EQ(result.exit_code, 3) << result.output;
  EXPECT_TRUE(contains(result.output, "[launcher] rank 1 exited with code 3; stopping the other workers")) << result.output;
  EXPECT_TRUE(contains(result.output, "[rank 1] partial line without newline\n")) << result.output;
  EXPECT_TRUE(contains(result.output, "[rank 0] rank 0 stopping after SIGTERM")) << result.output;
  EXPECT_LT(result.seconds, 10.0);
}

TEST(DistLauncher, KillsWorkerIgnoringSigterm) {
  // The test worker passes a 2 s grace period to launch_local_workers.
  const auto result = run_launcher({"--nproc_per_node", "2", "launched", "ignore_term"}, 20);
  EXPECT_EQ(result.exit_code, 5) << result.output;
  EXPECT_TRUE(contains(result.output, "rank 0 did not stop within 2 s; killing it")) << result.output;
  // Well under the 20 s that rank 0 would sleep if it were not killed.
  EXPECT_LT(result.seconds, 15.0);
}

TEST(DistLauncher, ForwardsSigterm) {
  TempDir logs;
  const auto log = logs.path() / "launcher.log";
  const auto launcher = spawn_worker({"--nproc_per_node", "2", "launched", "until_term"}, {{"WORLD_SIZE", ""}}, log);

  // Wait until both workers are up, then stop the launcher as a scheduler would.
  bool ready = false;
  for (int i = 0; i < 500 && !ready; ++i) {
    const auto text = read_text(log);
    ready = contains(text, "[rank 0] ready") && contains(text, "[rank 1] ready");
    if (!ready) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(ready) << read_text(log);
  kill(launcher.pid, SIGTERM);

  const auto result = wait_worker(launcher, 10);
  EXPECT_EQ(result.exit_code, 128 + SIGTERM) << result.output;
  EXPECT_TRUE(contains(result.output, "[rank 0] rank 0 got SIGTERM, saving")) << result.output;
  EXPECT_TRUE(contains(result.output, "[rank 1] rank 1 got SIGTERM, saving")) << result.output;
}

TEST(DistLauncher, RunsCollectives) {
  const auto result = run_launcher({"--nproc_per_node", "2", "collectives"}, 20);
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_TRUE(contains(result.output, "[rank 0] all checks passed")) << result.output;
  EXPECT_TRUE(contains(result.output, "[rank 1] all checks passed")) << result.output;
}
