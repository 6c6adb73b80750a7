#include "dualclip/core/runtime.h"

#include <dlfcn.h>
#include <sched.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include <torch/torch.h>

namespace dualclip::runtime {

namespace {

// Looks up a symbol in everything loaded into the process (libtorch pulls the BLAS in).
void* find_symbol(const char* name) { return dlsym(RTLD_DEFAULT, name); }

// The path of the loaded shared object whose file name contains `needle`, from /proc/self/maps.
std::string loaded_library(const std::string& needle) {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    auto slash = line.find('/');
    if (slash == std::string::npos) continue;
    std::string path = line.substr(slash);
    auto base = path.substr(path.rfind('/') + 1);
    if (base.find(needle) != std::string::npos) return path;
  }
  return "";
}

}  // namespace

std::string dualclip_version() { return DUALCLIP_VERSION; }

std::string torch_version() { return TORCH_VERSION; }

bool cuda_available() { return torch::cuda::is_available(); }

std::string blas_description() {
  // A small product makes sure the BLAS is loaded and resolved before we look.
  torch::NoGradGuard no_grad;
  auto a = torch::ones({64, 64});
  (void)torch::mm(a, a);

  std::string path = loaded_library("openblas");
  if (path.empty()) path = loaded_library("libblas");
  if (path.empty()) path = loaded_library("mkl");

  using GetConfig = char* (*)();
  using GetParallel = int (*)();
  if (auto get_config = reinterpret_cast<GetConfig>(find_symbol("openblas_get_config"))) {
    std::string text = get_config();
    if (auto get_parallel = reinterpret_cast<GetParallel>(find_symbol("openblas_get_parallel"))) {
      const int mode = get_parallel();
      text += mode == 2 ? " (OpenMP threads)" : mode == 1 ? " (pthreads)" : " (single-threaded)";
    }
    return text + (path.empty() ? "" : " at " + path);
  }
  if (find_symbol("mkl_get_max_threads")) return "Intel MKL" + (path.empty() ? "" : " at " + path);
  if (!path.empty()) {
    return "reference BLAS at " + path +
           " (slow: run scripts/setup.sh, or select OpenBLAS with update-alternatives --config libblas.so.3-x86_64-linux-gnu)";
  }
  return "unknown (no BLAS library found among the loaded libraries)";
}

int configure_threads(int threads) {
  // OMP_NUM_THREADS wins when set: the local launcher sets it to cores / processes so that
  // workers on one machine do not each take every core.
  if (threads <= 0) {
    if (const char* env = std::getenv("OMP_NUM_THREADS"); env && std::atoi(env) > 0) threads = std::atoi(env);
  }
  if (threads <= 0) {
    cpu_set_t set;
    threads = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) : 1;
  }
  torch::set_num_threads(threads);

  // A pthread OpenBLAS keeps its own pool next to libtorch's OpenMP pool; on a small
  // machine the two then fight over the same cores. libtorch already splits work across
  // its threads, so the BLAS runs single-threaded inside each. The OpenMP build of
  // OpenBLAS shares libtorch's pool and needs nothing.
  using GetParallel = int (*)();
  using SetThreads = void (*)(int);
  auto get_parallel = reinterpret_cast<GetParallel>(find_symbol("openblas_get_parallel"));
  auto set_threads = reinterpret_cast<SetThreads>(find_symbol("openblas_set_num_threads"));
  if (get_parallel && set_threads && get_parallel() == 1) set_threads(1);
  return threads;
}

}  // namespace dualclip::runtime
