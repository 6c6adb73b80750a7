// dist_test_worker: one rank of the dist tests. tests/dist_*_test.cpp start several copies
// with RANK/WORLD_SIZE/MASTER_ADDR/MASTER_PORT set (or through the built-in launcher with
// --nproc_per_node) and check exit codes and output. Usage: dist_test_worker SCENARIO [ARGS].
// Each scenario prints "check failed: ..." and exits 1 when a result is wrong.

#include <signal.h>
#include <unistd.h>

#include <cmath>
#include <csignal>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <torch/nn/functional/loss.h>
#include <torch/nn/functional/normalization.h>
#include <torch/torch.h>

#include "dualclip/core/error.h"
#include "dualclip/dist/distributed.h"

namespace dist = dualclip::dist;
namespace F = torch::nn::functional;

namespace {

int g_failures = 0;

void check(bool ok, const std::string& what) {
  if (ok) return;
  std::cout << "check failed: " << what << std::endl;
  g_failures += 1;
}

double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) { return (a - b).abs().max().item<double>(); }

void join_group(int timeout_seconds) {
  dist::initialize(dist::read_environment(), torch::kCPU, std::chrono::seconds(timeout_seconds));
}

// ---- collectives: all_reduce, broadcast, barrier, all_gather values and gradients ----

void scenario_collectives() {
  join_group(10);
  const int rank = dist::rank();
  const int world = dist::world_size();
  check(dist::is_distributed(), "is_distributed() after initialize");

  const double sum = dist::all_reduce_sum(rank + 1.0);
  check(sum == world * (world + 1) / 2.0, "all_reduce_sum gave " + std::to_string(sum));
  const auto sums = dist::all_reduce_sum(std::vector<double>{1.0, static_cast<double>(rank), rank == 0 ? 1.0 : 0.0});
  check(sums.size() == 3, "all_reduce_sum of a vector gave " + std::to_string(sums.size()) + " values");
  check(sums[0] == world && sums[1] == world * (world - 1) / 2.0 && sums[2] == 1.0, "all_reduce_sum of a vector");

  std::vector<torch::Tensor> means{torch::full({3, 2}, static_cast<double>(rank), torch::kFloat64),
                                   torch::full({4}, rank * 2.0f)};
  dist::all_reduce_mean_(means);
  const double expected_mean = (world - 1) / 2.0;
  check(max_abs_diff(means[0], torch::full({3, 2}, expected_mean, torch::kFloat64)) == 0.0, "all_reduce_mean_ float64");
  check(max_abs_diff(means[1], torch::full({4}, 2.0f * expected_mean)) < 1e-6, "all_reduce_mean_ float32");

  // A non-contiguous tensor takes the copy-and-write-back path.
  auto matrix = rank == 0 ? torch::arange(12, torch::kFloat32).reshape({3, 4}) : torch::zeros({3, 4});
  std::vector<torch::Tensor> broadcasted{matrix.t(), torch::full({2}, static_cast<int64_t>(rank + 7))};
  dist::broadcast_(broadcasted);
  check(max_abs_diff(matrix, torch::arange(12, torch::kFloat32).reshape({3, 4})) == 0.0, "broadcast_ transposed view");
  check(broadcasted[1].equal(torch::full({2}, static_cast<int64_t>(7))), "broadcast_ int64");

  dist::barrier();

  // Rank r contributes r + 1 rows filled with r, so the sizes differ between ranks. Both ways
  // of learning the row counts: a gather of their own (bound 0), and inside the rows' gather
  // when every rank's rows fit a bound (world, and a looser world + 3).
  for (const int64_t max_rows : {int64_t{0}, static_cast<int64_t>(world), static_cast<int64_t>(world + 3)}) {
    const std::string mode = " (row bound " + std::to_string(max_rows) + ")";
    auto local = torch::full({rank + 1, 2}, static_cast<double>(rank), torch::TensorOptions().dtype(torch::kFloat64).requires_grad(true));
    auto gathered = dist::all_gather_with_grad(local, max_rows);
    const int64_t total_rows = world * (world + 1) / 2;
    check(gathered.size(0) == total_rows && gathered.size(1) == 2,
          "all_gather_with_grad shape [" + std::to_string(gathered.size(0)) + ", " + std::to_string(gathered.size(1)) + "]" + mode);
    int64_t row = 0;
    for (int r = 0; r < world; ++r) {
      for (int i = 0; i <= r; ++i, ++row) {
        check(gathered[row][0].item<double>() == r && gathered[row][1].item<double>() == r,
              "gathered row " + std::to_string(row) + mode);
      }
    }

    // Loss = sum(weights * gathered), the same on every rank: the local gradient is world *
    // weights of this rank's rows.
    auto weights = torch::arange(total_rows * 2, torch::kFloat64).reshape({total_rows, 2});
    (weights * gathered).sum().backward();
    const int64_t offset = static_cast<int64_t>(rank) * (rank + 1) / 2;
    check(max_abs_diff(local.grad(), world * weights.narrow(0, offset, rank + 1)) == 0.0, "all_gather_with_grad backward" + mode);
  }

  // Every rank over the bound: each raises before joining the gather, so none waits.
  bool raised = false;
  try {
    dist::all_gather_with_grad(torch::zeros({world + 1, 2}), world);
  } catch (const dualclip::Error& error) {
    raised = std::string(error.what()).find("more than the bound of " + std::to_string(world)) != std::string::npos;
  }
  check(raised, "all_gather_with_grad over its row bound raised no error naming the bound");

  // A row bound needs rows and columns: a one-dimensional tensor raises on every rank.
  raised = false;
  try {
    dist::all_gather_with_grad(torch::zeros({2}), world);
  } catch (const dualclip::Error& error) {
    raised = std::string(error.what()).find("needs a two-dimensional tensor, got 1 dimensions") != std::string::npos;
  }
  check(raised, "all_gather_with_grad with a row bound and a 1-D tensor raised no error naming its dimensions");
  dist::shutdown();
}

