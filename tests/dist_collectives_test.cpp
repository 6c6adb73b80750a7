// Collectives, all_gather_with_grad, GradientReducer and failure messages, each run as two
// dist_test_worker processes on 127.0.0.1, plus the single-process (no environment) path.

#include <gtest/gtest.h>

#include <cstdlib>

#include "dist_test_support.h"
#include "dualclip/core/error.h"
#include "dualclip/dist/distributed.h"
#include "test_support.h"

namespace dist = dualclip::dist;
using namespace dualclip::testing;

namespace {

// Runs `scenario` as ranks 0..world-1 and returns each rank's result.
std::vector<Finished> run_ranks(const std::string& scenario, int world, double timeout_seconds) {
  TempDir logs;
  const int port = free_port();
  std::vector<Process> processes;
  for (int rank = 0; rank < world; ++rank) {
    processes.push_back(spawn_worker({scenario}, rank_environment(rank, world, port),
                                     logs.path() / ("rank" + std::to_string(rank) + ".log")));
  }
  std::vector<Finished> results;
  for (const auto& process : processes) results.push_back(wait_worker(process, timeout_seconds));
  return results;
}

void expect_all_passed(const std::vector<Finished>& results) {
  for (size_t rank = 0; rank < results.size(); ++rank) {
    EXPECT_FALSE(results[rank].timed_out) << "rank " << rank << ":\n" << results[rank].output;
    EXPECT_EQ(results[rank].exit_code, 0) << "rank " << rank << ":\n" << results[rank].output;
    EXPECT_NE(results[rank].output.find("all checks passed"), std::string::npos) << results[rank].output;
  }
}

// Sets environment variables for one test and restores the old values afterwards.
class ScopedEnv {
 public:
  explicit ScopedEnv(const EnvOverrides& values) {
    for (const auto& [name, value] : values) {
      const char* old = std::getenv(name.c_str());
      saved_.emplace_back(name, old ? std::optional<std::string>(old) : std::nullopt);
      setenv(name.c_str(), value.c_str(), 1);
    }
  }
  ~ScopedEnv() {
    for (const auto& [name, old] : saved_) {
      if (old) setenv(name.c_str(), old->c_str(), 1);
      else unsetenv(name.c_str());
    }
  }

 private:
  std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

}  // namespace

TEST(DistCollectives, AllReduceBroadcastGather) { expect_all_passed(run_ranks("collectives", 2, 20)); }

TEST(DistCollectives, ContrastiveMatchesSingleProcess) {
  const auto results = run_ranks("contrastive", 2, 20);
  expect_all_passed(results);
  EXPECT_NE(results[0].output.find("grad logit_scale max |diff|"), std::string::npos) << results[0].output;
}

TEST(DistCollectives, ReducerMatchesSingleProcess) {
  const auto results = run_ranks("reducer", 2, 20);
  expect_all_passed(results);
  EXPECT_NE(results[0].output.find("launched in backward"), std::string::npos) << results[0].output;
}

TEST(DistCollectives, ThreeRanksGather) { expect_all_passed(run_ranks("collectives", 3, 20)); }

TEST(DistFault, KilledRankIsNamed) {
  const auto results = run_ranks("killed_peer", 2, 20);
  const auto& survivor = results[0];
  EXPECT_EQ(results[1].exit_code, 128 + SIGKILL) << results[1].output;
  EXPECT_FALSE(survivor.timed_out) << survivor.output;
  EXPECT_EQ(survivor.exit_code, 1) << survivor.output;
  EXPECT_NE(survivor.output.find("all_reduce failed on rank 0 of 2"), std::string::npos) << survivor.output;
  EXPECT_NE(survivor.output.find("rank 1 (pid"), std::string::npos) << survivor.output;
  EXPECT_NE(survivor.output.find("has exited"), std::string::npos) << survivor.output;
  EXPECT_LT(survivor.seconds, 10.0);
}

TEST(DistFault, StoppedRankTimesOut) {
  TempDir logs;
  const int port = free_port();
  const auto rank0 = spawn_worker({"stopped_peer"}, rank_environment(0, 2, port), logs.path() / "rank0.log");
  const auto rank1 = spawn_worker({"stopped_peer"}, rank_environment(1, 2, port), logs.path() / "rank1.log");
  const auto survivor = wait_worker(rank0, 20);
  kill(rank1.pid, SIGKILL);
  wait_worker(rank1, 5);

  // The workers use a 3 s timeout (--ddp_timeout); rank 0 must give up soon after it.
  EXPECT_FALSE(survivor.timed_out) << survivor.output;
  EXPECT_EQ(survivor.exit_code, 1) << survivor.output;
  EXPECT_NE(survivor.output.find("failed on rank 0 of 2"), std::string::npos) << survivor.output;
  EXPECT_NE(survivor.output.find("has stopped"), std::string::npos) << survivor.output;
  EXPECT_LT(survivor.seconds, 12.0);
}

TEST(DistSingleProcess, NoEnvironmentIsNoOp) {
  ScopedEnv env(EnvOverrides{{"WORLD_SIZE", "1"}});
  const auto environment = dist::read_environment();
  EXPECT_EQ(environment.world_size, 1);
  dist::initialize(environment, torch::kCPU, std::chrono::seconds(1));
  EXPECT_FALSE(dist::is_distributed());
  EXPECT_EQ(dist::rank(), 0);
  EXPECT_EQ(dist::world_size(), 1);
  EXPECT_EQ(dist::all_reduce_sum(2.5), 2.5);

  auto weight = torch::ones({3}, torch::requires_grad());
  dist::GradientReducer reducer({weight});
  EXPECT_EQ(reducer.bucket_count(), 0);
  auto gathered = dist::all_gather_with_grad(weight * 2);
  EXPECT_EQ(gathered.size(0), 3);
  gathered.sum().backward();
  reducer.synchronize();
  EXPECT_TRUE(weight.grad().equal(torch::full({3}, 2.0f)));
  dist::barrier();
  dist::shutdown();
}

TEST(DistSingleProcess, MalformedEnvironmentNamesVariable) {
  {
    ScopedEnv env(EnvOverrides{{"WORLD_SIZE", "2"}, {"RANK", "two"}});
    try {
      dist::read_environment();
      FAIL() << "RANK=two was accepted";
    } catch (const dualclip::Error& e) {
      EXPECT_NE(std::string(e.what()).find("RANK='two'"), std::string::npos) << e.what();
    }
  }
  {
    ScopedEnv env(EnvOverrides{{"WORLD_SIZE", "2"}, {"RANK", "2"}});
    EXPECT_THROW(dist::read_environment(), dualclip::Error);
  }
  {
    ScopedEnv env(EnvOverrides{{"WORLD_SIZE", "2"}, {"RANK", "1"}, {"MASTER_PORT", "70000"}});
    EXPECT_THROW(dist::read_environment(), dualclip::Error);
  }
  {
    ScopedEnv env(EnvOverrides{{"WORLD_SIZE", "4"}, {"RANK", "3"}, {"LOCAL_RANK", "1"}, {"MASTER_ADDR", "10.1.2.3"}, {"MASTER_PORT", "29600"}});
    const auto environment = dist::read_environment();
    EXPECT_EQ(environment.rank, 3);
    EXPECT_EQ(environment.world_size, 4);
    EXPECT_EQ(environment.local_rank, 1);
    EXPECT_EQ(environment.master_addr, "10.1.2.3");
    EXPECT_EQ(environment.master_port, 29600);
  }
}
