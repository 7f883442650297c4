// matmul and linear: shape checks, then GEMM calls (autograd/kernels/gemm.h) forward and
// backward, writing or adding straight into gradient buffers.
#include <tapelm/autograd/matmul.h>

#include <stdexcept>
#include <string>

#include <tapelm/autograd/bf16_weights.h>
#include <tapelm/autograd/check.h>
#include <tapelm/autograd/kernels/broadcast.h>
#include <tapelm/autograd/kernels/gemm.h>
#include <tapelm/autograd/record.h>
#include <tapelm/autograd/tape.h>

namespace tapelm {

namespace {

// Sizes of a (batched) product op(a)[M, K] · op(b)[K, N].
struct MatmulDims {
  int64_t batch = 1, m = 0, n = 0, k = 0;
  bool shared_b = false;  // b is rank 2 and used by every batch entry
  Shape out;
};

MatmulDims matmul_dims(const Shape& a, const Shape& b, bool trans_a, bool trans_b) {
  auto fail = [&](const std::string& why) {
    throw ShapeError("matmul: a " + shape_str(a) + (trans_a ? " (trans_a)" : "") + " and b " +
                     shape_str(b) + (trans_b ? " (trans_b)" : "") + ": " + why);
  };
  const std::size_t rank = a.size();
  if (rank < 2 || rank > 4) fail("expected a of rank 2, 3 or 4");
  if (b.size() != 2 && b.size() != rank) fail("expected b of rank 2 or of the same rank as a");
  MatmulDims d;
  d.m = trans_a ? a[rank - 1] : a[rank - 2];
  d.k = trans_a ? a[rank - 2] : a[rank - 1];
  const int64_t kb = trans_b ? b[b.size() - 1] : b[b.size() - 2];
  d.n = trans_b ? b[b.size() - 2] : b[b.size() - 1];
  if (kb != d.k) {
    fail("inner dimensions differ (" + std::to_string(d.k) + " vs " + std::to_string(kb) + ")");
  }
  d.shared_b = b.size() == 2 && rank > 2;
  for (std::size_t i = 0; i + 2 < rank; ++i) {
    if (!d.shared_b && a[i] != b[i]) fail("expected equal batch dimensions");
    d.batch *= a[i];
    d.out.push_back(a[i]);
  }
  d.out.push_back(d.m);
  d.out.push_back(d.n);
  return d;
}

// The bf16 operands of a product of activation a (untransposed, `rows` rows) by weight w: w's
// copy, and a's copy if a was rounded already; else, when `keep` (a later product will read
// a), a's copy for this product to round a into, to be recorded by kept() once it ran.
struct LinearOperands {
  kernels::Bf16Operands bf16;
  const Tensor* a = nullptr;
  uint64_t a_version = 0;

