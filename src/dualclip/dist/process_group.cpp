// Joining the process group from torchrun's environment, the small collectives, and the
// failure messages that name ranks.

#include "dualclip/dist/process_group.h"

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>

#include "dualclip/core/error.h"
#include "dualclip/core/log.h"
#include "dualclip/dist/distributed.h"

namespace dualclip::dist {

namespace {

struct GroupState {
  Environment env;
  std::chrono::seconds timeout{0};
  torch::Device device = torch::kCPU;
  c10::intrusive_ptr<c10d::Store> store;  // the PrefixStore over the TCPStore
  c10::intrusive_ptr<compat::CollectiveBackend> backend;
  std::string hostname;
};

// Empty until initialize() joins a group of more than one process.
std::unique_ptr<GroupState> g_state;

std::string error_text(const std::exception& e) {
  if (const auto* c10_error = dynamic_cast<const c10::Error*>(&e)) return c10_error->what_without_backtrace();
  return e.what();
}

// ---- environment ----

std::optional<std::string> env_value(const char* name) {
  const char* value = std::getenv(name);
  if (!value || !*value) return std::nullopt;
  return std::string(value);
}

int parse_env_int(const char* name, const std::string& text, int min_value, int max_value) {
  size_t used = 0;
  long value = 0;
  try {
    value = std::stol(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || value < min_value || value > max_value) {
    throw Error("environment variable " + std::string(name) + "='" + text + "' is invalid: expected an integer in [" +
                std::to_string(min_value) + ", " + std::to_string(max_value) + "]");
  }
  return static_cast<int>(value);
}

std::string this_hostname() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return "unknown-host";
  return name;
}

// ---- Gloo device ----

bool is_loopback(const std::string& address) {
  return address == "localhost" || address == "::1" || address.rfind("127.", 0) == 0;
}

// The local address the kernel would use to reach `host`: connecting a UDP socket picks the
// route and sends no packet.
std::optional<std::string> local_address_towards(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found) != 0) return std::nullopt;

  std::optional<std::string> address;
  const int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd >= 0 && connect(fd, found->ai_addr, found->ai_addrlen) == 0) {
    sockaddr_in local{};
    socklen_t length = sizeof(local);
    char text[INET_ADDRSTRLEN] = {};
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length) == 0 &&
        inet_ntop(AF_INET, &local.sin_addr, text, sizeof(text))) {
      address = text;
    }
  }
  if (fd >= 0) close(fd);
  freeaddrinfo(found);
  return address;
}

// Gloo listens on one address per process. GLOO_SOCKET_IFNAME picks the interface as in
// PyTorch; otherwise loopback for a single machine, else the interface that routes to the
// master.
std::shared_ptr<::gloo::transport::Device> make_gloo_device(const Environment& env) {
  if (auto interface = env_value("GLOO_SOCKET_IFNAME")) {
    return c10d::ProcessGroupGloo::createDeviceForInterface(*interface);
  }
  if (is_loopback(env.master_addr)) return c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
  if (auto local = local_address_towards(env.master_addr, env.master_port)) {
    return c10d::ProcessGroupGloo::createDeviceForHostname(*local);
  }
  return c10d::ProcessGroupGloo::createDefaultDevice();
}

c10::intrusive_ptr<compat::CollectiveBackend> make_backend(const c10::intrusive_ptr<c10d::Store>& store,
                                                           const Environment& env, const torch::Device& device,
                                                           std::chrono::milliseconds timeout) {
#if defined(USE_C10D_NCCL)
  if (device.is_cuda()) {
    auto options = c10d::ProcessGroupNCCL::Options::create();
    options->timeout = timeout;
    return c10::make_intrusive<c10d::ProcessGroupNCCL>(store, env.rank, env.world_size, options);
  }
#else
  if (device.is_cuda()) {
    log::warn("this build has no NCCL (configure with -DDUALCLIP_WITH_NCCL=ON); using Gloo for CUDA tensors, "
              "which copies them through host memory");
  }
#endif
  auto options = c10d::ProcessGroupGloo::Options::create(timeout);
  options->devices.push_back(make_gloo_device(env));
  options->threads = 2;
  return c10::make_intrusive<c10d::ProcessGroupGloo>(store, env.rank, env.world_size, options);
}

// ---- failure messages ----

std::string worker_key(int rank) { return "worker/" + std::to_string(rank); }

