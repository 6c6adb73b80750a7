// launch_local_workers: a small torchrun for one machine. It starts the workers with the
// rendezvous environment, prefixes their output with the rank, and stops them together.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <optional>

#include "dualclip/core/error.h"
#include "dualclip/dist/distributed.h"

extern char** environ;

namespace dualclip::dist {

namespace {

using Clock = std::chrono::steady_clock;

// ---- setup ----

std::vector<std::string> without_nproc_option(const std::vector<std::string>& argv) {
  std::vector<std::string> kept;
  for (size_t i = 0; i < argv.size(); ++i) {
    if (argv[i] == "--nproc_per_node") {
      i += 1;  // skip its value as well
      continue;
    }
    if (argv[i].rfind("--nproc_per_node=", 0) == 0) continue;
    kept.push_back(argv[i]);
  }
  return kept;
}

int free_local_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error(std::string("could not open a socket to pick a port: ") + std::strerror(errno));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof(address);
  const bool ok = bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
                  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
  close(fd);
  if (!ok) throw std::runtime_error(std::string("could not pick a free port on 127.0.0.1: ") + std::strerror(errno));
  return ntohs(address.sin_port);
}

int env_int(const char* name, int fallback) {
  const char* text = std::getenv(name);
  if (!text || !*text) return fallback;
  char* end = nullptr;
  const long value = std::strtol(text, &end, 10);
  if (*end != '\0' || value < 0) throw Error(std::string("environment variable ") + name + "='" + text + "' is not a non-negative integer");
  return static_cast<int>(value);
}

// Where the workers meet, and which global ranks this machine runs.
struct Layout {
  int nodes = 1;
  int node_rank = 0;
  std::string master_addr = "127.0.0.1";
  int master_port = 0;
};

Layout read_layout(int nproc, int master_port) {
  Layout layout;
  layout.nodes = env_int("NNODES", 1);
  layout.node_rank = env_int("NODE_RANK", 0);
  if (layout.nodes < 1 || layout.node_rank >= layout.nodes) {
    throw Error("NODE_RANK=" + std::to_string(layout.node_rank) + " must be below NNODES=" + std::to_string(layout.nodes));
  }
  if (layout.nodes == 1) {
    layout.master_port = master_port > 0 ? master_port : free_local_port();
    return layout;
  }

  // Several machines: every node must name node 0's address and one agreed port.
  const char* address = std::getenv("MASTER_ADDR");
  if (!address || !*address) throw Error("NNODES > 1 needs MASTER_ADDR, the address of node 0, on every node");
  layout.master_addr = address;
  layout.master_port = master_port > 0 ? master_port : env_int("MASTER_PORT", 0);
  if (layout.master_port == 0) throw Error("NNODES > 1 needs MASTER_PORT (or --master_port), the same on every node");
  return layout;
}

// The environment of one worker: ours, with the rendezvous variables replaced.
std::vector<std::string> worker_environment(const Layout& layout, int nproc, int local_rank) {
  const std::vector<std::pair<std::string, std::string>> overrides = {
      {"RANK", std::to_string(layout.node_rank * nproc + local_rank)},
      {"LOCAL_RANK", std::to_string(local_rank)},
      {"WORLD_SIZE", std::to_string(layout.nodes * nproc)},
      {"LOCAL_WORLD_SIZE", std::to_string(nproc)},
      {"MASTER_ADDR", layout.master_addr},
      {"MASTER_PORT", std::to_string(layout.master_port)},
  };
  std::vector<std::string> entries;
  for (char** entry = environ; *entry; ++entry) {
    const std::string text = *entry;
    const std::string name = text.substr(0, text.find('='));
    const bool replaced = std::any_of(overrides.begin(), overrides.end(), [&](const auto& o) { return o.first == name; });
    if (!replaced) entries.push_back(text);
  }
  for (const auto& [name, value] : overrides) entries.push_back(name + "=" + value);

  // Without this each worker's OpenMP pool would claim every core of the machine.
  if (!std::getenv("OMP_NUM_THREADS")) {
    const long cores = sysconf(_SC_NPROCESSORS_ONLN);
    entries.push_back("OMP_NUM_THREADS=" + std::to_string(std::max(1L, cores / nproc)));
  }
  return entries;
}

// ---- one worker ----

struct Worker {
  int rank = 0;
  pid_t pid = -1;
  int fds[2] = {-1, -1};         // read ends of the child's stdout and stderr pipes
  std::string pending[2];        // partial lines
  std::optional<int> exit_code;  // set once reaped; 128 + signal for a signal
};

std::vector<char*> as_pointers(std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  for (auto& s : strings) pointers.push_back(s.data());
  pointers.push_back(nullptr);
  return pointers;
}

// Forks and execs /proc/self/exe. The child only calls async-signal-safe functions, because
// the parent may have other threads (libtorch's pools) whose locks fork() copies.
void start_worker(Worker& worker, std::vector<std::string> args, std::vector<std::string> env) {
  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) {
    throw std::runtime_error(std::string("could not create pipes for a worker: ") + std::strerror(errno));
  }
  auto argv = as_pointers(args);
  auto envp = as_pointers(env);
  const pid_t parent = getpid();

  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error(std::string("fork failed: ") + std::strerror(errno));
  if (pid == 0) {
    // Own process group: a Ctrl-C in the terminal reaches only the launcher, which forwards it
    // once. The death signal stops the worker if the launcher itself is killed.
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(128 + SIGTERM);
    const int null_fd = open("/dev/null", O_RDONLY);
    if (null_fd >= 0) dup2(null_fd, STDIN_FILENO);
    dup2(out[1], STDOUT_FILENO);
    dup2(err[1], STDERR_FILENO);
    execve("/proc/self/exe", argv.data(), envp.data());
    const char message[] = "error: could not exec /proc/self/exe\n";
    (void)!write(STDERR_FILENO, message, sizeof(message) - 1);
    _exit(127);
  }

