// Normal draws for Rng.
#include <tapelm/autograd/rng.h>

#include <cmath>

namespace tapelm {

float Rng::normal() {
  // 1 - u keeps the argument of log in (0, 1].
  const double u1 = 1.0 - static_cast<double>(next_u64() >> 11) * (1.0 / 9007199254740992.0);
  const double u2 = static_cast<double>(next_u64() >> 11) * (1.0 / 9007199254740992.0);
  return static_cast<float>(std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2));
}

}  // namespace tapelm
