// SIGTERM (a pre-empted job) and SIGINT (Ctrl-C) during training: the handler only records
// the request, and the loop saves a checkpoint at the current step and stops.
#pragma once

namespace dualclip::train {

// Installs the handlers while alive and restores the previous ones afterwards.
class StopSignalScope {
 public:
  StopSignalScope();
  ~StopSignalScope();
  StopSignalScope(const StopSignalScope&) = delete;
  StopSignalScope& operator=(const StopSignalScope&) = delete;
};

// True once SIGTERM or SIGINT arrived; the number of the signal, 0 if none.
bool stop_requested();
int stop_signal();

}  // namespace dualclip::train
