// Sinusoidal and learned positional encodings.
#include <tapelm/nn/positional.h>

#include <cmath>
#include <stdexcept>

#include <tapelm/autograd/elementwise.h>
#include <tapelm/autograd/errors.h>
#include <tapelm/autograd/shape_ops.h>
#include <tapelm/nn/init.h>

namespace tapelm {

template <>
const EnumNames<PositionalKind>& enum_names<PositionalKind>() {
  static const EnumNames<PositionalKind> names("pos_encoding", {{PositionalKind::Learned, "learned"},
                                                                {PositionalKind::Sinusoidal, "sinusoidal"},
                                                                {PositionalKind::Rope, "rope"},
                                                                {PositionalKind::None, "none"}});
  return names;
}

Tensor sinusoidal_table(int64_t max_len, int64_t dim, double base) {
  Tensor t({max_len, dim});
  for (int64_t pos = 0; pos < max_len; ++pos) {
    for (int64_t j = 0; j < dim; ++j) {
      const double freq = std::pow(base, -static_cast<double>(j - j % 2) / static_cast<double>(dim));
      const double angle = static_cast<double>(pos) * freq;
      t.data()[pos * dim + j] = static_cast<float>(j % 2 == 0 ? std::sin(angle) : std::cos(angle));
    }
  }
  return t;
}

PositionalEncoding::PositionalEncoding(PositionalKind kind, int64_t max_len, int64_t dim, Rng& rng,
                                       float sinusoidal_base)
    : kind_(kind), max_len_(max_len), dim_(dim) {
  if (max_len <= 0 || dim <= 0) {
    throw std::invalid_argument("PositionalEncoding: max_len and dim must be positive, got " +
                                std::to_string(max_len) + " and " + std::to_string(dim));
  }
  if (kind == PositionalKind::Learned) {
    table_ = register_parameter("weight", normal_tensor({max_len, dim}, rng, kInitStd));
  } else if (kind == PositionalKind::Sinusoidal) {
    table_ = Var(sinusoidal_table(max_len, dim, sinusoidal_base));
  }
}

Var PositionalEncoding::forward(const Var& x, int64_t start_pos) const {
  if (x.dim() != 3 || x.size(2) != dim_) {
    throw ShapeError("PositionalEncoding::forward: expected [B, T, " + std::to_string(dim_) +
                     "], got " + shape_str(x.shape()));
  }
  const int64_t t_len = x.size(1);
  if (start_pos < 0 || start_pos + t_len > max_len_) {
    throw IndexError("PositionalEncoding::forward: positions [" + std::to_string(start_pos) + ", " +
                     std::to_string(start_pos + t_len) + ") exceed ctx_len " +
                     std::to_string(max_len_));
  }
  if (!table_.defined()) return x;
  // [T, dim] broadcasts over the batch; its gradient (learned case) is summed over B.
  const Var rows = (start_pos == 0 && t_len == max_len_) ? table_ : slice(table_, 0, start_pos, start_pos + t_len);
  return add(x, rows);
}

}  // namespace tapelm
