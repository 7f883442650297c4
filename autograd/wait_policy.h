// The OpenMP wait policy the binaries start under. libgomp's default lets idle threads
// spin at barriers and between parallel regions; on a machine whose cores are shared
// (and in this project's kernels, which run many short parallel regions) that spinning made
// 2-thread training several times slower than 1 thread. libgomp reads OMP_WAIT_POLICY once,
// when it is loaded, so setting it inside main() is too late: the process has to start
// again with it in its environment.
#pragma once

namespace tapelm {

// libgomp's spin count under the passive policy (which otherwise sleeps at once): about
// 10 µs of spinning before a thread sleeps. On an idle machine the next of a step's many
// short parallel regions then mostly finds its threads still awake (300 g2p fine-tuning
// steps plus the beam-search test decode: 221 s -> 162 s), while on a loaded one a waiting
// thread burns at most those 10 µs per region, not the ~3 ms of libgomp's default.
inline constexpr const char* kSpinCount = "1000";

// If OMP_WAIT_POLICY is unset: sets it to PASSIVE (and GOMP_SPINCOUNT to kSpinCount unless
// the user set it) and replaces the process with
// `exe argv...` (main passes "/proc/self/exe" and its own argv), so the new image loads
// libgomp with the passive policy. A value the user set, even an empty one, is left alone,
// and the re-executed process finds the variable set, so this execs at most once. Call it
// first thing in main, before any OpenMP region or MPI_Init. If exec fails the function
// returns and the program carries on under the default policy.
void reexec_with_passive_wait_policy(const char* exe, char** argv);

}  // namespace tapelm
