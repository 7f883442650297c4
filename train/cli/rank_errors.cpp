// Error handling for commands run by every rank of an MPI job.
#include <tapelm/train/cli/rank_errors.h>

#include <algorithm>
#include <iostream>
#include <string>

#include <tapelm/train/cli/cli.h>
#include <tapelm/train/config/errors.h>
#include <tapelm/train/loop/training_loop.h>

namespace tapelm {
namespace {

// "tapelm: error: <message>" on one line, naming the rank unless it is rank 0. Written with one
// call: std::cerr is unbuffered, so each << would be a write of its own, and mpirun's abort
// banner, forwarded from another process, could land between them.
void print_rank_error(const Distributed& dist, std::string message) {
  std::replace(message.begin(), message.end(), '\n', ' ');
  const std::string line =
      "tapelm: error: " + (dist.is_root() ? "" : "rank " + std::to_string(dist.rank()) + ": ") + message + "\n";
  std::cerr.write(line.data(), std::streamsize(line.size()));
  std::cerr.flush();
}

}  // namespace

int run_on_every_rank(const Distributed& dist, const std::function<int()>& command) {
  if (dist.world_size() == 1) return command();
  int code = kExitFailure;
  try {
    return command();
  } catch (const TrainingDiverged& e) {
    // Every rank sees the same averaged gradients, so all diverge at the same step: rank 0
    // reports, and no rank aborts the job before it has.
    if (dist.is_root()) print_rank_error(dist, e.what());
    dist.barrier();
  } catch (const InputError& e) {
    code = kExitBadInput;
    print_rank_error(dist, e.what());
  } catch (const std::exception& e) {
    print_rank_error(dist, e.what());
  }
  dist.abort(code);
}

}  // namespace tapelm
