// Shape ops. reshape aliases storage; the others copy with row-wise memcpy where rows
// stay contiguous, and their backward passes add the gradient back in place (permute writes
// a gradient that does not exist yet instead of adding it to zeros).
#include <tapelm/autograd/shape_ops.h>

#include <algorithm>
#include <cstring>
#include <numeric>
#include <stdexcept>
#include <string>

#include <tapelm/autograd/check.h>
#include <tapelm/autograd/kernels/broadcast.h>
#include <tapelm/autograd/record.h>

namespace tapelm {

namespace {

std::string dims_str(const std::vector<int64_t>& dims) { return shape_str(Shape(dims.begin(), dims.end())); }

int64_t product(const Shape& shape, std::size_t begin, std::size_t end) {
  int64_t p = 1;
  for (std::size_t i = begin; i < end; ++i) p *= shape[i];
  return p;
}

// dst[r·dst_stride + i] (= or +=) src[r·src_stride + i] for r < rows, i < len.
template <bool Accumulate>
void copy_rows(float* dst, int64_t dst_stride, const float* src, int64_t src_stride, int64_t rows, int64_t len) {
#pragma omp parallel for schedule(static) if (rows * len > kernels::kParallelGrain && rows > 1)
  for (int64_t r = 0; r < rows; ++r) {
    float* d = dst + r * dst_stride;
    const float* s = src + r * src_stride;
    if constexpr (Accumulate) {
      for (int64_t i = 0; i < len; ++i) d[i] += s[i];
    } else {
      std::memcpy(d, s, sizeof(float) * static_cast<std::size_t>(len));
    }
  }
}

// dst (contiguous, shape src_shape permuted by perm) (= or +=) src permuted.
template <bool Accumulate>
void permute_copy(float* dst, const float* src, const Shape& src_shape, const std::vector<int64_t>& perm) {
  const std::size_t rank = src_shape.size();
  Shape src_stride(rank);
  for (int64_t d = static_cast<int64_t>(rank) - 1, s = 1; d >= 0; --d) {
    src_stride[d] = s;
    s *= src_shape[d];
  }
  // Walk dst row-major with src strides; merge dst dims that are also adjacent in src.
  kernels::BroadcastPlan plan;
  plan.numel = shape_numel(src_shape);
  for (std::size_t i = 0; i < rank; ++i) {
    const int64_t size = src_shape[perm[i]], stride = src_stride[perm[i]];
    if (size == 1) continue;
    if (!plan.dims.empty() && plan.strides[0].back() == stride * size) {
      plan.dims.back() *= size;
      plan.strides[0].back() = stride;
    } else {
      plan.dims.push_back(size);
      plan.strides[0].push_back(stride);
    }
  }
  if (plan.dims.empty() || plan.numel == 0) {
    plan.dims.assign(1, plan.numel);
    plan.strides[0].assign(1, 1);
  }
  plan.strides[1].assign(plan.dims.size(), 0);
  const int64_t step = plan.inner_stride(0);
  kernels::for_each_run(plan, [&](int64_t o, int64_t s, int64_t, int64_t n) {
    float* d = dst + o;
    const float* x = src + s;
    if (step == 1) {
      if constexpr (Accumulate) {
        for (int64_t i = 0; i < n; ++i) d[i] += x[i];
      } else {
        std::memcpy(d, x, sizeof(float) * static_cast<std::size_t>(n));
      }
    } else {
      for (int64_t i = 0; i < n; ++i) {
        if constexpr (Accumulate) d[i] += x[i * step]; else d[i] = x[i * step];
      }
    }
  });
}

// Pieces of x along `dim`: [outer, size_i · inner] blocks of x's [outer, size · inner] rows.
struct Pieces {
  int64_t outer, inner, row;  // row = x.size(dim) · inner
};

Pieces pieces_of(const Shape& shape, std::size_t dim) {
  return {product(shape, 0, dim), product(shape, dim + 1, shape.size()), product(shape, dim, shape.size())};
}

}  // namespace

Var reshape(const Var& x, Shape shape) {
  check_defined(x, "reshape", "x");
  Var out{x.value().reshape(std::move(shape))};
  record_op("reshape", out, {&x}, [x = GradHandle(x)](const Tensor& dout) {
    x.add_grad(dout.reshape(x.shape()));
  });
  return out;
}

Var transpose(const Var& x, int64_t dim0, int64_t dim1) {
  check_defined(x, "transpose", "x");
  std::vector<int64_t> perm(static_cast<std::size_t>(x.dim()));
  std::iota(perm.begin(), perm.end(), 0);
  std::swap(perm[normalize_axis(dim0, x.dim(), "transpose")], perm[normalize_axis(dim1, x.dim(), "transpose")]);
  return permute(x, perm);
}

Var permute(const Var& x, const std::vector<int64_t>& dims) {
  check_defined(x, "permute", "x");
  const int64_t rank = x.dim();
  std::vector<int64_t> perm(dims.size()), inverse(dims.size(), -1);
  bool valid = static_cast<int64_t>(dims.size()) == rank;
  for (std::size_t i = 0; valid && i < dims.size(); ++i) {
    const int64_t d = dims[i] < 0 ? dims[i] + rank : dims[i];
    valid = d >= 0 && d < rank && inverse[d] < 0;
    if (valid) {
      perm[i] = d;
      inverse[d] = static_cast<int64_t>(i);
    }
  }
  if (!valid) {
    throw ShapeError("permute: dims " + dims_str(dims) + " are not a permutation of the " +
                     std::to_string(rank) + " dimensions of x " + shape_str(x.shape()));
  }
  Shape shape(static_cast<std::size_t>(rank));
  for (int64_t i = 0; i < rank; ++i) shape[i] = x.size(perm[i]);
  Var out{Tensor(shape)};
  permute_copy<false>(out.data(), x.data(), x.shape(), perm);
  record_op("permute", out, {&x}, [x = GradHandle(x), inverse](const Tensor& dout) {
    const GradFill dx = x.grad_to_fill();
    if (dx.accumulate) {
      permute_copy<true>(dx.data, dout.data(), dout.shape(), inverse);
    } else {
      permute_copy<false>(dx.data, dout.data(), dout.shape(), inverse);
    }
  });
  return out;
}

Var concat(const std::vector<Var>& xs, int64_t dim) {
  if (xs.empty()) throw std::invalid_argument("concat: expected at least one input, got none");
  for (const Var& x : xs) check_defined(x, "concat", "an input");
  const Shape& first = xs[0].shape();
  const std::size_t d = static_cast<std::size_t>(normalize_axis(dim, xs[0].dim(), "concat"));
  Shape shape = first;
  shape[d] = 0;
  for (const Var& x : xs) {
    Shape expect = first;
    expect[d] = x.dim() == xs[0].dim() ? x.size(static_cast<int64_t>(d)) : -1;
    if (x.shape() != expect) {
      std::string got;
      for (const Var& y : xs) got += (got.empty() ? "" : ", ") + shape_str(y.shape());
      throw ShapeError("concat: along dim " + std::to_string(dim) + " the inputs must match in every " +
                       "other dimension, got shapes " + got);
    }
    shape[d] += x.size(static_cast<int64_t>(d));
  }
  Var out{Tensor(shape)};
  const Pieces whole = pieces_of(shape, d);
  std::vector<int64_t> offsets;  // each input's column offset within an out row
  for (int64_t i = 0, offset = 0; i < static_cast<int64_t>(xs.size()); ++i) {
    const int64_t len = pieces_of(xs[i].shape(), d).row;
    offsets.push_back(offset);
    copy_rows<false>(out.data() + offset, whole.row, xs[i].data(), len, whole.outer, len);
    offset += len;
  }
  record_op("concat", out, xs, [xs = grad_handles(xs), offsets, whole, d](const Tensor& dout) {
    for (std::size_t i = 0; i < xs.size(); ++i) {
      if (!xs[i].requires_grad()) continue;
      const int64_t len = pieces_of(xs[i].shape(), d).row;
      copy_rows<true>(xs[i].ensure_grad().data(), len, dout.data() + offsets[i], whole.row, whole.outer, len);
    }
  });
  return out;
}

std::vector<Var> split(const Var& x, const std::vector<int64_t>& sizes, int64_t dim) {
  check_defined(x, "split", "x");
  const std::size_t d = static_cast<std::size_t>(normalize_axis(dim, x.dim(), "split"));
  int64_t total = 0;
  bool valid = !sizes.empty();
  for (int64_t s : sizes) {
    valid = valid && s >= 0;
    total += s;
  }
  if (!valid || total != x.size(static_cast<int64_t>(d))) {
    throw ShapeError("split: sizes " + dims_str(sizes) + " must be non-negative and sum to dimension " +
                     std::to_string(dim) + " of x " + shape_str(x.shape()));
  }
  const Pieces whole = pieces_of(x.shape(), d);
  std::vector<Var> outs;
  for (int64_t s : sizes) {
    Shape shape = x.shape();
    shape[d] = s;
    outs.emplace_back(Tensor(shape));
  }
  // One pass over x's rows, each scattered to every piece, keeps x's rows in cache.
  const int64_t pieces = static_cast<int64_t>(sizes.size());
#pragma omp parallel for schedule(static) if (x.numel() > kernels::kParallelGrain && whole.outer > 1)
  for (int64_t r = 0; r < whole.outer; ++r) {
    const float* src = x.data() + r * whole.row;
    for (int64_t i = 0; i < pieces; ++i) {
      const int64_t len = sizes[i] * whole.inner;
      std::memcpy(outs[i].data() + r * len, src, sizeof(float) * static_cast<std::size_t>(len));
      src += len;
    }
  }
  // One node for every piece: it runs after all of them have their gradients.
  record_op("split", outs, {&x}, [x = GradHandle(x), outs = grad_handles(outs), sizes, whole]() {
    float* dx = x.ensure_grad().data();
    for (int64_t i = 0, offset = 0; i < static_cast<int64_t>(outs.size()); ++i) {
      const int64_t len = sizes[i] * whole.inner;
      if (outs[i].has_grad()) copy_rows<true>(dx + offset, whole.row, outs[i].grad().data(), len, whole.outer, len);
      offset += len;
    }
  });
  return outs;
}

Var slice(const Var& x, int64_t dim, int64_t start, int64_t end) {
  check_defined(x, "slice", "x");
  const std::size_t d = static_cast<std::size_t>(normalize_axis(dim, x.dim(), "slice"));
  const int64_t size = x.size(static_cast<int64_t>(d));
  if (start < 0 || start > end || end > size) {
    throw IndexError("slice: range [" + std::to_string(start) + ", " + std::to_string(end) +
                     ") along dim " + std::to_string(dim) + " of x " + shape_str(x.shape()) +
                     " must satisfy 0 <= start <= end <= " + std::to_string(size));
  }
  Shape shape = x.shape();
  shape[d] = end - start;
  Var out{Tensor(shape)};
  const Pieces whole = pieces_of(x.shape(), d);
  const int64_t len = (end - start) * whole.inner, offset = start * whole.inner;
  copy_rows<false>(out.data(), len, x.data() + offset, whole.row, whole.outer, len);
  record_op("slice", out, {&x}, [x = GradHandle(x), whole, len, offset](const Tensor& dout) {
    copy_rows<true>(x.ensure_grad().data() + offset, whole.row, dout.data(), len, whole.outer, len);
  });
  return out;
}

Var index_select(const Var& x, int64_t dim, const std::vector<int32_t>& index) {
  check_defined(x, "index_select", "x");
  const std::size_t d = static_cast<std::size_t>(normalize_axis(dim, x.dim(), "index_select"));
  const int64_t size = x.size(static_cast<int64_t>(d));
  for (std::size_t j = 0; j < index.size(); ++j) {
    if (index[j] < 0 || index[j] >= size) {
      throw IndexError("index_select: index[" + std::to_string(j) + "] = " + std::to_string(index[j]) +
                       " is out of range [0, " + std::to_string(size) + ") for dim " +
                       std::to_string(dim) + " of x " + shape_str(x.shape()));
    }
  }
  Shape shape = x.shape();
  const int64_t count = static_cast<int64_t>(index.size());
  shape[d] = count;
  Var out{Tensor(shape)};
  const Pieces whole = pieces_of(x.shape(), d);
  const int64_t inner = whole.inner;
#pragma omp parallel for schedule(static) if (out.numel() > kernels::kParallelGrain)
  for (int64_t r = 0; r < whole.outer * count; ++r) {
    const int64_t o = r / count, j = r % count;
    std::memcpy(out.data() + r * inner, x.data() + o * whole.row + index[j] * inner,
                sizeof(float) * static_cast<std::size_t>(inner));
  }
  record_op("index_select", out, {&x}, [x = GradHandle(x), index, whole, count](const Tensor& dout) {
    // Scatter-add with repeats: each task owns a column range of one outer block and
    // adds the selected rows in index order, so no two tasks touch the same element.
    const int64_t inner = whole.inner;
    const int64_t chunk = whole.outer >= 16 ? inner : std::max<int64_t>(64, (inner + 15) / 16);
    const int64_t chunks = (inner + chunk - 1) / chunk;
    float* dx = x.ensure_grad().data();
    const float* g = dout.data();
#pragma omp parallel for schedule(static) if (dout.numel() > kernels::kParallelGrain)
    for (int64_t task = 0; task < whole.outer * chunks; ++task) {
      const int64_t o = task / chunks, begin = (task % chunks) * chunk;
      const int64_t len = std::min(chunk, inner - begin);
      for (int64_t j = 0; j < count; ++j) {
        float* dst = dx + o * whole.row + index[j] * inner + begin;
        const float* src = g + (o * count + j) * inner + begin;
        for (int64_t i = 0; i < len; ++i) dst[i] += src[i];
      }
    }
  });
  return out;
}

}  // namespace tapelm
