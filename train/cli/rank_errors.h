// Running a command on every rank of an MPI job, and ending the job when one rank fails: an
// error on one rank would otherwise leave the others waiting in a collective forever.
#pragma once

#include <functional>

#include <tapelm/train/loop/distributed.h>

namespace tapelm {

// Runs `command` on this rank and returns its exit code. A world of one runs it plainly (an
// error propagates to the caller). Under mpirun, an error on any rank is printed as
// "tapelm: error: [rank N: ]<message>" and the whole job ends (Distributed::abort) with the
// exit code the error deserves: 2 for InputError (bad config, data, checkpoint), 1
// otherwise. Files written atomically stay intact (the last checkpoint, --output). A
// TrainingDiverged, which every rank meets at the same step, is printed by rank 0 alone.
int run_on_every_rank(const Distributed& dist, const std::function<int()>& command);

}  // namespace tapelm
