// Rotary position embedding kernels (rotate-half convention of GPT-NeoX / Hugging Face
// LLaMA): within each head vector of width D, element i pairs with element i + D/2 and the
// pair is rotated by the angle pos·θ_i. Templated on the scalar so tests run them in double.
//
// Layout: `rows` = N·Tn consecutive vectors of width d, where row r has position
// start + (r mod t_len). cos/sin point at the table row for position `start`, each row
// holding d/2 values. Backward applies the inverse rotation and accumulates (+=).
#pragma once

#include <cstdint>

namespace tapelm::kernels {

template <class T>
void rope_forward(T* out, const T* inp, const T* cos, const T* sin, int64_t rows, int64_t t_len, int64_t d) {
  const int64_t half = d / 2;
#pragma omp parallel for schedule(static) if (rows * d > 32768)
  for (int64_t r = 0; r < rows; ++r) {
    const T* x = inp + r * d;
    T* y = out + r * d;
    const T* c = cos + (r % t_len) * half;
    const T* s = sin + (r % t_len) * half;
    for (int64_t i = 0; i < half; ++i) {
      const T x1 = x[i];
      const T x2 = x[i + half];
      y[i] = x1 * c[i] - x2 * s[i];
      y[i + half] = x2 * c[i] + x1 * s[i];
    }
  }
}

template <class T>
void rope_backward(T* dinp, const T* dout, const T* cos, const T* sin, int64_t rows, int64_t t_len, int64_t d) {
  const int64_t half = d / 2;
#pragma omp parallel for schedule(static) if (rows * d > 32768)
  for (int64_t r = 0; r < rows; ++r) {
    const T* dy = dout + r * d;
    T* dx = dinp + r * d;
    const T* c = cos + (r % t_len) * half;
    const T* s = sin + (r % t_len) * half;
    for (int64_t i = 0; i < half; ++i) {
      dx[i] += dy[i] * c[i] + dy[i + half] * s[i];
      dx[i + half] += dy[i + half] * c[i] - dy[i] * s[i];
    }
  }
}

}  // namespace tapelm::kernels