// "exited", "stopped" or "" (running) for a process on this machine, from /proc/PID/stat.
std::string process_condition(long pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return "exited";
  const size_t name_end = line.rfind(')');
  const char state = name_end != std::string::npos && name_end + 2 < line.size() ? line[name_end + 2] : '?';
  if (state == 'Z' || state == 'X') return "exited";
  if (state == 'T' || state == 't') return "stopped";
  return "";
}

// Which other ranks on this machine have exited or are stopped, from the pids every rank
// registered in the store. Ranks on other machines cannot be checked from here.
std::string describe_peers(GroupState& state) {
  std::vector<std::string> findings;
  try {
    for (int peer = 0; peer < state.env.world_size; ++peer) {
      if (peer == state.env.rank || !state.store->check({worker_key(peer)})) continue;
      const auto bytes = state.store->get(worker_key(peer));
      std::istringstream record(std::string(bytes.begin(), bytes.end()));
      std::string host;
      long pid = 0;
      record >> host >> pid;
      if (host != state.hostname || pid <= 0) continue;
      const std::string condition = process_condition(pid);
      if (!condition.empty()) {
        findings.push_back("rank " + std::to_string(peer) + " (pid " + std::to_string(pid) + ") has " + condition);
      }
    }
  } catch (const std::exception&) {
    return "the rendezvous store on rank 0 (" + state.env.master_addr + ":" + std::to_string(state.env.master_port) +
           ") is unreachable, so rank 0 has most likely exited.";
  }

  if (findings.empty()) {
    return "every other rank on this machine is still running, so a rank on another machine failed, or a rank is "
           "stuck or slower than the timeout (" +
           std::to_string(state.timeout.count()) + " s, --ddp_timeout).";
  }
  std::string text;
  for (const auto& finding : findings) text += (text.empty() ? "" : "; ") + finding;
  return text + ".";
}

}  // namespace

// ---- environment and lifetime ----

Environment read_environment() {
  Environment env;
  const auto world_size = env_value("WORLD_SIZE");
  if (!world_size) return env;

  env.world_size = parse_env_int("WORLD_SIZE", *world_size, 1, 1 << 20);
  if (env.world_size == 1) return env;

  const auto rank = env_value("RANK");
  if (!rank) throw Error("environment variable RANK is missing while WORLD_SIZE=" + *world_size + "; set both, or use torchrun");
  env.rank = parse_env_int("RANK", *rank, 0, env.world_size - 1);
  if (auto local_rank = env_value("LOCAL_RANK")) env.local_rank = parse_env_int("LOCAL_RANK", *local_rank, 0, env.world_size - 1);
  if (auto address = env_value("MASTER_ADDR")) env.master_addr = *address;
  if (auto port = env_value("MASTER_PORT")) env.master_port = parse_env_int("MASTER_PORT", *port, 1, 65535);
  return env;
}

void initialize(const Environment& env, const torch::Device& device, std::chrono::seconds timeout) {
  log::set_rank(env.rank, env.world_size);
  if (env.world_size <= 1) return;
  if (g_state) throw Error("dist::initialize was called twice; call dist::shutdown() first");

  auto state = std::make_unique<GroupState>();
  state->env = env;
  state->timeout = timeout;
  state->device = device;
  state->hostname = this_hostname();
  const auto timeout_ms = std::chrono::duration_cast<std::chrono::milliseconds>(timeout);
  const std::string where = env.master_addr + ":" + std::to_string(env.master_port);

  // Rendezvous: rank 0 serves the TCPStore, the others connect to it.
  c10::intrusive_ptr<c10d::Store> tcp_store;
  try {
    c10d::TCPStoreOptions options;
    options.port = static_cast<std::uint16_t>(env.master_port);
    options.isServer = env.rank == 0;
    options.numWorkers = static_cast<std::size_t>(env.world_size);
    options.waitWorkers = true;
    options.timeout = timeout_ms;
    tcp_store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, options);
  } catch (const std::exception& e) {
    throw std::runtime_error("rank " + std::to_string(env.rank) + " could not " +
                             (env.rank == 0 ? "serve" : "reach") + " the rendezvous store at " + where + " within " +
                             std::to_string(timeout.count()) + " s: " + error_text(e) +
                             ". Check that every rank uses the same MASTER_ADDR/MASTER_PORT and WORLD_SIZE, and "
                             "that the port is free on rank 0's machine.");
  }
  state->store = c10::make_intrusive<c10d::PrefixStore>("dualclip", tcp_store);

  // Registered before the Gloo rendezvous, so that failures from here on can name ranks.
  const std::string record = state->hostname + " " + std::to_string(getpid());
  state->store->set(worker_key(env.rank), std::vector<uint8_t>(record.begin(), record.end()));

  try {
    state->backend = make_backend(state->store, env, device, timeout_ms);
  } catch (const std::exception& e) {
    throw std::runtime_error("rank " + std::to_string(env.rank) + " of " + std::to_string(env.world_size) +
                             " could not connect to the other ranks: " + error_text(e) + ". " +
                             describe_peers(*state));
  }
  g_state = std::move(state);
}

