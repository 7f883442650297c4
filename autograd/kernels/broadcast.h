// Broadcast iteration: a plan that collapses an output shape and its broadcast operands
// into the fewest dimensions, a parallel walk over the contiguous runs of the output, and
// the deterministic reduction of a full-shaped tensor back to a broadcast operand's shape.
// Templated on the scalar so tests can check them in double.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

#include <tapelm/autograd/kernels/row_reduce.h>

namespace tapelm::kernels {

// Work (in elements) below which kernels stay single-threaded: a parallel region costs
// a few microseconds, about as much as streaming this many floats.
constexpr int64_t kParallelGrain = 32768;

// Up to two operands broadcast against a contiguous output. After collapsing, adjacent
// output dims are merged whenever every operand is either broadcast along both or
// contiguous across both, and output dims of size 1 are dropped; so same-shape collapses
// to one dim, a bias [C] against [B, T, C] to [B·T, C] with strides {0, 1}, a per-row
// scale [B, T, 1] to [B·T, C] with strides {1, 0}. Along the last collapsed dim every
// operand's stride is 0 (broadcast) or 1 (contiguous).
struct BroadcastPlan {
  std::vector<int64_t> dims;                   // collapsed output dims, outermost first
  std::array<std::vector<int64_t>, 2> strides;  // per operand, per collapsed dim; 0 = broadcast
  int64_t numel = 0;

