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
// the rank used by core/log.h; with world_size 1 it only sets the rank. Rank 0 serves the
// rendezvous TCPStore on MASTER_ADDR:MASTER_PORT. A collective that fails, or waits longer
// than `timeout`, throws std::runtime_error naming the collective, this rank, c10d's message
// and the ranks on this machine that have exited or stopped (ranks on other machines cannot
// be checked).
void initialize(const Environment& env, const torch::Device& device, std::chrono::seconds timeout);
// Leaves the group; collectives become no-ops again.
void shutdown();

bool is_distributed();
int rank();
int world_size();
bool is_main_process();  // rank 0

void barrier();

// Sums a scalar over all ranks (metrics, evaluation reductions).
double all_reduce_sum(double value);
// Sums several scalars over all ranks in one collective, element by element.
std::vector<double> all_reduce_sum(const std::vector<double>& values);
// Averages the given tensors in place over all ranks.
void all_reduce_mean_(std::vector<torch::Tensor>& tensors);
// Copies rank 0's tensors to every rank, in place (initial parameters, resumed state).
void broadcast_(std::vector<torch::Tensor>& tensors);

// Concatenates every rank's `local` along dim 0 (rank order). Autograd flows back: the
// gradient of this rank's slice of the gathered tensor, summed over all ranks' losses, lands
// on `local`, so a loss over the global batch gives the gradients of one process with the
// whole batch (up to the 1/world_size factor that gradient averaging applies; see .cpp).
//
// With `max_rows` > 0 (a bound on every rank's row count, such as the per-device batch size),
// the rows travel padded to that bound with their count in the same message: one collective
// instead of two. `local` must then be two-dimensional, and a rank with more rows raises
// dualclip::Error. With 0, the counts are gathered first, in a collective of their own.
torch::Tensor all_gather_with_grad(const torch::Tensor& local, int64_t max_rows = 0);

// Averages gradients over ranks in buckets of about `bucket_bytes`, launching each bucket's
// all-reduce as soon as the backward pass has produced all its gradients, so communication
// overlaps the rest of the backward pass.
//
// Parameters with requires_grad=false are left out; every rank must pass the same parameters
// in the same order. A parameter without a gradient on some ranks (unused in this step) counts
// as zero there; one without a gradient on every rank keeps an undefined gradient. With
// gradient accumulation, call set_enabled(false) for all micro-steps but the last, so that
// only the last backward() reduces the accumulated gradients. With one process (no group)
// the reducer does nothing and costs nothing.
// NOTE: a parameter that gets a gradient on some ranks only is reduced correctly, but on the
// other ranks it holds back its bucket, and all later ones, until synchronize(), so they do
// not overlap with backward(). DDP's find_unused_parameters graph walk is not implemented.
class GradientReducer {
 public:
  GradientReducer(std::vector<torch::Tensor> parameters, int64_t bucket_bytes = 25 * 1024 * 1024);
  ~GradientReducer();
  GradientReducer(const GradientReducer&) = delete;
  GradientReducer& operator=(const GradientReducer&) = delete;

  // Turns reduction during backward() on or off (on by default). While off, gradients only
  // accumulate locally and synchronize() does nothing.
  void set_enabled(bool enabled);
  bool enabled() const;

  // Waits for all outstanding all-reduces and writes the averaged gradients back.
  // Call after backward(), before clipping and the optimizer step.
  void synchronize();

  // Seconds spent waiting on communication in the last synchronize().
  double last_wait_seconds() const;
  // How many buckets the last backward() launched before synchronize() was called; the rest
  // waited for synchronize() (unused parameters) and did not overlap with compute.
  int last_buckets_launched_in_backward() const;
  int bucket_count() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// The indices this rank reads in one epoch, as torch.utils.data.DistributedSampler does:
// `permutation` is the epoch's shuffle of the whole dataset; it is padded by repeating its
// start (or cut, with drop_last) to a multiple of world_size, then rank r takes every
// world_size-th index starting at r.
std::vector<int64_t> shard_indices(const std::vector<int64_t>& permutation, int rank, int world_size, bool drop_last);

// Starts `nproc` copies of this program (/proc/self/exe) on this machine with RANK/
// LOCAL_RANK/WORLD_SIZE/LOCAL_WORLD_SIZE/MASTER_ADDR/MASTER_PORT set, forwards their stdout
// and stderr line by line with a "[rank N] " prefix, and returns the first failure's exit
// code (0 when all succeed). `argv` is the command line after the program name, e.g.
// {"train", "--nproc_per_node", "8", ...}; `--nproc_per_node N` is removed from it.
// `master_port` 0 picks a free port. When one worker fails the others get SIGTERM, then
// SIGKILL after `kill_grace`; SIGINT/SIGTERM sent to the launcher are forwarded to the
// workers, and a second one kills them. For several machines, set NNODES and NODE_RANK
// (plus MASTER_ADDR and MASTER_PORT of node 0) on each; ranks are NODE_RANK * nproc + local.
int launch_local_workers(int nproc, const std::vector<std::string>& argv, int master_port,
                         std::chrono::seconds kill_grace = std::chrono::seconds(30));

}  // namespace dualclip::dist
