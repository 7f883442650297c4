// Positional encodings added to the token embeddings: fixed sinusoids ("Attention Is All You
// Need"), a learned table, or nothing here because positions enter through RoPE inside
// attention (Rotary) or not at all (None).
#pragma once

#include <tapelm/autograd/rng.h>
#include <tapelm/autograd/tensor.h>
#include <tapelm/data/enum_names.h>
#include <tapelm/nn/module.h>

namespace tapelm {

enum class PositionalKind { Sinusoidal, Learned, Rope, None };

// learned | sinusoidal | rope | none.
template <>
const EnumNames<PositionalKind>& enum_names<PositionalKind>();

// PE[pos, 2i] = sin(pos / base^(2i/dim)), PE[pos, 2i+1] = cos(pos / base^(2i/dim)),
// computed in double. Shape [max_len, dim].
Tensor sinusoidal_table(int64_t max_len, int64_t dim, double base = 10000.0);

class PositionalEncoding : public Module {
 public:
  // Learned: parameter `weight` [max_len, dim] ~ N(0, 0.02²), drawn from rng. The other
  // kinds have no parameters and draw nothing. `sinusoidal_base` is sinusoidal_table's base.
  PositionalEncoding(PositionalKind kind, int64_t max_len, int64_t dim, Rng& rng, float sinusoidal_base = 10000.0f);

  // x: [B, T, dim] → x + PE[start_pos : start_pos + T] (unchanged for Rope and None).
  Var forward(const Var& x, int64_t start_pos = 0) const;

  PositionalKind kind() const { return kind_; }
  int64_t max_len() const { return max_len_; }

 private:
  PositionalKind kind_;
  int64_t max_len_;
  int64_t dim_;
  Var table_;  // learned parameter or fixed sinusoids; undefined for Rope and None
};

}  // namespace tapelm
