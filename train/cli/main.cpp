// tapelm command-line entry point; the command line itself lives in train/cli/cli.cpp.
#include <tapelm/autograd/wait_policy.h>
#include <tapelm/train/cli/cli.h>
#include <tapelm/train/loop/signals.h>

int main(int argc, char** argv) {
  // Idle OpenMP threads spinning made multi-threaded training far slower (see
  // docs/performance.md); a policy the user set wins.
  tapelm::reexec_with_passive_wait_policy("/proc/self/exe", argv);
  tapelm::route_stop_signals_to_watcher();
  return tapelm::run_cli(argc, argv);
}
