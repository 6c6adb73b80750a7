// Starting and watching the dist_test_worker processes for the dist tests: each process
// writes stdout and stderr to its own log file, and every wait has a deadline.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

extern char** environ;

namespace dualclip::testing {

using EnvOverrides = std::vector<std::pair<std::string, std::string>>;

struct Process {
  pid_t pid = -1;
  std::filesystem::path log;
};

struct Finished {
  int exit_code = -1;  // 128 + signal when killed by a signal
  bool timed_out = false;
  double seconds = 0.0;
  std::string output;
};

inline std::string read_text(const std::filesystem::path& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

// A port that was free a moment ago on 127.0.0.1.
inline int free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  close(fd);
  return ntohs(address.sin_port);
}

// Starts dist_test_worker with `args`, the test's environment plus `env`, output to `log`.
// posix_spawn, because fork() in the multi-threaded test program is unsafe.
inline Process spawn_worker(const std::vector<std::string>& args, const EnvOverrides& env, const std::filesystem::path& log) {
  std::vector<std::string> argv_strings{DUALCLIP_DIST_WORKER};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<std::string> env_strings;
  for (char** entry = environ; *entry; ++entry) {
    const std::string text = *entry;
    const std::string name = text.substr(0, text.find('='));
    bool replaced = false;
    for (const auto& [key, value] : env) replaced = replaced || key == name;
    if (!replaced) env_strings.push_back(text);
  }
  for (const auto& [key, value] : env) env_strings.push_back(key + "=" + value);

  std::vector<char*> argv, envp;
  for (auto& s : argv_strings) argv.push_back(s.data());
  argv.push_back(nullptr);
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  Process process;
  process.log = log;
  const int rc = posix_spawn(&process.pid, argv[0], &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) process.pid = -1;
  return process;
}

// Waits up to `timeout_seconds` for the process, then kills it (timed_out = true).
inline Finished wait_worker(const Process& process, double timeout_seconds) {
  Finished finished;
  const auto start = std::chrono::steady_clock::now();
  int status = 0;
  while (true) {
    if (waitpid(process.pid, &status, WNOHANG) == process.pid) break;
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (elapsed > timeout_seconds) {
      finished.timed_out = true;
      kill(process.pid, SIGKILL);
      waitpid(process.pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  finished.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  finished.exit_code = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
  finished.output = read_text(process.log);
  return finished;
}

// The rendezvous environment of one rank, as torchrun sets it.
inline EnvOverrides rank_environment(int rank, int world_size, int port) {
  return {{"RANK", std::to_string(rank)},           {"LOCAL_RANK", std::to_string(rank)},
          {"WORLD_SIZE", std::to_string(world_size)}, {"MASTER_ADDR", "127.0.0.1"},
          {"MASTER_PORT", std::to_string(port)}};
}

}  // namespace dualclip::testing