  int64_t inner() const { return dims.back(); }
  int64_t inner_stride(int operand) const { return strides[operand].back(); }
};

// `operands` (one or two shapes) must already be broadcast-compatible with `out`.
inline BroadcastPlan make_broadcast_plan(const std::vector<int64_t>& out,
                                         const std::vector<const std::vector<int64_t>*>& operands) {
  const int count = static_cast<int>(operands.size());
  const int64_t rank = static_cast<int64_t>(out.size());
  // Per operand, its own contiguous stride aligned to each output dim (0 where it broadcasts).
  std::array<std::vector<int64_t>, 2> full;
  for (int k = 0; k < count; ++k) {
    const std::vector<int64_t>& s = *operands[k];
    const int64_t lead = rank - static_cast<int64_t>(s.size());
    full[k].assign(rank, 0);
    int64_t stride = 1;
    for (int64_t i = rank - 1; i >= lead; --i) {
      const int64_t size = s[i - lead];
      full[k][i] = size == 1 ? 0 : stride;
      stride *= size;
    }
  }
  BroadcastPlan plan;
  plan.numel = 1;
  for (int64_t i = 0; i < rank; ++i) {
    plan.numel *= out[i];
    if (out[i] == 1) continue;
    bool merge = !plan.dims.empty();
    for (int k = 0; k < count && merge; ++k) {
      const int64_t prev = plan.strides[k].back();
      const int64_t cur = full[k][i];
      merge = (prev == 0 && cur == 0) || (prev != 0 && cur != 0 && prev == cur * out[i]);
    }
    if (merge) {
      plan.dims.back() *= out[i];
      for (int k = 0; k < count; ++k) plan.strides[k].back() = full[k][i];
    } else {
      plan.dims.push_back(out[i]);
      for (int k = 0; k < count; ++k) plan.strides[k].push_back(full[k][i]);
    }
  }
  if (plan.dims.empty() || plan.numel == 0) {  // a scalar output, or nothing to do
    plan.dims.assign(1, plan.numel);
    for (int k = 0; k < count; ++k) plan.strides[k].assign(1, 0);
  }
  for (int k = count; k < 2; ++k) plan.strides[k].assign(plan.dims.size(), 0);
  return plan;
}

// Calls run(out_offset, offset0, offset1, length) once per contiguous run of the output
// (a row of the last collapsed dim, split into chunks when there are too few rows to
// share among threads). Runs are disjoint, so `run` may write its slice of the output.
template <class Run>
void for_each_run(const BroadcastPlan& plan, Run run) {
  const int64_t n = plan.inner();
  if (n == 0) return;
  const int64_t rows = plan.numel / n;
  const int64_t chunk = rows >= 64 ? n : std::min<int64_t>(n, 8192);
  const int64_t chunks = (n + chunk - 1) / chunk;
  const int64_t tasks = rows * chunks;
  const int64_t outer_dims = static_cast<int64_t>(plan.dims.size()) - 1;
#pragma omp parallel for schedule(static) if (plan.numel > kParallelGrain)
  for (int64_t t = 0; t < tasks; ++t) {
    const int64_t row = t / chunks;
    const int64_t begin = (t % chunks) * chunk;
    std::array<int64_t, 2> offset = {0, 0};
    int64_t rem = row;
    for (int64_t d = outer_dims - 1; d >= 0; --d) {
      const int64_t idx = rem % plan.dims[d];
      rem /= plan.dims[d];
      offset[0] += idx * plan.strides[0][d];
      offset[1] += idx * plan.strides[1][d];
    }
    const int64_t s0 = plan.inner_stride(0), s1 = plan.inner_stride(1);
    run(row * n + begin, offset[0] + begin * s0, offset[1] + begin * s1, std::min(chunk, n - begin));
  }
}

// out[i] = f(x[i], y[i]) (or += with Accumulate) over one run; x and y advance by their
// stride (0 or 1). Split four ways so each loop has unit or zero strides and vectorises.
template <bool Accumulate, class T, class F>
inline void apply_run(T* out, const T* x, int64_t sx, const T* y, int64_t sy, int64_t n, F f) {
  auto store = [out](int64_t i, T v) {
    if constexpr (Accumulate) out[i] += v; else out[i] = v;
  };
  if (sx && sy) {
    for (int64_t i = 0; i < n; ++i) store(i, f(x[i], y[i]));
  } else if (sx) {
    const T yv = *y;
    for (int64_t i = 0; i < n; ++i) store(i, f(x[i], yv));
  } else if (sy) {
    const T xv = *x;
    for (int64_t i = 0; i < n; ++i) store(i, f(xv, y[i]));
  } else {
    const T v = f(*x, *y);
    for (int64_t i = 0; i < n; ++i) store(i, v);
  }
}

// out = f(x, y) (or out += f(x, y)) with x, y broadcast against the contiguous out.
template <bool Accumulate, class T, class F>
void broadcast_apply(T* out, const T* x, const T* y, const BroadcastPlan& plan, F f) {
  const int64_t sx = plan.inner_stride(0), sy = plan.inner_stride(1);
  for_each_run(plan, [&](int64_t o, int64_t ox, int64_t oy, int64_t n) {
    apply_run<Accumulate>(out + o, x + ox, sx, y + oy, sy, n, f);
  });
}

// dst += scale · x with x broadcast against the contiguous dst (plan has the one operand x).
template <class T>
void broadcast_accumulate(T* dst, const T* x, T scale, const BroadcastPlan& plan) {
  broadcast_apply<true>(dst, x, x, plan, [scale](T a, T) { return scale * a; });
}

// Σ x[0..n) summed in fixed chunks whose partial sums are added in order: the same
// result for every thread count, parallel when large.
template <class T>
double sum_contiguous(const T* x, int64_t n) {
  constexpr int64_t kChunk = 16384;
  if (n <= kChunk) return row_sum(x, n);
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  std::vector<double> partial(static_cast<std::size_t>(chunks));
#pragma omp parallel for schedule(static) if (n > 4 * kParallelGrain)
  for (int64_t c = 0; c < chunks; ++c) {
    partial[c] = row_sum(x + c * kChunk, std::min(kChunk, n - c * kChunk));
  }
  double s = 0.0;
  for (double p : partial) s += p;
  return s;
}

// target += scale · (src summed over the dims along which target broadcasts), where src
// is contiguous with the plan's output shape and target is the plan's single operand.
// Each target element is summed in a fixed order (outer reduced index first), whatever
// the thread count, and work is split over target elements only: no atomics.
template <class T>
void sum_to(T* target, const T* src, T scale, const BroadcastPlan& plan) {
  const int64_t rank = static_cast<int64_t>(plan.dims.size());
  const std::vector<int64_t>& dims = plan.dims;
  const std::vector<int64_t>& tstride = plan.strides[0];
  if (plan.numel == 0) return;
  std::vector<int64_t> sstride(rank);  // src is contiguous in the collapsed dims
  for (int64_t d = rank - 1, s = 1; d >= 0; --d) { sstride[d] = s; s *= dims[d]; }
  std::vector<int64_t> kept, reduced;  // collapsed dims by role, outermost first
  for (int64_t d = 0; d < rank; ++d) (tstride[d] ? kept : reduced).push_back(d);
  if (reduced.empty()) {
#pragma omp parallel for simd schedule(static) if (plan.numel > kParallelGrain)
    for (int64_t i = 0; i < plan.numel; ++i) target[i] += scale * src[i];
    return;
  }
  // Offsets of a flat index over a subset of dims, laid out row-major over that subset.
  auto offsets = [&](const std::vector<int64_t>& which, std::size_t skip_last, int64_t flat,
                     int64_t* src_off, int64_t* tgt_off) {
    *src_off = 0;
    *tgt_off = 0;
    for (std::size_t j = which.size() - skip_last; j-- > 0;) {
      const int64_t d = which[j];
      const int64_t idx = flat % dims[d];
      flat /= dims[d];
      *src_off += idx * sstride[d];
      *tgt_off += idx * tstride[d];
    }
  };
  int64_t reduced_count = 1;
  for (int64_t d : reduced) reduced_count *= dims[d];
  const int64_t target_numel = plan.numel / reduced_count;

  if (tstride[rank - 1] == 0) {
    // The innermost dim is reduced: each target element sums contiguous runs of src.
    const int64_t run = dims[rank - 1];
    const int64_t runs = reduced_count / run;
#pragma omp parallel for schedule(static) if (plan.numel > kParallelGrain && target_numel > 1)
    for (int64_t t = 0; t < target_numel; ++t) {
      int64_t base, tgt;
      offsets(kept, 0, t, &base, &tgt);
      double s = 0.0;
      for (int64_t r = 0; r < runs; ++r) {
        int64_t off, unused;
        offsets(reduced, 1, r, &off, &unused);
        s += sum_contiguous(src + base + off, run);
      }
      target[tgt] += static_cast<T>(scale * s);
    }
    return;
  }
  // The innermost dim is kept: add whole src rows into a double accumulator per target
  // row, column chunks in parallel (a bias gradient is one target row summed over every
  // src row).
  const int64_t n = dims[rank - 1];
  const int64_t target_rows = target_numel / n;
  const int64_t chunk = target_rows >= 16 ? n : std::max<int64_t>(64, (n + 15) / 16);
  const int64_t chunks = (n + chunk - 1) / chunk;
#pragma omp parallel if (plan.numel > kParallelGrain)
  {
    std::vector<double> acc(static_cast<std::size_t>(std::min(chunk, n)));
#pragma omp for schedule(static)
    for (int64_t task = 0; task < target_rows * chunks; ++task) {
      const int64_t begin = (task % chunks) * chunk;
      const int64_t len = std::min(chunk, n - begin);
      int64_t base, tgt;
      offsets(kept, 1, task / chunks, &base, &tgt);
      std::fill(acc.begin(), acc.begin() + len, 0.0);
      for (int64_t r = 0; r < reduced_count; ++r) {
        int64_t off, unused;
        offsets(reduced, 0, r, &off, &unused);
        const T* in = src + base + off + begin;
        for (int64_t i = 0; i < len; ++i) acc[i] += static_cast<double>(in[i]);
      }
      T* out = target + tgt + begin;
      for (int64_t i = 0; i < len; ++i) out[i] += static_cast<T>(scale * acc[i]);
    }
  }
}

}  // namespace tapelm::kernels
