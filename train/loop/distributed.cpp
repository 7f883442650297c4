// The MPI process group. All logic (bucketing, layout checks, validation, thread budget) is
// shared; only the transport calls are MPI-specific, and without TAPELM_HAVE_MPI (or in a
// plain single-process run) every collective reduces to the world-of-one identity.
#include <tapelm/train/loop/distributed.h>

#include <tapelm/train/config/builders.h>

#ifdef TAPELM_HAVE_MPI
#include <mpi.h>
#endif
#include <sched.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <stdexcept>
#include <string>
#include <thread>

#include <tapelm/data/hash.h>

namespace tapelm {
namespace {

// Open MPI's mpirun sets OMPI_COMM_WORLD_SIZE in every process it starts; srun with PMIx
// (Slurm) sets PMIX_RANK. Neither is set for a plain run, which then skips MPI entirely.
bool launched_by_mpi() { return std::getenv("OMPI_COMM_WORLD_SIZE") || std::getenv("PMIX_RANK"); }

#ifdef TAPELM_HAVE_MPI
// Instances in this process that joined the MPI job; the last one to go finalises MPI if
// one of them initialised it.
int live_instances = 0;
bool initialized_here = false;
#endif

// CPUs this process may run on (mpirun's binding narrows it); hardware_concurrency if unknown.
int bound_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

struct Piece {
  std::size_t index;  // which tensor
  int64_t offset;     // first element of the tensor in this piece
  int64_t count;
  int64_t at;         // position in the bucket
};

// Streams the concatenation of tensors with `sizes` elements through `bucket`: for each
// bucketful, pack(index, offset, dst, count) fills the pieces, exchange(bucket, used) runs
// the collective, unpack(index, offset, src, count) reads the results back. A tensor larger
// than the bucket spans several bucketfuls. The layout depends only on `sizes`, so ranks
// with equal sizes make the same calls.
template <class Pack, class Exchange, class Unpack>
void stream_through_bucket(const std::vector<int64_t>& sizes, std::vector<float>& bucket, Pack&& pack,
                           Exchange&& exchange, Unpack&& unpack) {
  const int64_t capacity = static_cast<int64_t>(bucket.size());
  std::vector<Piece> pieces;
  std::size_t index = 0;
  int64_t offset = 0;
  while (index < sizes.size()) {
    pieces.clear();
    int64_t used = 0;
    while (index < sizes.size() && used < capacity) {
      const int64_t count = std::min(sizes[index] - offset, capacity - used);
      if (count > 0) pieces.push_back({index, offset, count, used});
      used += count;
      offset += count;
      if (offset == sizes[index]) {
        ++index;
        offset = 0;
      }
    }
    if (used == 0) continue;
    for (const Piece& p : pieces) pack(p.index, p.offset, bucket.data() + p.at, p.count);
    exchange(bucket.data(), static_cast<int>(used));
    for (const Piece& p : pieces) unpack(p.index, p.offset, bucket.data() + p.at, p.count);
  }
}

// Hash of what all ranks must agree on before exchanging parameter buckets.
uint64_t layout_hash(const NamedParameters& params) {
  uint64_t h = hash64("tapelm parameter layout");
  for (const auto& [name, var] : params) {
    h = hash64(name, h);
    h = hash64(var.shape().data(), var.shape().size() * sizeof(int64_t), h);
    const char trainable = var.requires_grad() ? 1 : 0;
    h = hash64(&trainable, 1, h);
  }
  return h;
}

}  // namespace

Distributed::Distributed() {
  if (!launched_by_mpi()) return;
#ifdef TAPELM_HAVE_MPI
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (finalized) {
    throw std::runtime_error("Distributed: MPI was already finalised in this process and cannot start again; "
                             "keep one Distributed alive for the whole run");
  }
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) {
    int provided = 0;
    MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
    initialized_here = true;
    // Fatal is the default; set it anyway so no MPI error can return and leave ranks
    // disagreeing about what happened.
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_ARE_FATAL);
    if (provided < MPI_THREAD_FUNNELED) {
      std::cerr << "tapelm: warning: the MPI library provides thread level " << provided
                << ", below MPI_THREAD_FUNNELED; OpenMP threads may be unsafe with it" << std::endl;
    }
  }
  mpi_ = true;
  ++live_instances;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &world_size_);
  MPI_Comm local;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &local);
  MPI_Comm_rank(local, &local_rank_);
  MPI_Comm_size(local, &local_size_);
  MPI_Comm_free(&local);
