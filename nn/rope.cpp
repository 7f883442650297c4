// RoPE table construction and the rope op (one tape node).
#include <tapelm/nn/rope.h>

#include <cmath>
#include <stdexcept>

#include <tapelm/autograd/errors.h>
#include <tapelm/autograd/record.h>
#include <tapelm/nn/kernels/rope.h>

namespace tapelm {

RopeTable::RopeTable(int64_t max_len, int64_t head_dim, float base)
    : max_len_(max_len), head_dim_(head_dim) {
  if (max_len <= 0 || head_dim <= 0 || head_dim % 2 != 0 || !(base > 0.0f)) {
    throw std::invalid_argument("RopeTable: need max_len > 0, an even head_dim > 0 and base > 0, got max_len " +
                                std::to_string(max_len) + ", head_dim " + std::to_string(head_dim) +
                                ", base " + std::to_string(base));
  }
  const int64_t half = head_dim / 2;
  cos_ = Tensor({max_len, half});
  sin_ = Tensor({max_len, half});
  for (int64_t i = 0; i < half; ++i) {
    const double theta = std::pow(static_cast<double>(base), -2.0 * static_cast<double>(i) / head_dim);
    for (int64_t p = 0; p < max_len; ++p) {
      const double angle = static_cast<double>(p) * theta;
      cos_.data()[p * half + i] = static_cast<float>(std::cos(angle));
      sin_.data()[p * half + i] = static_cast<float>(std::sin(angle));
    }
  }
}

Var rope(const Var& x, const RopeTable& table, int64_t start_pos) {
  if (x.dim() < 2 || x.size(-1) != table.head_dim()) {
    throw ShapeError("rope: input of shape " + shape_str(x.shape()) +
                     " must be [..., T, D] with D = head_dim = " + std::to_string(table.head_dim()));
  }
  const int64_t t_len = x.size(-2);
  const int64_t d = table.head_dim();
  if (start_pos < 0 || start_pos + t_len > table.max_len()) {
    throw IndexError("rope: positions [" + std::to_string(start_pos) + ", " +
                     std::to_string(start_pos + t_len) + ") exceed the table's max_len " +
                     std::to_string(table.max_len()) + " (the context length)");
  }
  const int64_t rows = x.numel() / d;
  const int64_t offset = start_pos * (d / 2);
  Tensor cos = table.cos();
  Tensor sin = table.sin();
  Var out(Tensor(x.shape()));
  kernels::rope_forward(out.data(), x.data(), cos.data() + offset, sin.data() + offset, rows, t_len, d);
  record_op("rope", out, {&x}, [x = GradHandle(x), cos, sin, offset, rows, t_len, d](const Tensor& dout) {
    kernels::rope_backward(x.ensure_grad().data(), dout.data(), cos.data() + offset,
                           sin.data() + offset, rows, t_len, d);
  });
  return out;
}

}  // namespace tapelm