  close(out[1]);
  close(err[1]);
  worker.pid = pid;
  worker.fds[0] = out[0];
  worker.fds[1] = err[0];
}

void write_all(int fd, const std::string& text) {
  size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    written += static_cast<size_t>(n);
  }
}

// Writes each complete line with the rank prefix; dualclip's own log already prefixes
// warnings of ranks above 0, and such lines are not prefixed twice.
void forward_lines(Worker& worker, int stream, bool flush_partial) {
  std::string& pending = worker.pending[stream];
  const std::string prefix = "[rank " + std::to_string(worker.rank) + "] ";
  std::string output;
  size_t start = 0;
  for (size_t end; (end = pending.find('\n', start)) != std::string::npos; start = end + 1) {
    const std::string line = pending.substr(start, end + 1 - start);
    output += (line.rfind(prefix, 0) == 0 ? "" : prefix) + line;
  }
  pending.erase(0, start);
  if (flush_partial && !pending.empty()) {
    output += prefix + pending + "\n";
    pending.clear();
  }
  if (!output.empty()) write_all(stream == 0 ? STDOUT_FILENO : STDERR_FILENO, output);
}

void launcher_message(const std::string& text) { write_all(STDERR_FILENO, "[launcher] " + text + "\n"); }

// ---- signals ----

volatile std::sig_atomic_t g_signal_count = 0;
volatile std::sig_atomic_t g_last_signal = 0;

void on_signal(int signal_number) {
  g_signal_count = g_signal_count + 1;
  g_last_signal = signal_number;
}

// Installs the forwarding handlers for the launcher's lifetime and restores the old ones.
class SignalForwarding {
 public:
  SignalForwarding() {
    g_signal_count = 0;
    struct sigaction action {};
    action.sa_handler = on_signal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, &old_int_);
    sigaction(SIGTERM, &action, &old_term_);
  }
  ~SignalForwarding() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }

 private:
  struct sigaction old_int_ {};
  struct sigaction old_term_ {};
};

void signal_running(std::vector<Worker>& workers, int signal_number) {
  for (auto& worker : workers) {
    if (!worker.exit_code) kill(worker.pid, signal_number);
  }
}

std::string describe_exit(int status) {
  if (WIFSIGNALED(status)) return "was killed by signal " + std::to_string(WTERMSIG(status)) + " (" + strsignal(WTERMSIG(status)) + ")";
  return "exited with code " + std::to_string(WEXITSTATUS(status));
}

// ---- the supervision loop ----

class Supervisor {
 public:
  Supervisor(std::vector<Worker>& workers, std::chrono::seconds kill_grace) : workers_(workers), kill_grace_(kill_grace) {}

  int run() {
    while (!done()) {
      poll_output(100);
      reap_exited();
      handle_signals();
      enforce_deadline();
    }
    if (first_failure_) return *first_failure_;
    return interrupted_code_.value_or(0);
  }

 private:
  bool done() const {
    const bool all_exited = std::all_of(workers_.begin(), workers_.end(), [](const Worker& w) { return w.exit_code.has_value(); });
    const bool all_closed = std::all_of(workers_.begin(), workers_.end(), [](const Worker& w) { return w.fds[0] < 0 && w.fds[1] < 0; });
    // A worker's own children may keep its pipes open; give them a moment, not forever.
    if (all_exited && !all_exited_at_) all_exited_at_ = Clock::now();
    return all_exited && (all_closed || Clock::now() - *all_exited_at_ > std::chrono::seconds(2));
  }