// ---- contrastive: 2 ranks x B equals 1 process x 2B ----

struct Towers {
  torch::Tensor image_projection, text_projection, logit_scale;
  std::vector<torch::Tensor> parameters() const { return {image_projection, text_projection, logit_scale}; }
};

torch::Tensor contrastive_loss(const torch::Tensor& image_embeds, const torch::Tensor& text_embeds, const torch::Tensor& logit_scale) {
  const auto logits_per_image = logit_scale.exp() * image_embeds.matmul(text_embeds.t());
  const auto labels = torch::arange(logits_per_image.size(0));
  return (F::cross_entropy(logits_per_image, labels) + F::cross_entropy(logits_per_image.t(), labels)) / 2;
}

torch::Tensor embed(const torch::Tensor& inputs, const torch::Tensor& projection) {
  return F::normalize(inputs.matmul(projection), F::NormalizeFuncOptions().dim(-1));
}

void scenario_contrastive() {
  join_group(10);
  const int rank = dist::rank();
  const int world = dist::world_size();
  const int64_t batch = 4;

  torch::manual_seed(0);
  const auto images = torch::randn({world * batch, 6}, torch::kFloat64);
  const auto texts = torch::randn({world * batch, 7}, torch::kFloat64);
  const auto opts = torch::TensorOptions().dtype(torch::kFloat64);
  Towers towers{torch::randn({6, 5}, opts), torch::randn({7, 5}, opts), torch::full({}, std::log(1 / 0.07), opts)};

  // Other ranks start from different values; broadcast_ must make them equal to rank 0's.
  auto parameters = towers.parameters();
  for (auto& p : parameters) p.add_(rank);
  dist::broadcast_(parameters);
  for (auto& p : parameters) p.requires_grad_(true);
  Towers reference{towers.image_projection.detach().clone().requires_grad_(true),
                   towers.text_projection.detach().clone().requires_grad_(true),
                   towers.logit_scale.detach().clone().requires_grad_(true)};

  // Distributed: embed this rank's rows, gather, loss over the global batch.
  dist::GradientReducer reducer(towers.parameters(), 64);
  const auto local_images = images.narrow(0, rank * batch, batch);
  const auto local_texts = texts.narrow(0, rank * batch, batch);
  const auto all_image_embeds = dist::all_gather_with_grad(embed(local_images, towers.image_projection));
  const auto all_text_embeds = dist::all_gather_with_grad(embed(local_texts, towers.text_projection));
  const auto loss = contrastive_loss(all_image_embeds, all_text_embeds, towers.logit_scale);
  loss.backward();
  reducer.synchronize();

  // One process with the whole batch.
  const auto reference_loss =
      contrastive_loss(embed(images, reference.image_projection), embed(texts, reference.text_projection), reference.logit_scale);
  reference_loss.backward();

  check(std::abs(loss.item<double>() - reference_loss.item<double>()) < 1e-12, "contrastive loss differs from one process");
  const auto got = towers.parameters();
  const auto want = reference.parameters();
  const char* names[] = {"image_projection", "text_projection", "logit_scale"};
  for (size_t i = 0; i < got.size(); ++i) {
    const double diff = max_abs_diff(got[i].grad(), want[i].grad());
    std::cout << "grad " << names[i] << " max |diff| " << diff << std::endl;
    check(diff < 1e-12, std::string("gradient of ") + names[i] + " differs from one process");
  }
  std::cout << "loss " << loss.item<double>() << " reference " << reference_loss.item<double>() << std::endl;
  dist::shutdown();
}

