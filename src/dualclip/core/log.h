// Logging for users following a run: progress, throughput, where files went. In a
// multi-process run only rank 0 prints info lines; warnings and errors from any rank print
// with a "[rank N]" prefix.
#pragma once

#include <string>

namespace dualclip::log {

// Sets the rank and world size used to decide who prints (default 0 of 1).
void set_rank(int rank, int world_size);
int rank();
int world_size();

void info(const std::string& message);
void warn(const std::string& message);
void error(const std::string& message);

}  // namespace dualclip::log
