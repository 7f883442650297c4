// Rotary position embedding (RoPE, Su et al. 2021) as its own op: q and k are rotated by
// position-dependent angles inside attention, so q·k depends on the relative offset only.
// Convention: rotate-half (element i pairs with i + D/2), θ_i = base^(-2i/D).
#pragma once

#include <cstdint>

#include <tapelm/autograd/tensor.h>
#include <tapelm/autograd/variable.h>

namespace tapelm {

// cos and sin of pos·θ_i for pos in [0, max_len), i in [0, head_dim/2), computed in double.
class RopeTable {
 public:
  RopeTable(int64_t max_len, int64_t head_dim, float base = 10000.0f);

  int64_t max_len() const { return max_len_; }
  int64_t head_dim() const { return head_dim_; }
  const Tensor& cos() const { return cos_; }  // [max_len, head_dim/2]
  const Tensor& sin() const { return sin_; }  // [max_len, head_dim/2]

 private:
  int64_t max_len_;
  int64_t head_dim_;
  Tensor cos_;
  Tensor sin_;
};

// x: [..., T, D] with D = table.head_dim(); the T rows sit at positions
// start_pos .. start_pos + T - 1 (start_pos > 0 when continuing from a KV cache).
Var rope(const Var& x, const RopeTable& table, int64_t start_pos = 0);

}  // namespace tapelm