#else
  const char* size = std::getenv("OMPI_COMM_WORLD_SIZE");
  if (!size || std::string(size) != "1") {
    throw std::runtime_error(std::string("Distributed: started by an MPI launcher (") +
                             (size ? std::string("mpirun -np ") + size : std::string("PMIx")) +
                             "), but this tapelm was built without MPI, so each process would train alone; "
                             "rebuild with MPI (install libopenmpi-dev, cmake -DTAPELM_MPI=ON)");
  }
#endif
}

Distributed::~Distributed() {
#ifdef TAPELM_HAVE_MPI
  // MPI_Finalize waits for the other ranks, which may be blocked in a collective this rank
  // will never join: while an exception unwinds, exit without finalising instead, and
  // mpirun, seeing a process end without MPI_Finalize, kills the rest of the job.
  if (mpi_ && --live_instances == 0 && initialized_here && std::uncaught_exceptions() == 0) MPI_Finalize();
#endif
}

void Distributed::broadcast_parameters(const NamedParameters& params) const {
  if (world_size_ == 1) return;
  // Every rank learns whether any rank differs, so all throw together.
  const int mismatches = ranks_differing_from_root(layout_hash(params));
  if (mismatches > 0) {
    throw std::runtime_error("Distributed::broadcast_parameters: " + std::to_string(mismatches) +
                             " rank(s) have parameter names, shapes or requires_grad flags different from rank 0's "
                             "(every rank must build the same model)");
  }
  std::vector<Var> vars;
  std::vector<int64_t> sizes;
  for (const auto& [name, var] : params) {
    vars.push_back(var);
    sizes.push_back(var.numel());
  }
  bucket_.resize(bucket_bytes / sizeof(float));
  stream_through_bucket(
      sizes, bucket_,
      [&](std::size_t i, int64_t offset, float* dst, int64_t count) {
        if (is_root()) std::copy_n(vars[i].data() + offset, count, dst);
      },
      [&](float* data, int count) {
#ifdef TAPELM_HAVE_MPI
        MPI_Bcast(data, count, MPI_FLOAT, 0, MPI_COMM_WORLD);
#endif
      },
      [&](std::size_t i, int64_t offset, const float* src, int64_t count) {
        if (!is_root()) std::copy_n(src, count, vars[i].data() + offset);
      });
}

void Distributed::average_gradients(const NamedParameters& params) const {
  sum_gradients(params, double(world_size_));
}