// ---- reducer: SGD steps of a small MLP, with accumulation and unused parameters ----

struct Mlp {
  torch::nn::Linear first{nullptr}, second{nullptr}, out{nullptr}, frozen{nullptr};
  torch::Tensor unused;     // requires grad, never used: its grad must stay undefined
  torch::Tensor rank0_only; // used only on rank 0: the mean over ranks is its grad / world

  Mlp() {
    first = torch::nn::Linear(5, 16);
    second = torch::nn::Linear(16, 16);
    out = torch::nn::Linear(16, 3);
    frozen = torch::nn::Linear(5, 16);
    for (auto* layer : {&first, &second, &out, &frozen}) (*layer)->to(torch::kFloat64);
    for (auto& p : frozen->parameters()) p.requires_grad_(false);
    unused = torch::randn({4}, torch::kFloat64).requires_grad_(true);
    rank0_only = torch::randn({3}, torch::kFloat64).requires_grad_(true);
  }

  std::vector<torch::Tensor> parameters() const {
    std::vector<torch::Tensor> all;
    for (const auto* layer : {&first, &frozen, &second, &out}) {
      for (auto& p : (*layer)->parameters()) all.push_back(p);
    }
    all.push_back(unused);
    all.push_back(rank0_only);
    return all;
  }

  torch::Tensor forward(const torch::Tensor& x) {
    auto h = torch::tanh(first->forward(x) + frozen->forward(x));
    h = torch::tanh(second->forward(h));
    return out->forward(h);
  }
};

void copy_parameters(const Mlp& from, Mlp& to) {
  torch::NoGradGuard no_grad;
  const auto source = from.parameters();
  auto target = to.parameters();
  for (size_t i = 0; i < source.size(); ++i) target[i].copy_(source[i]);
}

void sgd_step(Mlp& model, double lr) {
  torch::NoGradGuard no_grad;
  for (auto& p : model.parameters()) {
    if (p.grad().defined()) {
      p.sub_(lr * p.grad());
      p.mutable_grad().zero_();
    }
  }
}

void scenario_reducer() {
  join_group(10);
  const int rank = dist::rank();
  const int world = dist::world_size();
  const int64_t micro_batch = 3;
  const int micro_steps = 2;

  torch::manual_seed(1);
  Mlp model;
  Mlp reference;
  copy_parameters(model, reference);

  // bucket_bytes 512: several buckets, so some launch while backward() is still running.
  dist::GradientReducer reducer(model.parameters(), 512);
  std::cout << "buckets " << reducer.bucket_count() << std::endl;
  check(reducer.bucket_count() >= 3, "expected several buckets");

  for (int step = 0; step < 3; ++step) {
    const int64_t global_rows = world * micro_steps * micro_batch;
    const auto inputs = torch::randn({global_rows, 5}, torch::kFloat64);
    const auto targets = torch::randn({global_rows, 3}, torch::kFloat64);

    // Distributed: micro-steps over this rank's rows, reduction only on the last one.
    for (int micro = 0; micro < micro_steps; ++micro) {
      reducer.set_enabled(micro == micro_steps - 1);
      const int64_t start = (static_cast<int64_t>(rank) * micro_steps + micro) * micro_batch;
      auto loss = F::mse_loss(model.forward(inputs.narrow(0, start, micro_batch)), targets.narrow(0, start, micro_batch)) / micro_steps;
      if (rank == 0 && micro == micro_steps - 1) loss = loss + model.rank0_only.pow(2).sum();
      loss.backward();
    }
    reducer.synchronize();
    std::cout << "step " << step << " launched in backward " << reducer.last_buckets_launched_in_backward() << " of "
              << reducer.bucket_count() << ", waited " << reducer.last_wait_seconds() << " s" << std::endl;
    // The unused parameter holds back its bucket until the buckets are rebuilt after step 0.
    // On rank 1, rank0_only never gets a gradient and holds back the buckets after its own.
    if (step > 0 && rank == 0) check(reducer.last_buckets_launched_in_backward() >= 1, "no bucket was launched during backward()");
    check(!model.unused.grad().defined(), "a parameter without gradient on every rank got one");
    sgd_step(model, 0.1);

    // One process: the mean loss over all rows; rank 0's extra term averaged over ranks.
    auto reference_loss = F::mse_loss(reference.forward(inputs), targets) + reference.rank0_only.pow(2).sum() / world;
    reference_loss.backward();
    sgd_step(reference, 0.1);
  }

  // Same parameters as the single process, and bit-identical on every rank.
  const auto got = model.parameters();
  const auto want = reference.parameters();
  double worst = 0.0;
  for (size_t i = 0; i < got.size(); ++i) worst = std::max(worst, max_abs_diff(got[i], want[i]));
  std::cout << "max |param - single process| " << worst << std::endl;
  check(worst < 1e-12, "parameters differ from the single-process run");

  std::vector<torch::Tensor> parts;
  for (const auto& p : got) parts.push_back(p.detach().reshape(-1));
  std::vector<torch::Tensor> flat{torch::cat(parts)};
  const auto mine = flat[0].clone();
  dist::broadcast_(flat);
  check(max_abs_diff(mine, flat[0]) == 0.0, "parameters differ between ranks");
  dist::shutdown();
}

