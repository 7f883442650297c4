// Dropout op: one node whose backward regenerates the mask from the saved RNG position.
#include "autograd/dropout.h"

#include <stdexcept>
#include <string>

#include "autograd/check.h"
#include "autograd/kernels/dropout.h"
#include "autograd/record.h"

namespace tapelm {

Var dropout(const Var& x, float p, Rng& rng, bool training) {
  check_defined(x, "dropout", "x");
  if (!(p >= 0.0f && p < 1.0f)) {
    throw std::invalid_argument("dropout: p must be in [0, 1), got " + std::to_string(p) + " for input " +
                                shape_str(x.shape()));
  }
  if (!training || p == 0.0f) return x;
  const int64_t n = x.numel();
  const Rng stream = rng;  // the draws depend only on (seed, index): a copy regenerates them
  const uint64_t first = rng.skip(static_cast<uint64_t>(n));
  Var out(Tensor(x.shape()));
  kernels::dropout_forward<float>(out.data(), x.data(), stream, first, p, n);
  record_op(out, {&x}, [x, stream, first, p, n](const Tensor& dout) {
    kernels::dropout_backward<float>(x.ensure_grad().data(), dout.data(), stream, first, p, n);
  });
  return out;
}

}  // namespace tapelm
