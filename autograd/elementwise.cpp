// Elementwise ops: broadcasting binary arithmetic and unary math, one tape node each.
#include <tapelm/autograd/elementwise.h>

#include <stdexcept>
#include <string>

#include <tapelm/autograd/check.h>
#include <tapelm/autograd/kernels/broadcast.h>
#include <tapelm/autograd/kernels/elementwise.h>
#include <tapelm/autograd/record.h>

namespace tapelm {

Shape broadcast_shape(const Shape& a, const Shape& b, const char* op) {
  const std::size_t rank = std::max(a.size(), b.size());
  Shape out(rank);
  for (std::size_t i = 0; i < rank; ++i) {
    // Right-aligned: position i of the result is position i - (rank - size) of each input.
    const int64_t da = i + a.size() >= rank ? a[i + a.size() - rank] : 1;
    const int64_t db = i + b.size() >= rank ? b[i + b.size() - rank] : 1;
    if (da != db && da != 1 && db != 1) {
      throw ShapeError(std::string(op) + ": shapes " + shape_str(a) + " and " + shape_str(b) +
                       " do not broadcast (aligned on the right, each dimension pair must "
                       "be equal or contain a 1)");
    }
    out[i] = da == 1 ? db : da;
  }
  return out;
}

namespace {

// x.grad += scale · g summed down to x's shape (g has the broadcast output's shape).
void accumulate_reduced(const GradHandle& x, const Tensor& g, float scale) {
  const kernels::BroadcastPlan plan = kernels::make_broadcast_plan(g.shape(), {&x.shape()});
  kernels::sum_to(x.ensure_grad().data(), g.data(), scale, plan);
}

// x.grad += f(dout, y) summed down to x's shape, y broadcast against dout. When x has
// the full shape the product goes straight into its gradient; otherwise it is formed in
// a pooled temporary first and then reduced.
template <class F>
void accumulate_product(const Var& x, const Tensor& dout, const Tensor& y, F f) {
  const kernels::BroadcastPlan plan = kernels::make_broadcast_plan(dout.shape(), {&dout.shape(), &y.shape()});
  if (x.shape() == dout.shape()) {
    kernels::broadcast_apply<true>(x.ensure_grad().data(), dout.data(), y.data(), plan, f);
    return;
  }
  Tensor full(dout.shape());
  kernels::broadcast_apply<false>(full.data(), dout.data(), y.data(), plan, f);
  accumulate_reduced(GradHandle(x), full, 1.0f);
}

enum class Arith { kAdd, kSub, kMul, kDiv };

const char* arith_name(Arith op) {
  switch (op) {
    case Arith::kAdd: return "add";
    case Arith::kSub: return "sub";
    case Arith::kMul: return "mul";
    case Arith::kDiv: return "div";
  }
  return "?";
}

template <class F>
Var binary_forward(const Var& a, const Var& b, const char* name, F f) {
  check_defined(a, name, "a");
  check_defined(b, name, "b");
  const Shape shape = broadcast_shape(a.shape(), b.shape(), name);
  Var out{Tensor(shape)};
  const kernels::BroadcastPlan plan = kernels::make_broadcast_plan(shape, {&a.shape(), &b.shape()});
  kernels::broadcast_apply<false>(out.data(), a.data(), b.data(), plan, f);
  return out;
}

Var arith(const Var& a, const Var& b, Arith op) {
  const char* name = arith_name(op);
  Var out;
  switch (op) {
    case Arith::kAdd: out = binary_forward(a, b, name, [](float x, float y) { return x + y; }); break;
    case Arith::kSub: out = binary_forward(a, b, name, [](float x, float y) { return x - y; }); break;
    case Arith::kMul: out = binary_forward(a, b, name, [](float x, float y) { return x * y; }); break;
    case Arith::kDiv: out = binary_forward(a, b, name, [](float x, float y) { return x / y; }); break;
  }
  switch (op) {
    case Arith::kAdd:
    case Arith::kSub: {
      // Reads no values: the node holds gradients only, so a residual branch's value can go early.
      const float sign_b = op == Arith::kAdd ? 1.0f : -1.0f;
      record_op(name, out, {&a, &b}, [a = GradHandle(a), b = GradHandle(b), sign_b](const Tensor& g) {
        if (a.requires_grad()) accumulate_reduced(a, g, 1.0f);
        if (b.requires_grad()) accumulate_reduced(b, g, sign_b);
      });
      break;
    }
    case Arith::kMul:
      record_op(name, out, {&a, &b}, [a, b](const Tensor& g) {
        auto product = [](float x, float y) { return x * y; };
        if (a.requires_grad()) accumulate_product(a, g, b.value(), product);
        if (b.requires_grad()) accumulate_product(b, g, a.value(), product);
      });
      break;
    case Arith::kDiv:
      record_op(name, out, {&a, &b}, [a, b, out_value = out.value()](const Tensor& g) {
        // d/da = g / b; d/db = -g·a / b² = -(g·out) / b.
        if (a.requires_grad()) accumulate_product(a, g, b.value(), [](float x, float y) { return x / y; });
        if (b.requires_grad()) {
          Tensor g_out(g.shape());
          const kernels::BroadcastPlan same = kernels::make_broadcast_plan(g.shape(), {&g.shape(), &g.shape()});
          kernels::broadcast_apply<false>(g_out.data(), g.data(), out_value.data(), same,
                                          [](float x, float y) { return x * y; });
          accumulate_product(b, g_out, b.value(), [](float x, float y) { return -x / y; });
        }
      });
      break;
  }
  return out;
}

// Which values a unary backward reads; the node keeps only those alive.
enum class Reads { kNothing, kInput, kOutput };

// Eager forward, then one node whose backward adds into x's grad. `forward(out, inp, n)`,
// `backward(dinp, inp, out, dout, n)`, where inp and out are null unless `reads` names them.
template <class Forward, class Backward>
Var unary(const Var& x, const char* op, Reads reads, Forward forward, Backward backward) {
  check_defined(x, op, "x");
  Var out{Tensor(x.shape())};
  forward(out.data(), x.data(), x.numel());
  record_op(op, out, {&x},
            [dx = GradHandle(x), inp = reads == Reads::kInput ? x.value() : Tensor(),
             outp = reads == Reads::kOutput ? out.value() : Tensor(), backward](const Tensor& dout) {
    backward(dx.ensure_grad().data(), inp.data(), outp.data(), dout.data(), dout.numel());
  });
  return out;
}

}  // namespace

Var add(const Var& a, const Var& b) { return arith(a, b, Arith::kAdd); }
Var sub(const Var& a, const Var& b) { return arith(a, b, Arith::kSub); }
Var mul(const Var& a, const Var& b) { return arith(a, b, Arith::kMul); }
Var div(const Var& a, const Var& b) { return arith(a, b, Arith::kDiv); }

Var add(const Var& a, float s) {
  return unary(
      a, "add", Reads::kNothing, [s](float* out, const float* in, int64_t n) { kernels::shift_forward(out, in, n, s); },
      kernels::shift_backward<float>);
}

Var mul(const Var& a, float s) {
  return unary(
      a, "mul", Reads::kNothing, [s](float* out, const float* in, int64_t n) { kernels::scale_forward(out, in, n, s); },
      [s](float* dinp, const float* in, const float* out, const float* dout, int64_t n) {
        kernels::scale_backward(dinp, in, out, dout, n, s);
      });
}

Var neg(const Var& a) { return mul(a, -1.0f); }
Var exp(const Var& a) {
  return unary(a, "exp", Reads::kOutput, kernels::exp_forward<float>, kernels::exp_backward<float>);
}
Var log(const Var& a) {
  return unary(a, "log", Reads::kInput, kernels::log_forward<float>, kernels::log_backward<float>);
}
Var tanh(const Var& a) {
  return unary(a, "tanh", Reads::kOutput, kernels::tanh_forward<float>, kernels::tanh_backward<float>);
}
Var sqrt(const Var& a) {
  return unary(a, "sqrt", Reads::kOutput, kernels::sqrt_forward<float>, kernels::sqrt_backward<float>);
}

Var pow(const Var& a, float exponent) {
  return unary(
      a, "pow", Reads::kInput, [exponent](float* out, const float* in, int64_t n) { kernels::pow_forward(out, in, n, exponent); },
      [exponent](float* dinp, const float* in, const float* out, const float* dout, int64_t n) {
        kernels::pow_backward(dinp, in, out, dout, n, exponent);
      });
}

}  // namespace tapelm