// ---- faults: a peer that dies or stops in the middle of a loop of collectives ----

void scenario_peer_fault(bool stop_instead_of_kill) {
  join_group(3);
  for (int i = 0; i < 1000000; ++i) {
    if (dist::rank() == 1 && i == 20) raise(stop_instead_of_kill ? SIGSTOP : SIGKILL);
    dist::all_reduce_sum(1.0);
  }
  std::cout << "check failed: the collectives never failed" << std::endl;
  g_failures += 1;
}

// ---- launcher scenarios (run as children of launch_local_workers) ----

volatile std::sig_atomic_t g_terminated = 0;
void on_term(int) { g_terminated = 1; }

void wait_for_sigterm(double max_seconds) {
  for (int i = 0; i < max_seconds * 100 && !g_terminated; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
}

int scenario_launched(const std::string& behaviour) {
  const auto env = dist::read_environment();
  std::signal(SIGTERM, on_term);
  std::cout << "hello from rank " << env.rank << " of " << env.world_size << " local " << env.local_rank << " port "
            << env.master_port << std::endl;
  std::cerr << "stderr line from rank " << env.rank << std::endl;

  if (behaviour == "all_ok") return 0;
  if (behaviour == "rank1_fails") {
    if (env.rank == 1) {
      std::cout << "partial line without newline" << std::flush;
      return 3;
    }
    wait_for_sigterm(20);
    std::cout << "rank " << env.rank << " stopping after SIGTERM" << std::endl;
    return 0;
  }
  if (behaviour == "ignore_term") {
    if (env.rank == 1) {
      // Give rank 0 time to start ignoring SIGTERM before the launcher sends it.
      std::this_thread::sleep_for(std::chrono::milliseconds(1500));
      return 5;
    }
    std::signal(SIGTERM, SIG_IGN);
    std::this_thread::sleep_for(std::chrono::seconds(20));
    return 0;
  }
  if (behaviour == "until_term") {
    std::cout << "ready" << std::endl;
    wait_for_sigterm(20);
    std::cout << "rank " << env.rank << " got SIGTERM, saving" << std::endl;
    return 0;
  }
  std::cout << "unknown launched behaviour " << behaviour << std::endl;
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    std::cerr << "usage: dist_test_worker SCENARIO [ARGS]" << std::endl;
    return 2;
  }

  try {
    // The launcher path: "--nproc_per_node N" starts N copies of this program.
    if (args[0] == "--nproc_per_node") return dist::launch_local_workers(std::stoi(args.at(1)), args, 0, std::chrono::seconds(2));

    torch::set_num_threads(1);
    const std::string& scenario = args[0];
    if (scenario == "collectives") {
      scenario_collectives();
    } else if (scenario == "contrastive") {
      scenario_contrastive();
    } else if (scenario == "reducer") {
      scenario_reducer();
    } else if (scenario == "killed_peer" || scenario == "stopped_peer") {
      scenario_peer_fault(scenario == "stopped_peer");
    } else if (scenario == "launched") {
      return scenario_launched(args.at(1));
    } else {
      std::cerr << "unknown scenario " << scenario << std::endl;
      return 2;
    }
  } catch (const std::exception& e) {
    std::cout << "error: " << e.what() << std::endl;
    return 1;
  }
  if (g_failures == 0) std::cout << "all checks passed" << std::endl;
  return g_failures == 0 ? 0 : 1;
}