  LinearOperands(const Tensor& activation, const Tensor& w, int64_t rows, bool keep) {
    // Empty products write nothing: no copy could be filled.
    if (rows == 0 || w.numel() == 0) return;
    bf16.b = bf16_weight(w, rows);
    if (!bf16.b) return;  // this product runs in fp32, or copies are off
    const Bf16Activation a16 = bf16_activation(activation, rows, keep);
    if (a16.current) {
      bf16.a = a16.data;
    } else if (a16.data) {
      bf16.keep_a = a16.data;
      a = &activation;
      a_version = a16.version;
    }
  }
  void kept() const {
    if (a) keep_bf16_copy(*a, a_version);
  }
};

}  // namespace

Var matmul(const Var& a, const Var& b, bool trans_a, bool trans_b) {
  check_defined(a, "matmul", "a");
  check_defined(b, "matmul", "b");
  const MatmulDims d = matmul_dims(a.shape(), b.shape(), trans_a, trans_b);
  const int64_t mk = d.m * d.k, kn = d.shared_b ? 0 : d.k * d.n, mn = d.m * d.n;
  Var out{Tensor(d.out)};
  kernels::batched_gemm(out.data(), a.data(), b.data(), {d.batch, mk, kn, mn}, d.m, d.n, d.k, trans_a, trans_b,
                        false);
  record_op("matmul", out, {&a, &b}, [a, b, d, trans_a, trans_b, mk, kn, mn](const Tensor& dout) {
    const float* g = dout.data();
    // With X = op(a), Y = op(b), G = dL/d(XY): dX = G·Yᵀ and dY = Xᵀ·G, transposed back
    // into a's and b's storage layouts.
    if (a.requires_grad()) {
      const GradFill da = a.grad_to_fill();
      if (!trans_a) {
        kernels::batched_gemm(da.data, g, b.data(), {d.batch, mn, kn, mk}, d.m, d.k, d.n, false, !trans_b,
                              da.accumulate);
      } else {
        kernels::batched_gemm(da.data, b.data(), g, {d.batch, kn, mn, mk}, d.k, d.m, d.n, trans_b, true,
                              da.accumulate);
      }
    }
    if (b.requires_grad()) {
      const GradFill db = b.grad_to_fill();
      if (!trans_b) {
        kernels::batched_gemm(db.data, a.data(), g, {d.batch, mk, mn, kn}, d.k, d.n, d.m, !trans_a, false,
                              db.accumulate);
      } else {
        kernels::batched_gemm(db.data, g, a.data(), {d.batch, mn, mk, kn}, d.n, d.k, d.m, true, trans_a,
                              db.accumulate);
      }
    }
  });
  return out;
}

Var linear(const Var& x, const Var& weight, const Var& bias) {
  check_defined(x, "linear", "x");
  check_defined(weight, "linear", "weight");
  const bool has_bias = bias.defined();
  auto fail = [&](const std::string& why) {
    throw ShapeError("linear: x " + shape_str(x.shape()) + ", weight " + shape_str(weight.shape()) +
                     ", bias " + (has_bias ? shape_str(bias.shape()) : std::string("none")) + ": " +
                     why);
  };
  if (x.dim() < 1) fail("expected x of rank >= 1");
  if (weight.dim() != 2) fail("expected weight of shape [out, in]");
  const int64_t in = weight.size(1), out_features = weight.size(0);
  if (x.size(-1) != in) fail("the last dimension of x must equal weight's in (dimension 1)");
  if (has_bias && (bias.dim() != 1 || bias.size(0) != out_features)) fail("expected bias of shape [out]");
  const int64_t rows = x.numel() / in;

  Shape shape = x.shape();
  shape.back() = out_features;
  Var y{Tensor(shape)};
  // In bf16 the products share their operands' bf16 copies (autograd/bf16_weights.h): the
  // weight's, x's (rounded here, read by the weight gradient) and dy's (rounded by the input
  // gradient, read by the weight gradient).
  // x's copy is kept only for a weight gradient to read.
  const LinearOperands operands(x.value(), weight.value(), rows, grad_enabled() && weight.requires_grad());
  kernels::gemm(y.data(), x.data(), weight.data(), rows, out_features, in, false, true, false, operands.bf16,
                has_bias ? bias.data() : nullptr);
  operands.kept();

  record_op("linear", y, {&x, &weight, &bias}, [x, weight, bias, rows, in, out_features](const Tensor& dout) {
    const float* g = dout.data();
    if (x.requires_grad()) {
      const GradFill dx = x.grad_to_fill();
      const LinearOperands operands(dout, weight.value(), rows, weight.requires_grad());
      kernels::gemm(dx.data, g, weight.data(), rows, in, out_features, false, false, dx.accumulate, operands.bf16);
      operands.kept();
    }
    if (weight.requires_grad()) {
      const GradFill dw = weight.grad_to_fill();
      kernels::gemm(dw.data, g, x.data(), out_features, in, rows, true, false, dw.accumulate,
                    {current_bf16_copy(dout), nullptr, current_bf16_copy(x.value())});
    }
    if (bias.requires_grad()) {
      const Shape full = {rows, out_features};
      const kernels::BroadcastPlan plan = kernels::make_broadcast_plan(full, {&bias.shape()});
      kernels::sum_to(bias.ensure_grad().data(), g, 1.0f, plan);
    }
  });
  return y;
}

}  // namespace tapelm
