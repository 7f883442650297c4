// Dropout op: one node whose backward regenerates the mask from (key, rows).
#include <tapelm/autograd/dropout.h>

#include <stdexcept>
#include <string>

#include <tapelm/autograd/check.h>
#include <tapelm/autograd/kernels/dropout.h>
#include <tapelm/autograd/record.h>

namespace tapelm {

Var dropout(const Var& x, float p, uint64_t key, const DropoutRows& rows, bool training) {
  check_defined(x, "dropout", "x");
  if (!(p >= 0.0f && p < 1.0f)) {
    throw std::invalid_argument("dropout: p must be in [0, 1), got " + std::to_string(p) + " for input " +
                                shape_str(x.shape()));
  }
  if (!training || p == 0.0f) return x;
  Var out(Tensor(x.shape()));
  kernels::dropout_forward<float>(out.data(), x.data(), x.shape(), key, rows, p);
  record_op("dropout", out, {&x}, [x = GradHandle(x), key, rows, p](const Tensor& dout) {
    kernels::dropout_backward<float>(x.ensure_grad().data(), dout.data(), x.shape(), key, rows, p);
  });
  return out;
}

}  // namespace tapelm
