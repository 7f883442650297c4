// SIGINT/SIGTERM/SIGUSR1: one watcher thread takes them with sigwait and records, exits or
// re-raises, as StopSignals' state says.
#include <tapelm/train/loop/signals.h>

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <stdexcept>
#include <thread>

namespace tapelm {
namespace {

std::atomic<int> g_received{0};
std::atomic<bool> g_armed{false};     // a StopSignals lives
std::atomic<bool> g_deferred{false};  // false during setup: any signal exits
std::atomic<bool> g_routed{false};

sigset_t stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGUSR1);
  return set;
}

[[noreturn]] void exit_now(int signal, const char* message) {
  const ssize_t ignored = ::write(STDERR_FILENO, message, std::strlen(message));
  (void)ignored;
  ::_exit(128 + signal);
}

// The default action of `signal` (termination), taken on this thread, the only one where it
// is unblocked.
[[noreturn]] void die_by(int signal) {
  ::signal(signal, SIG_DFL);
  sigset_t one;
  sigemptyset(&one);
  sigaddset(&one, signal);
  pthread_sigmask(SIG_UNBLOCK, &one, nullptr);
  ::raise(signal);
  ::_exit(128 + signal);  // SIGINT with a handler installed behind our back, say
}

void watch(sigset_t set) {
  for (;;) {
    int signal = 0;
    if (sigwait(&set, &signal) != 0) continue;
    if (!g_armed.load()) die_by(signal);
    if (!g_deferred.load()) exit_now(signal, "\ntapelm: interrupted during setup; nothing to save, exiting\n");
    int none = 0;
    if (!g_received.compare_exchange_strong(none, signal)) {
      exit_now(signal, "\ntapelm: second signal, exiting immediately\n");
    }
  }
}

}  // namespace

void route_stop_signals_to_watcher() {
  if (g_routed.exchange(true)) return;
  const sigset_t set = stop_signals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::thread(watch, set).detach();
}

StopSignals::StopSignals() {
  if (g_armed.exchange(true)) throw std::logic_error("StopSignals: already installed");
  g_received = 0;
  g_deferred = false;
}

StopSignals::~StopSignals() { g_armed = false; }

void StopSignals::defer() { g_deferred = true; }

int StopSignals::received() { return g_received.load(); }

const char* signal_name(int signal) {
  switch (signal) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    case SIGUSR1: return "SIGUSR1";
    default: return "a signal";
  }
}

}  // namespace tapelm
