// dist_reducer_overlap: how much of the gradient all-reduce GradientReducer hides behind
// backward(), on 2 local ranks over Gloo. Run without arguments; it starts its own workers
// with the built-in launcher. Each rank trains an MLP and times three ways of stepping:
//   local      backward() only, no communication (the floor)
//   after      backward(), then all_reduce_mean_ of every gradient (no overlap)
//   reducer    backward() with GradientReducer hooks, then synchronize()
// Usage: dist_reducer_overlap [--layers N] [--width N] [--batch N] [--steps N] [--bucket_mb N] [--json PATH]

#include <chrono>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "dualclip/dist/distributed.h"

namespace dist = dualclip::dist;
using Clock = std::chrono::steady_clock;

namespace {

struct Settings {
  int layers = 8;
  int width = 1024;
  int batch = 64;
  int steps = 10;
  int bucket_mb = 4;
  std::string json_path;
};

Settings parse_settings(const std::vector<std::string>& args) {
  Settings settings;
  for (size_t i = 0; i + 1 < args.size(); i += 2) {
    const std::string& key = args[i];
    const std::string& value = args[i + 1];
    if (key == "--layers") settings.layers = std::stoi(value);
    else if (key == "--width") settings.width = std::stoi(value);
    else if (key == "--batch") settings.batch = std::stoi(value);
    else if (key == "--steps") settings.steps = std::stoi(value);
    else if (key == "--bucket_mb") settings.bucket_mb = std::stoi(value);
    else if (key == "--json") settings.json_path = value;
    else throw std::invalid_argument("unknown option " + key);
  }
  return settings;
}

struct Model {
  std::vector<torch::nn::Linear> layers;
  std::vector<torch::Tensor> parameters;

  explicit Model(const Settings& settings) {
    for (int i = 0; i < settings.layers; ++i) {
      layers.emplace_back(settings.width, settings.width);
      for (auto& p : layers.back()->parameters()) parameters.push_back(p);
    }
  }

  torch::Tensor loss(const torch::Tensor& inputs) {
    auto h = inputs;
    for (auto& layer : layers) h = torch::tanh(layer->forward(h));
    return h.pow(2).mean();
  }
};

// Mean milliseconds per step of forward + backward + `reduce`, after two warm-up steps.
template <typename Reduce>
double time_steps(Model& model, const Settings& settings, Reduce&& reduce) {
  const auto inputs = torch::randn({settings.batch, settings.width});
  double total_ms = 0.0;
  for (int step = -2; step < settings.steps; ++step) {
    for (auto& p : model.parameters) {
      if (p.grad().defined()) p.mutable_grad().zero_();
    }
    dist::barrier();
    const auto start = Clock::now();
    model.loss(inputs).backward();
    reduce();
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    if (step >= 0) total_ms += ms;
  }
  return total_ms / settings.steps;
}

int run_rank(const Settings& settings) {
  dist::initialize(dist::read_environment(), torch::kCPU, std::chrono::seconds(60));
  torch::manual_seed(0);
  Model model(settings);
  int64_t gradient_bytes = 0;
  for (const auto& p : model.parameters) gradient_bytes += p.numel() * 4;

  const double local_ms = time_steps(model, settings, [] {});
  const double after_ms = time_steps(model, settings, [&] {
    std::vector<torch::Tensor> grads;
    for (auto& p : model.parameters) grads.push_back(p.grad());
    dist::all_reduce_mean_(grads);
  });

  dist::GradientReducer reducer(model.parameters, int64_t{settings.bucket_mb} * 1024 * 1024);
  double wait_seconds = 0.0;
  int launched_in_backward = 0;
  const double reducer_ms = time_steps(model, settings, [&] {
    reducer.synchronize();
    wait_seconds += reducer.last_wait_seconds();
    launched_in_backward = reducer.last_buckets_launched_in_backward();
  });
  const double wait_ms = 1000.0 * wait_seconds / (settings.steps + 2);

  if (dist::is_main_process()) {
    std::cout << std::fixed << std::setprecision(1);
    std::cout << "ranks " << dist::world_size() << ", MLP " << settings.layers << " x " << settings.width << ", batch "
              << settings.batch << ", gradients " << gradient_bytes / (1024 * 1024) << " MiB, threads/rank "
              << torch::get_num_threads() << "\n";
    std::cout << "mode       ms/step\n";
    std::cout << "local      " << local_ms << "\n";
    std::cout << "after      " << after_ms << "   (communication adds " << after_ms - local_ms << ")\n";
    std::cout << "reducer    " << reducer_ms << "   (communication adds " << reducer_ms - local_ms << "; waited "
              << wait_ms << " in synchronize; " << launched_in_backward << " of " << reducer.bucket_count()
              << " buckets launched during backward)\n";
    if (!settings.json_path.empty()) {
      nlohmann::json record = {{"benchmark", "dist_reducer_overlap"}, {"world_size", dist::world_size()},
                               {"layers", settings.layers},          {"width", settings.width},
                               {"batch", settings.batch},            {"gradient_bytes", gradient_bytes},
                               {"local_ms", local_ms},               {"after_ms", after_ms},
                               {"reducer_ms", reducer_ms},           {"reducer_wait_ms", wait_ms},
                               {"buckets", reducer.bucket_count()},  {"launched_in_backward", launched_in_backward}};
      std::ofstream(settings.json_path) << record.dump(2) << "\n";
    }
  }
  dist::shutdown();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  try {
    const Settings settings = parse_settings(args);
    if (dist::read_environment().world_size == 1) {
      args.insert(args.begin(), {"--nproc_per_node", "2"});
      return dist::launch_local_workers(2, args, 0);
    }
    return run_rank(settings);
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << std::endl;
    return 1;
  }
}
