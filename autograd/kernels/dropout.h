// Inverted dropout kernel pair. The keep decision of an element is a pure function of a key
// and the element's coordinates, each hashed on its own (never the flat offset): element
// (i0, ..., ik) of x is dropped iff to_unit(mix(...mix(mix(key, rows[i0]), i1)..., ik)) < p
// (Rng::mix, Rng::to_unit; a scalar counts as shape [1]), rows[i0] being the row's global
// index (DropoutRows). So the mask of a
// row depends neither on the rows around it nor on how far its other dimensions are padded;
// backward recomputes it instead of storing it, and any thread count draws the same mask.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include <tapelm/autograd/dropout_rows.h>
#include <tapelm/autograd/rng.h>

namespace tapelm::kernels {

constexpr int64_t kDropoutParallelMin = 16384;

// Calls visit(offset, kept) once for every element of a row-major tensor of shape `dims`.
// One hash per element: the coordinates before the last are hashed once per innermost row.
template <class Visit>
void for_each_dropout_decision(const std::vector<int64_t>& dims, uint64_t key, const DropoutRows& rows, float p,
                               const Visit& visit) {
  // The outer dimensions (all but the last; the only one of a rank-1 shape) and their strides
  // in units of innermost rows.
  std::vector<int64_t> outer(dims.begin(), dims.size() >= 2 ? dims.end() - 1 : dims.end());
  if (outer.empty()) outer.push_back(1);
  const int64_t inner = dims.size() >= 2 ? dims.back() : 1;
  std::vector<int64_t> stride(outer.size(), 1);
  for (std::size_t d = outer.size() - 1; d > 0; --d) stride[d - 1] = stride[d] * outer[d];
  const int64_t n_rows = stride[0] * outer[0];
  const int64_t n = n_rows * inner;
#pragma omp parallel for schedule(static) if (n > kDropoutParallelMin)
  for (int64_t r = 0; r < n_rows; ++r) {
    uint64_t row_key = Rng::mix(key, static_cast<uint64_t>(rows[r / stride[0]]));
    for (std::size_t d = 1; d < outer.size(); ++d) {
      row_key = Rng::mix(row_key, static_cast<uint64_t>((r / stride[d]) % outer[d]));
    }
    if (dims.size() < 2) {
      visit(r, Rng::to_unit(row_key) >= p);
      continue;
    }
    const int64_t first = r * inner;
#pragma omp simd
    for (int64_t j = 0; j < inner; ++j) {
      visit(first + j, Rng::to_unit(Rng::mix(row_key, static_cast<uint64_t>(j))) >= p);
    }
  }
}

template <class T>
void dropout_forward(T* out, const T* inp, const std::vector<int64_t>& dims, uint64_t key, const DropoutRows& rows,
                     float p) {
  // out, inp: dims
  const T scale = T(1) / (T(1) - T(p));
  for_each_dropout_decision(dims, key, rows, p, [&](int64_t i, bool kept) {
    // Loaded unconditionally: a conditional load keeps the loop scalar, ten times slower.
    const T survivor = inp[i] * scale;
    out[i] = kept ? survivor : T(0);
  });
}

template <class T>
void dropout_backward(T* dinp, const T* dout, const std::vector<int64_t>& dims, uint64_t key, const DropoutRows& rows,
                      float p) {
  // dinp, dout: dims
  const T scale = T(1) / (T(1) - T(p));
  for_each_dropout_decision(dims, key, rows, p, [&](int64_t i, bool kept) {
    const T survivor = dout[i] * scale;
    dinp[i] += kept ? survivor : T(0);
  });
}

}  // namespace tapelm::kernels