  void poll_output(int timeout_ms) {
    std::vector<pollfd> fds;
    std::vector<std::pair<size_t, int>> owners;
    for (size_t w = 0; w < workers_.size(); ++w) {
      for (int stream = 0; stream < 2; ++stream) {
        if (workers_[w].fds[stream] < 0) continue;
        fds.push_back(pollfd{workers_[w].fds[stream], POLLIN, 0});
        owners.emplace_back(w, stream);
      }
    }
    if (fds.empty()) {
      usleep(static_cast<useconds_t>(timeout_ms) * 1000);
      return;
    }
    if (poll(fds.data(), fds.size(), timeout_ms) <= 0) return;  // timeout or EINTR from a signal

    char buffer[65536];
    for (size_t i = 0; i < fds.size(); ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      Worker& worker = workers_[owners[i].first];
      const int stream = owners[i].second;
      const ssize_t n = read(fds[i].fd, buffer, sizeof(buffer));
      if (n > 0) {
        worker.pending[stream].append(buffer, static_cast<size_t>(n));
        forward_lines(worker, stream, false);
      } else if (n == 0 || errno != EINTR) {
        forward_lines(worker, stream, true);
        close(fds[i].fd);
        worker.fds[stream] = -1;
      }
    }
  }

  void reap_exited() {
    for (auto& worker : workers_) {
      if (worker.exit_code) continue;
      int status = 0;
      if (waitpid(worker.pid, &status, WNOHANG) != worker.pid) continue;
      worker.exit_code = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
      if (*worker.exit_code == 0 || first_failure_ || stopping_) continue;

      // The first failure stops the rest: SIGTERM lets them save a checkpoint and exit.
      first_failure_ = *worker.exit_code;
      launcher_message("rank " + std::to_string(worker.rank) + " " + describe_exit(status) +
                       "; stopping the other workers");
      stop_all(SIGTERM);
    }
  }

  void handle_signals() {
    if (g_signal_count == handled_signals_) return;
    handled_signals_ = g_signal_count;
    const int signal_number = g_last_signal;
    if (!interrupted_code_) {
      interrupted_code_ = 128 + signal_number;
      launcher_message(std::string("received ") + strsignal(signal_number) + "; forwarding it to the workers (send it again to kill them)");
      stop_all(signal_number);
      return;
    }
    launcher_message("received a second signal; killing the workers");
    signal_running(workers_, SIGKILL);
  }

  void stop_all(int signal_number) {
    stopping_ = true;
    signal_running(workers_, signal_number);
    if (!deadline_) deadline_ = Clock::now() + kill_grace_;
  }

  // A worker that a signal did not stop within the grace period gets SIGKILL. A forwarded
  // SIGINT/SIGTERM waits without limit, since the workers may be saving a checkpoint; only a
  // failure of another worker sets a deadline.
  void enforce_deadline() {
    if (!deadline_ || !first_failure_ || Clock::now() < *deadline_) return;
    for (auto& worker : workers_) {
      if (worker.exit_code) continue;
      launcher_message("rank " + std::to_string(worker.rank) + " did not stop within " +
                       std::to_string(kill_grace_.count()) + " s; killing it");
      kill(worker.pid, SIGKILL);
    }
    deadline_.reset();
  }

  std::vector<Worker>& workers_;
  std::chrono::seconds kill_grace_;
  std::optional<int> first_failure_;
  std::optional<int> interrupted_code_;
  std::optional<Clock::time_point> deadline_;
  mutable std::optional<Clock::time_point> all_exited_at_;
  std::sig_atomic_t handled_signals_ = 0;
  bool stopping_ = false;
};

}  // namespace

int launch_local_workers(int nproc, const std::vector<std::string>& argv, int master_port, std::chrono::seconds kill_grace) {
  if (nproc < 1) throw Error("--nproc_per_node must be at least 1, got " + std::to_string(nproc));
  const Layout layout = read_layout(nproc, master_port);

  std::vector<std::string> args = without_nproc_option(argv);
  args.insert(args.begin(), "/proc/self/exe");

  // Handlers go in before the first fork, so that no signal is lost in between.
  SignalForwarding forwarding;
  std::vector<Worker> workers(static_cast<size_t>(nproc));
  for (int local_rank = 0; local_rank < nproc; ++local_rank) {
    workers[local_rank].rank = layout.node_rank * nproc + local_rank;
    try {
      start_worker(workers[local_rank], args, worker_environment(layout, nproc, local_rank));
    } catch (const std::exception&) {
      // The workers already started would wait for the missing one until the timeout.
      for (int started = 0; started < local_rank; ++started) kill(workers[started].pid, SIGKILL);
      for (int started = 0; started < local_rank; ++started) waitpid(workers[started].pid, nullptr, 0);
      throw;
    }
  }
  launcher_message("started " + std::to_string(nproc) + " workers (ranks " + std::to_string(workers.front().rank) + "-" +
                   std::to_string(workers.back().rank) + " of " + std::to_string(layout.nodes * nproc) + "), rendezvous at " +
                   layout.master_addr + ":" + std::to_string(layout.master_port));

  Supervisor supervisor(workers, kill_grace);
  return supervisor.run();
}

}  // namespace dualclip::dist
