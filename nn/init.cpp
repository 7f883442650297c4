// Seeded normal initialisation.
#include <tapelm/nn/init.h>

#include <cmath>
#include <stdexcept>

namespace tapelm {

Tensor normal_tensor(const Shape& shape, Rng& rng, float std) {
  Tensor t(shape);
  float* p = t.data();
  // Sequential draws: the parameter values depend only on the seed and construction order.
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = std * rng.normal();
  return t;
}

float residual_init_std(int64_t n_layer) {
  if (n_layer <= 0) {
    throw std::invalid_argument("residual_init_std: n_layer must be positive, got " +
                                std::to_string(n_layer));
  }
  return kInitStd / std::sqrt(2.0f * static_cast<float>(n_layer));
}

}  // namespace tapelm
