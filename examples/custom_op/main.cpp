// A custom op: logaddexp(a, b) = log(exp(a) + exp(b)) elementwise, computed eagerly and put on
// the tape with record_op and its backward, then checked against finite differences with the
// library's gradcheck, alone and inside an expression of library ops.
// Exits 0 when every check passes, 1 otherwise.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <vector>

#include <tapelm/autograd/gradcheck.h>
#include <tapelm/autograd/ops.h>
#include <tapelm/autograd/record.h>

using namespace tapelm;

// log(exp(a) + exp(b)) = max(a, b) + log1p(exp(−|a − b|)), which never overflows.
// d/da = σ(a − b) and d/db = σ(b − a) = 1 − d/da.
Var logaddexp(const Var& a, const Var& b) {
  if (a.shape() != b.shape()) throw std::invalid_argument("logaddexp: a and b must have the same shape");
  Var out{Tensor(a.shape())};
  for (int64_t i = 0; i < a.numel(); ++i) {
    const float x = a.data()[i], y = b.data()[i];
    out.data()[i] = std::max(x, y) + std::log1p(std::exp(-std::abs(x - y)));
  }
  // The backward runs when the loss's gradient reaches `out`; it adds into the inputs'
  // gradients (+=), since an input may feed several ops.
  record_op("logaddexp", out, {&a, &b}, [a, b](const Tensor& dout) {
    for (int64_t i = 0; i < a.numel(); ++i) {
      const float da = 1.0f / (1.0f + std::exp(b.data()[i] - a.data()[i]));
      if (a.requires_grad()) a.ensure_grad().data()[i] += dout.data()[i] * da;
      if (b.requires_grad()) b.ensure_grad().data()[i] += dout.data()[i] * (1.0f - da);
    }
  });
  return out;
}

// Prints the check's outcome; true when it passed.
bool report(const char* what, const GradcheckResult& result) {
  std::printf("%-40s %s\n", what, result.summary().c_str());
  return result.passed();
}

int main() {
  const Tensor a = random_tensor({4, 5}, /*seed=*/1, /*scale=*/2.0f);
  const Tensor b = random_tensor({4, 5}, /*seed=*/2, /*scale=*/2.0f);

  bool ok = true;
  ok &= report("logaddexp(a, b)", gradcheck([](std::vector<Var>& v) { return logaddexp(v[0], v[1]); }, {a, b}));
  // Inside an expression: the tape chains the custom backward with the library's.
  ok &= report("sum(logaddexp(tanh(a), a * b), 1)",
               gradcheck([](std::vector<Var>& v) { return sum(logaddexp(tanh(v[0]), mul(v[0], v[1])), 1); },
                         {a, b}));
  // Only `a` differentiable: b is a constant input and gets no gradient.
  GradcheckOptions only_a;
  only_a.differentiable = {true, false};
  ok &= report("logaddexp(a, constant b)",
               gradcheck([](std::vector<Var>& v) { return logaddexp(v[0], v[1]); }, {a, b}, only_a));

  if (!ok) {
    std::fprintf(stderr, "custom_op: the backward disagrees with finite differences\n");
    return 1;
  }
  std::printf("gradcheck passed\n");
  return 0;
}