void Distributed::sum_gradients(const NamedParameters& params, double divisor) const {
  if (world_size_ == 1) {
    if (divisor != 1.0) divide_gradients(params, divisor);
    return;
  }
  std::vector<std::size_t> trainable;
  for (std::size_t i = 0; i < params.size(); ++i) {
    if (params[i].second.requires_grad()) trainable.push_back(i);
  }
  // Which parameters have a gradient on any rank: those take part, the rest stay without.
  std::vector<double> has_grad(trainable.size());
  for (std::size_t k = 0; k < trainable.size(); ++k) has_grad[k] = params[trainable[k]].second.has_grad() ? 1.0 : 0.0;
  all_reduce_sum(has_grad);
  std::vector<const Var*> vars;
  std::vector<int64_t> sizes;
  for (std::size_t k = 0; k < trainable.size(); ++k) {
    if (has_grad[k] == 0.0) continue;
    vars.push_back(&params[trainable[k]].second);
    sizes.push_back(vars.back()->numel());
  }
  const float by = static_cast<float>(divisor);
  bucket_.resize(bucket_bytes / sizeof(float));
  stream_through_bucket(
      sizes, bucket_,
      [&](std::size_t i, int64_t offset, float* dst, int64_t count) {
        if (vars[i]->has_grad()) {
          std::copy_n(vars[i]->grad().data() + offset, count, dst);
        } else {
          std::fill_n(dst, count, 0.0f);
        }
      },
      [&](float* data, int count) {
#ifdef TAPELM_HAVE_MPI
        // With a fixed process count and bucket size, Open MPI's tuned collectives pick the
        // same algorithm every run, and each algorithm sums in a fixed order, so the result
        // is reproducible run to run (not equal to a sequential sum, and it changes with the
        // process count). Every rank receives the same bits (+ is commutative in IEEE
        // arithmetic, and the reduction tree is the same for all ranks), which keeps the
        // replicas identical.
        MPI_Allreduce(MPI_IN_PLACE, data, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
#endif
      },
      [&](std::size_t i, int64_t offset, const float* src, int64_t count) {
        float* dst = vars[i]->ensure_grad().data() + offset;
#pragma omp parallel for schedule(static) if (count > (1 << 16))
        for (int64_t j = 0; j < count; ++j) dst[j] = src[j] / by;
      });
}

int start_threads(int64_t configured, const Distributed* dist) {
  return use_threads(configured == 0 && dist && dist->world_size() > 1 ? dist->threads_per_rank(0) : configured);
}

void divide_gradients(const NamedParameters& params, double divisor) {
  const float by = static_cast<float>(divisor);
  for (const auto& named : params) {
    if (!named.second.has_grad()) continue;
    float* grad = named.second.ensure_grad().data();
    const int64_t n = named.second.numel();
#pragma omp parallel for schedule(static) if (n > (1 << 16))
    for (int64_t j = 0; j < n; ++j) grad[j] /= by;
  }
}

bool Distributed::parameters_in_sync(const NamedParameters& params) const {
  if (world_size_ == 1) return true;
  uint64_t h = layout_hash(params);
  for (const auto& [name, var] : params) h = hash64(var.data(), static_cast<std::size_t>(var.numel()) * sizeof(float), h);
  return ranks_differing_from_root(h) == 0;
}

int Distributed::ranks_differing_from_root(uint64_t value) const {
  if (world_size_ == 1) return 0;
  uint64_t root = value;
#ifdef TAPELM_HAVE_MPI
  MPI_Bcast(&root, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
#endif
  return static_cast<int>(all_reduce_sum(root == value ? 0.0 : 1.0));
}

void Distributed::all_reduce_sum(std::vector<double>& values) const {
  if (world_size_ == 1 || values.empty()) return;
#ifdef TAPELM_HAVE_MPI
  MPI_Allreduce(MPI_IN_PLACE, values.data(), static_cast<int>(values.size()), MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
#endif
}

double Distributed::all_reduce_sum(double value) const {
  std::vector<double> v{value};
  all_reduce_sum(v);
  return v[0];
}

std::vector<std::string> Distributed::gather_bytes(const std::string& local) const {
  if (world_size_ == 1) return {local};
  const double total = all_reduce_sum(static_cast<double>(local.size()));
  if (total > static_cast<double>(INT_MAX)) {
    throw std::runtime_error("Distributed::gather_bytes: the ranks' texts hold " + std::to_string(uint64_t(total)) +
                             " bytes together, more than one message can (" + std::to_string(INT_MAX) + ")");
  }
  const int size = static_cast<int>(local.size());
  std::vector<int> counts(is_root() ? static_cast<std::size_t>(world_size_) : 0);
#ifdef TAPELM_HAVE_MPI
  MPI_Gather(&size, 1, MPI_INT, counts.data(), 1, MPI_INT, 0, MPI_COMM_WORLD);
#endif
  std::vector<int> offsets;
  std::string all;
  for (const int count : counts) {
    offsets.push_back(static_cast<int>(all.size()));
    all.resize(all.size() + static_cast<std::size_t>(count));
  }
#ifdef TAPELM_HAVE_MPI
  MPI_Gatherv(local.data(), static_cast<int>(local.size()), MPI_CHAR, all.data(), counts.data(), offsets.data(),
              MPI_CHAR, 0, MPI_COMM_WORLD);
#endif
  std::vector<std::string> out;
  for (std::size_t r = 0; r < counts.size(); ++r) out.push_back(all.substr(size_t(offsets[r]), size_t(counts[r])));
  return out;
}

void Distributed::broadcast(std::string& text) const {
  if (world_size_ == 1) return;
  uint64_t size = text.size();
#ifdef TAPELM_HAVE_MPI
  MPI_Bcast(&size, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
#endif
  if (size > static_cast<uint64_t>(INT_MAX)) {
    throw std::runtime_error("Distributed::broadcast: " + std::to_string(size) + " bytes is too large for one message");
  }
  text.resize(size);
#ifdef TAPELM_HAVE_MPI
  MPI_Bcast(text.data(), static_cast<int>(size), MPI_CHAR, 0, MPI_COMM_WORLD);
#endif
}

void Distributed::barrier() const {
#ifdef TAPELM_HAVE_MPI
  if (mpi_) MPI_Barrier(MPI_COMM_WORLD);
#endif
}

void Distributed::abort(int code) const {
  std::cout.flush();
  std::cerr.flush();
#ifdef TAPELM_HAVE_MPI
  if (mpi_) MPI_Abort(MPI_COMM_WORLD, code);
#endif
  std::exit(code);
}

int Distributed::threads_per_rank(int requested) const {
  if (requested < 0) {
    throw std::invalid_argument("Distributed::threads_per_rank: requested " + std::to_string(requested) +
                                " threads; expected 0 (automatic) or a positive count");
  }
  if (requested > 0) return requested;
  const int cpus = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return std::max(1, std::min(cpus / local_size_, bound_cpus()));
}

}  // namespace tapelm
