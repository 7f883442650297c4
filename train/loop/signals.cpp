// SIGINT/SIGTERM/SIGUSR1 handling: async-signal-safe flag, immediate exit on the second signal.
#include <tapelm/train/loop/signals.h>

#include <signal.h>
#include <unistd.h>

#include <csignal>
#include <cstddef>
#include <stdexcept>

namespace tapelm {
namespace {

volatile std::sig_atomic_t g_received = 0;
volatile std::sig_atomic_t g_deferred = 0;  // 0 during setup: any signal exits
bool g_installed = false;
struct sigaction g_previous_int, g_previous_term, g_previous_usr1;

// Only async-signal-safe calls here: write(2) and _exit(2).
[[noreturn]] void exit_now(int signal, const char* message, size_t length) {
  const ssize_t ignored = ::write(STDERR_FILENO, message, length);
  (void)ignored;
  ::_exit(128 + signal);
}

void on_stop_signal(int signal) {
  if (g_deferred == 0) {
    static const char message[] = "\ntapelm: interrupted during setup; nothing to save, exiting\n";
    exit_now(signal, message, sizeof message - 1);
  }
  if (g_received != 0) {
    static const char message[] = "\ntapelm: second signal, exiting immediately\n";
    exit_now(signal, message, sizeof message - 1);
  }
  g_received = signal;
}

}  // namespace

StopSignals::StopSignals() {
  if (g_installed) throw std::logic_error("StopSignals: already installed");
  g_received = 0;
  g_deferred = 0;
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  // Each handler runs with both signals blocked, so two arriving together are seen in turn.
  sigemptyset(&action.sa_mask);
  sigaddset(&action.sa_mask, SIGINT);
  sigaddset(&action.sa_mask, SIGTERM);
  sigaddset(&action.sa_mask, SIGUSR1);
  action.sa_flags = SA_RESTART;  // file writes in progress continue rather than fail with EINTR
  sigaction(SIGINT, &action, &g_previous_int);
  sigaction(SIGTERM, &action, &g_previous_term);
  sigaction(SIGUSR1, &action, &g_previous_usr1);
  g_installed = true;
}

StopSignals::~StopSignals() {
  sigaction(SIGINT, &g_previous_int, nullptr);
  sigaction(SIGTERM, &g_previous_term, nullptr);
  sigaction(SIGUSR1, &g_previous_usr1, nullptr);
  g_installed = false;
}

void StopSignals::defer() { g_deferred = 1; }

int StopSignals::received() { return g_received; }

const char* signal_name(int signal) {
  switch (signal) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    case SIGUSR1: return "SIGUSR1";
    default: return "a signal";
  }
}

}  // namespace tapelm
