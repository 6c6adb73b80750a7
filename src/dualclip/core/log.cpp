#include "dualclip/core/log.h"

#include <iostream>
#include <mutex>

namespace dualclip::log {

namespace {
int g_rank = 0;
int g_world_size = 1;
std::mutex g_mutex;

std::string prefix() {
  return g_world_size > 1 ? "[rank " + std::to_string(g_rank) + "] " : "";
}
}  // namespace

void set_rank(int rank, int world_size) {
  g_rank = rank;
  g_world_size = world_size;
}

int rank() { return g_rank; }
int world_size() { return g_world_size; }

void info(const std::string& message) {
  if (g_rank != 0) return;
  std::lock_guard<std::mutex> lock(g_mutex);
  std::cerr << message << std::endl;
}

void warn(const std::string& message) {
  std::lock_guard<std::mutex> lock(g_mutex);
  std::cerr << prefix() << "warning: " << message << std::endl;
}

void error(const std::string& message) {
  std::lock_guard<std::mutex> lock(g_mutex);
  std::cerr << prefix() << "error: " << message << std::endl;
}

}  // namespace dualclip::log
