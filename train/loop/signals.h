// Graceful interruption: while a StopSignals object lives, a SIGINT, SIGTERM or SIGUSR1
// during setup (data preparation, model building, loading: nothing to save yet, and every
// out_dir write is atomic) ends the process at once with status 128 + signal. Once training
// has started (defer()), the first signal only sets a flag (the trainer polls it after each
// step, writes a checkpoint and returns); a second one ends the process at once, which loses
// nothing because checkpoints are written atomically. SIGUSR1 is the one mpirun forwards to every rank
// without killing the job soon after (docs/distributed.md).
#pragma once

namespace tapelm {

class StopSignals {
 public:
  // Installs the handlers (the flag starts cleared); only one instance may exist at a time.
  StopSignals();
  // Restores the handlers that were installed before.
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
