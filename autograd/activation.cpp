// Activation ops: each calls its kernel pair and records one tape node.
#include <tapelm/autograd/activation.h>

#include <tapelm/autograd/check.h>
#include <tapelm/autograd/kernels/activation.h>
#include <tapelm/autograd/record.h>

namespace tapelm {

namespace {

using Forward = void (*)(float*, const float*, int64_t);
using Backward = void (*)(float*, const float*, const float*, int64_t);

// The common op shape: eager forward, then one node whose backward adds into x's grad.
// The backward reads the input, or the output where `reads_output` (relu: its output is
// positive exactly where its input is), and the node keeps only that value alive.
Var pointwise(const Var& x, const char* op, Forward forward, Backward backward, bool reads_output = false) {
  check_defined(x, op, "x");
  Var out(Tensor(x.shape()));
  forward(out.data(), x.data(), x.numel());
  record_op(op, out, {&x}, [dx = GradHandle(x), read = reads_output ? out.value() : x.value(), backward](
                               const Tensor& dout) {
    backward(dx.ensure_grad().data(), read.data(), dout.data(), dout.numel());
  });
  return out;
}

}  // namespace

Var relu(const Var& x) {
  return pointwise(x, "relu", kernels::relu_forward<float>, kernels::relu_backward<float>, /*reads_output=*/true);
}
Var gelu(const Var& x) { return pointwise(x, "gelu", kernels::gelu_forward<float>, kernels::gelu_backward<float>); }
Var gelu_exact(const Var& x) {
  return pointwise(x, "gelu_exact", kernels::gelu_exact_forward<float>, kernels::gelu_exact_backward<float>);
}
Var silu(const Var& x) { return pointwise(x, "silu", kernels::silu_forward<float>, kernels::silu_backward<float>); }

}  // namespace tapelm