void shutdown() { g_state.reset(); }

bool is_distributed() { return g_state != nullptr; }
int rank() { return g_state ? g_state->env.rank : 0; }
int world_size() { return g_state ? g_state->env.world_size : 1; }
bool is_main_process() { return rank() == 0; }

// ---- shared with the other dist sources ----

namespace detail {

compat::CollectiveBackend& group() {
  if (!g_state) throw std::logic_error("dist::detail::group() called without an initialized process group");
  return *g_state->backend;
}

torch::Device communication_device() { return g_state ? g_state->device : torch::Device(torch::kCPU); }

void wait_for(const c10::intrusive_ptr<c10d::Work>& work, const std::string& collective) {
  try {
    work->wait();
  } catch (const std::exception& e) {
    throw std::runtime_error(collective + " failed on rank " + std::to_string(g_state->env.rank) + " of " +
                             std::to_string(g_state->env.world_size) + ": " + error_text(e) + ". " +
                             describe_peers(*g_state));
  }
}

}  // namespace detail

// ---- small collectives ----

namespace {

// Runs `collective` on a contiguous tensor on the communication device: `tensor` itself when
// it already is one, else a copy that is written back afterwards.
template <typename Collective>
void on_communication_buffer(torch::Tensor& tensor, Collective&& collective) {
  const auto device = detail::communication_device();
  if (tensor.is_contiguous() && tensor.device() == device) {
    collective(tensor);
    return;
  }
  auto buffer = tensor.to(device).contiguous();
  collective(buffer);
  tensor.copy_(buffer);
}

}  // namespace

void barrier() {
  if (!is_distributed()) return;
  detail::wait_for(detail::group().barrier(), "barrier");
}

double all_reduce_sum(double value) {
  if (!is_distributed()) return value;
  auto tensor = torch::full({1}, value, torch::TensorOptions().dtype(torch::kFloat64).device(detail::communication_device()));
  std::vector<torch::Tensor> tensors{tensor};
  detail::wait_for(detail::group().allreduce(tensors), "all_reduce");
  return tensor.item<double>();
}

std::vector<double> all_reduce_sum(const std::vector<double>& values) {
  if (!is_distributed() || values.empty()) return values;
  auto tensor = torch::tensor(values, torch::TensorOptions().dtype(torch::kFloat64)).to(detail::communication_device());
  std::vector<torch::Tensor> tensors{tensor};
  detail::wait_for(detail::group().allreduce(tensors), "all_reduce");
  tensor = tensor.cpu();
  return std::vector<double>(tensor.data_ptr<double>(), tensor.data_ptr<double>() + tensor.numel());
}

void all_reduce_mean_(std::vector<torch::Tensor>& tensors) {
  if (!is_distributed()) return;
  torch::NoGradGuard no_grad;
  for (auto& tensor : tensors) {
    if (!tensor.is_floating_point()) {
      throw Error("all_reduce_mean_ needs floating-point tensors, got " + std::string(c10::toString(tensor.scalar_type())));
    }
    on_communication_buffer(tensor, [](torch::Tensor& buffer) {
      std::vector<torch::Tensor> one{buffer};
      detail::wait_for(detail::group().allreduce(one), "all_reduce");
      buffer.div_(world_size());
    });
  }
}

void broadcast_(std::vector<torch::Tensor>& tensors) {
  if (!is_distributed()) return;
  torch::NoGradGuard no_grad;
  for (auto& tensor : tensors) {
    on_communication_buffer(tensor, [](torch::Tensor& buffer) {
      std::vector<torch::Tensor> one{buffer};
      c10d::BroadcastOptions options;
      options.rootRank = 0;
      detail::wait_for(detail::group().broadcast(one, options), "broadcast");
    });
  }
}

}  // namespace dualclip::dist
