// Reductions (on the broadcast reduction kernel: a sum over dim is a reduction to the
// keepdim shape) and softmax / log_softmax (autograd/kernels/softmax.h).
#include <tapelm/autograd/reduce.h>

#include <stdexcept>
#include <string>
#include <vector>

#include <tapelm/autograd/check.h>
#include <tapelm/autograd/kernels/broadcast.h>
#include <tapelm/autograd/kernels/softmax.h>
#include <tapelm/autograd/record.h>

namespace tapelm {

namespace {

// The reduced shape with and without the kept size-1 dim.
struct Reduced {
  int64_t dim;
  Shape keep;
  Shape out;
};

Reduced reduced_shape(const Var& x, int64_t dim, bool keepdim, const char* op) {
  check_defined(x, op, "x");
  Reduced r;
  r.dim = normalize_axis(dim, x.dim(), op);
  if (x.size(r.dim) == 0) {
    throw ShapeError(std::string(op) + ": cannot reduce the empty dimension " + std::to_string(dim) +
                     " of x " + shape_str(x.shape()));
  }
  r.keep = x.shape();
  r.keep[r.dim] = 1;
  r.out = r.keep;
  if (!keepdim) r.out.erase(r.out.begin() + r.dim);
  return r;
}

// scale · Σ over dim: sum (scale 1) and mean (scale 1/size).
Var scaled_sum(const Var& x, int64_t dim, bool keepdim, bool average, const char* op) {
  const Reduced r = reduced_shape(x, dim, keepdim, op);
  const float scale = average ? 1.0f / static_cast<float>(x.size(r.dim)) : 1.0f;
  Var out{Tensor::zeros(r.out)};
  const kernels::BroadcastPlan plan = kernels::make_broadcast_plan(x.shape(), {&r.keep});
  kernels::sum_to(out.data(), x.data(), scale, plan);
  record_op(op, out, {&x}, [x = GradHandle(x), plan, scale](const Tensor& dout) {
    kernels::broadcast_accumulate(x.ensure_grad().data(), dout.data(), scale, plan);
  });
  return out;
}

Var scaled_sum_all(const Var& x, bool average, const char* op) {
  check_defined(x, op, "x");
  const int64_t n = x.numel();
  if (average && n == 0) throw ShapeError(std::string(op) + ": x " + shape_str(x.shape()) + " is empty");
  const float scale = average ? 1.0f / static_cast<float>(n) : 1.0f;
  Var out{Tensor::scalar(static_cast<float>(kernels::sum_contiguous(x.data(), n) * scale))};
  record_op(op, out, {&x}, [x = GradHandle(x), scale](const Tensor& dout) {
    const float g = scale * dout.item();
    float* dx = x.ensure_grad().data();
    const int64_t count = x.numel();
#pragma omp parallel for simd schedule(static) if (count > kernels::kParallelGrain)
    for (int64_t i = 0; i < count; ++i) dx[i] += g;
  });
  return out;
}

using RowsForward = void (*)(float*, const float*, int64_t, int64_t);
using RowsBackward = void (*)(float*, const float*, const float*, int64_t, int64_t);

// An op over the last axis whose backward needs only its output.
Var last_axis_op(const Var& x, RowsForward forward, RowsBackward backward, const char* op) {
  check_defined(x, op, "x");
  if (x.dim() < 1 || x.size(-1) == 0) {
    throw ShapeError(std::string(op) + ": expected x with a non-empty last axis, got " +
                     shape_str(x.shape()));
  }
  const int64_t n = x.size(-1), rows = x.numel() / n;
  Var out{Tensor(x.shape())};
  forward(out.data(), x.data(), rows, n);
  record_op(op, out, {&x}, [x = GradHandle(x), out = out.value(), backward, rows, n](const Tensor& dout) {
    backward(x.ensure_grad().data(), out.data(), dout.data(), rows, n);
  });
  return out;
}

}  // namespace

Var sum(const Var& x, int64_t dim, bool keepdim) { return scaled_sum(x, dim, keepdim, false, "sum"); }
Var mean(const Var& x, int64_t dim, bool keepdim) { return scaled_sum(x, dim, keepdim, true, "mean"); }
Var sum_all(const Var& x) { return scaled_sum_all(x, false, "sum_all"); }
Var mean_all(const Var& x) { return scaled_sum_all(x, true, "mean_all"); }

Var max(const Var& x, int64_t dim, bool keepdim) {
  const Reduced r = reduced_shape(x, dim, keepdim, "max");
  const Shape& shape = x.shape();
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < r.dim; ++i) outer *= shape[i];
  for (int64_t i = r.dim + 1; i < x.dim(); ++i) inner *= shape[i];
  const int64_t size = shape[r.dim];
  Var out{Tensor(r.out)};
  // Which slice along dim holds each maximum (the first one on ties).
  std::vector<int32_t> argmax(static_cast<std::size_t>(outer * inner), 0);
  const float* src = x.data();
  float* dst = out.data();
#pragma omp parallel for schedule(static) if (x.numel() > kernels::kParallelGrain && outer > 1)
  for (int64_t o = 0; o < outer; ++o) {
    float* best = dst + o * inner;
    int32_t* arg = argmax.data() + o * inner;
    const float* block = src + o * size * inner;
    for (int64_t i = 0; i < inner; ++i) best[i] = block[i];
    for (int64_t k = 1; k < size; ++k) {
      const float* row = block + k * inner;
      for (int64_t i = 0; i < inner; ++i) {
        if (row[i] > best[i]) {
          best[i] = row[i];
          arg[i] = static_cast<int32_t>(k);
        }
      }
    }
  }
  record_op("max", out, {&x}, [x = GradHandle(x), argmax = std::move(argmax), outer, inner, size](const Tensor& dout) {
    float* dx = x.ensure_grad().data();
    const float* g = dout.data();
#pragma omp parallel for schedule(static) if (outer * inner > kernels::kParallelGrain && outer > 1)
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t i = 0; i < inner; ++i) {
        dx[(o * size + argmax[o * inner + i]) * inner + i] += g[o * inner + i];
      }
    }
  });
  return out;
}

Var softmax(const Var& x) {
  return last_axis_op(x, kernels::softmax_forward<float>, kernels::softmax_backward<float>, "softmax");
}

Var log_softmax(const Var& x) {
  return last_axis_op(x, kernels::log_softmax_forward<float>, kernels::log_softmax_backward<float>, "log_softmax");
}

}  // namespace tapelm
