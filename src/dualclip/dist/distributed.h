// The process group and the collectives the trainer uses. With no torchrun environment
// (WORLD_SIZE unset or 1) everything runs as a single process and the collectives are no-ops.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <torch/types.h>

namespace dualclip::dist {

struct Environment {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
};

// Reads RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT (torchrun's names); throws
// dualclip::Error naming the variable when one is malformed.
Environment read_environment();

// Joins the process group (Gloo for CPU devices, NCCL for CUDA when compiled in) and sets
// the rank used by core/log.h. Collectives that wait longer than `timeout` fail with a
// message naming the rank that did not answer, where c10d can tell.
void initialize(const Environment& env, const torch::Device& device, std::chrono::seconds timeout);
void shutdown();

bool is_distributed();
int rank();
int world_size();
bool is_main_process();  // rank 0

void barrier();

// Sums a scalar over all ranks (metrics, evaluation reductions).
double all_reduce_sum(double value);
// Averages the given tensors in place over all ranks.
void all_reduce_mean_(std::vector<torch::Tensor>& tensors);
// Copies rank 0's tensors to every rank, in place (initial parameters, resumed state).
void broadcast_(std::vector<torch::Tensor>& tensors);

// Concatenates every rank's `local` along dim 0 (rank order). Autograd flows back: the
// gradient of this rank's slice of the gathered tensor, summed over all ranks' losses, lands
// on `local`, so a loss over the global batch gives the gradients of one process with the
// whole batch (up to the 1/world_size factor that gradient averaging applies; see .cpp).
torch::Tensor all_gather_with_grad(const torch::Tensor& local);

// Averages gradients over ranks in buckets of about `bucket_bytes`, launching each bucket's
// all-reduce as soon as the backward pass has produced all its gradients, so communication
// overlaps the rest of the backward pass.
class GradientReducer {
 public:
  GradientReducer(std::vector<torch::Tensor> parameters, int64_t bucket_bytes = 25 * 1024 * 1024);
  ~GradientReducer();
  // Waits for all outstanding all-reduces and writes the averaged gradients back.
  // Call after backward(), before clipping and the optimizer step.
  void synchronize();
  // Seconds spent waiting on communication in the last synchronize().
  double last_wait_seconds() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// The indices this rank reads in one epoch, as torch.utils.data.DistributedSampler does:
// `permutation` is the epoch's shuffle of the whole dataset; it is padded by repeating its
// start (or cut, with drop_last) to a multiple of world_size, then rank r takes every
// world_size-th index starting at r.
std::vector<int64_t> shard_indices(const std::vector<int64_t>& permutation, int rank, int world_size, bool drop_last);

// Starts `nproc` copies of this program on this machine with RANK/LOCAL_RANK/WORLD_SIZE/
// MASTER_ADDR/MASTER_PORT set, forwards their output line by line with a "[rank N]" prefix,
// stops all of them when one fails or on SIGINT/SIGTERM (forwarded), and returns the first
// failure's exit code (0 when all succeed).
int launch_local_workers(int nproc, const std::vector<std::string>& argv, int master_port);

}  // namespace dualclip::dist
