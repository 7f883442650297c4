// Graceful interruption: while a StopSignals object lives, a SIGINT, SIGTERM or SIGUSR1
// during setup (data preparation, model building, loading: nothing to save yet, and every
// out_dir write is atomic) ends the process at once with status 128 + signal. Once training
// has started (defer()), the first signal only sets a flag (the trainer polls it after each
// step, writes a checkpoint and returns); a second one ends the process at once, which loses
// nothing because checkpoints are written atomically. SIGUSR1 is the one mpirun forwards to every rank
// without killing the job soon after (docs/distributed.md).
//
// The signals are taken by one watcher thread (sigwait), never by a handler: oneDNN 2.x's JIT
// GEMM kernels point the stack pointer into a heap workspace while they run, so a handler that
// interrupted one wrote its frame into the heap and corrupted it (oneDNN issue #4845; Debian
// 12 ships 2.6). Blocking the signals around each oneDNN call instead cost 2 µs of system
// calls per call, 15-25% of a tiny model's step.
#pragma once

namespace tapelm {

// Blocks SIGINT, SIGTERM and SIGUSR1 in the calling thread, so in every thread it creates
// later (call it first in main(), before any thread exists), and starts the watcher thread
// that takes them. Without a live StopSignals, the watcher ends the process by the signal as
// its default action would. Calling it again does nothing.
void route_stop_signals_to_watcher();

class StopSignals {
 public:
  // Arms the watcher's graceful stop (the flag starts cleared); only one instance may exist at
  // a time. Without route_stop_signals_to_watcher() the signals keep their default action.
  StopSignals();
  // Back to the default action.
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  // From now on the first signal is only recorded, for the trainer to stop after its step.
  static void defer();
  // The signal received (SIGINT, SIGTERM or SIGUSR1), or 0 if none.
  static int received();
};

// "SIGINT", "SIGTERM", "SIGUSR1", or "a signal" for others.
const char* signal_name(int signal);

}  // namespace tapelm
