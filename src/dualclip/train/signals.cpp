#include "dualclip/train/signals.h"

#include <csignal>

namespace dualclip::train {

namespace {

volatile std::sig_atomic_t g_stop_signal = 0;
struct sigaction g_previous_term;
struct sigaction g_previous_int;

void record_signal(int signal_number) { g_stop_signal = signal_number; }

}  // namespace

StopSignalScope::StopSignalScope() {
  g_stop_signal = 0;
  struct sigaction action {};
  action.sa_handler = record_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGTERM, &action, &g_previous_term);
  sigaction(SIGINT, &action, &g_previous_int);
}

StopSignalScope::~StopSignalScope() {
  sigaction(SIGTERM, &g_previous_term, nullptr);
  sigaction(SIGINT, &g_previous_int, nullptr);
}

bool stop_requested() { return g_stop_signal != 0; }
int stop_signal() { return g_stop_signal; }

}  // namespace dualclip::train
