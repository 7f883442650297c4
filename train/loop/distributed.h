// Distributed: the process group for data-parallel training with MPI. Every rank holds a full
// replica of the model, computes gradients on its own share of each global batch, and
// average_gradients() makes all replicas' gradients identical (bit for bit), so identical
// optimizer steps keep the replicas identical without ever sending parameters again.
//
// A process started by mpirun (or srun with PMIx) joins the MPI job; a plain `tapelm ...`
// run is a world of one and never touches MPI (no MPI_Init cost). Builds without MPI
// (TAPELM_MPI=OFF) have only the world of one, and refuse to run under mpirun.
//
// Failure: every collective is blocking, so a rank that stops calling them would leave the
// others waiting forever. Errors inside MPI are fatal (MPI_ERRORS_ARE_FATAL: mpirun kills the
// whole job); a rank that dies, or exits without MPI_Finalize, makes mpirun kill the others.
// So an exception that unwinds through a Distributed's destructor skips MPI_Finalize (which
// would wait for the other ranks forever): the process exits after the caller has reported
// the error, and mpirun ends the job. A caller that catches an error while the Distributed
// lives on, and other ranks may be inside a collective, must call abort(code).
//
// Every collective must be called by all ranks in the same order with the same arguments'
// shapes; mismatches the ranks can detect (parameter layout, state lengths) throw the same
// std::runtime_error on every rank.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <tapelm/nn/module.h>

namespace tapelm {

class Distributed;

// Starts this process's OpenMP threads (use_threads in train/config/builders.h) and returns the
// count: `configured` (train.threads), or, when it is 0 (all cores) under mpirun, the share of
// the machine's cores that keeps ranks x threads within them. `dist` may be null.
int start_threads(int64_t configured, const Distributed* dist);

// Divides every gradient present in `params` by `divisor`, in place.
void divide_gradients(const NamedParameters& params, double divisor);

class Distributed {
 public:
  // Joins the MPI job when launched by mpirun/srun (MPI_Init_thread with
  // MPI_THREAD_FUNNELED: only the main thread calls MPI, OpenMP threads never do). Throws
  // std::runtime_error when launched by mpirun but built without MPI, or when MPI was
  // already finalised in this process. Under MPI the constructor is collective (every rank
  // must construct). Instances may coexist: the first initialises MPI, the last one
  // destroyed finalises it, after which MPI cannot start again in this process.
  Distributed();
  ~Distributed();
  Distributed(const Distributed&) = delete;
  Distributed& operator=(const Distributed&) = delete;

  int rank() const { return rank_; }
  int world_size() const { return world_size_; }
  bool is_root() const { return rank_ == 0; }
  // Ranks on this machine (sharing memory) and this rank's index among them.
  int local_rank() const { return local_rank_; }
  int local_size() const { return local_size_; }
  // Whether this process is part of an MPI job (false for a plain single-process run).
  bool uses_mpi() const { return mpi_; }

  // Copies every parameter value from rank 0 to all ranks (through fused buckets). First
  // checks that all ranks have the same parameter names, shapes and requires_grad flags.
  void broadcast_parameters(const NamedParameters& params) const;

  // Replaces each trainable parameter's gradient by its mean over the ranks: gradients are
  // packed into fused buckets of bucket_bytes, summed in place with MPI_Allreduce and
  // divided by world_size. A rank without a gradient for a parameter contributes zeros; a
  // parameter no rank has a gradient for keeps none (so the optimizer skips it, exactly as
  // in a single process). Afterwards every rank holds the same bits, so grad_norm,
  // clipping and the optimizer step agree across ranks without further communication.
  // No-op for a world of one.
  void average_gradients(const NamedParameters& params) const;
  // Replaces each trainable parameter's gradient by its sum over the ranks divided by
  // `divisor` (for a world of one: divided in place), with the same rules and the same bits
  // on every rank as average_gradients: the training loop sums weighted micro-batch losses
  // and divides by the global batch's total weight.
  void sum_gradients(const NamedParameters& params, double divisor) const;

  // True when every rank's parameter values are bitwise equal to rank 0's (a hash compare;
  // for sanity checks, e.g. after a resume or at checkpoints). Same answer on every rank.
  bool parameters_in_sync(const NamedParameters& params) const;

  // Element-wise sum over the ranks, in place, the same result on every rank: for a few
  // scalars such as loss sums, token counts and non-finite flags.
  void all_reduce_sum(std::vector<double>& values) const;
  double all_reduce_sum(double value) const;

  // Rank 0 receives every rank's bytes (index = rank; lengths may differ, e.g. the prediction
  // lines of each rank's share of the inputs); the others get an empty vector. Throws on
  // every rank when all ranks' bytes together exceed one MPI message (2^31 - 1 bytes).
  std::vector<std::string> gather_bytes(const std::string& local) const;

  // Rank 0's text on every rank (e.g. the checkpoint path rank 0 chose to resume from).
  void broadcast(std::string& text) const;

  void barrier() const;
  // Ends every rank of the job with exit status `code` (MPI_Abort); a plain exit otherwise.
  [[noreturn]] void abort(int code) const;

  // OpenMP threads for this rank. 0 (automatic) picks as many as keep ranks × threads
  // within the machine's logical CPUs — hardware_concurrency / local_size — and within the
  // CPUs this process is bound to (mpirun binds each rank to one core by default; see
  // docs/distributed.md). A positive request is returned as given (the caller may warn
  // when request × local_size() exceeds the CPUs). Negative requests throw.
  int threads_per_rank(int requested) const;

  // Fused-buffer size for broadcast_parameters and average_gradients.
  static constexpr std::size_t bucket_bytes = 4u << 20;

 private:
  // How many ranks passed a `value` different from rank 0's (the same count on every rank).
  int ranks_differing_from_root(uint64_t value) const;

  bool mpi_ = false;
  int rank_ = 0;
  int world_size_ = 1;
  int local_rank_ = 0;
  int local_size_ = 1;
  mutable std::vector<float> bucket_;  // reused across steps: no allocation per step
};

}  // namespace tapelm
