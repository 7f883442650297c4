// Elementwise arithmetic and math with numpy-style broadcasting (shapes aligned on the
// right; a dimension of 1 or a missing leading dimension broadcasts). Backward sums the
// gradient back to each input's own shape.
#pragma once

#include <tapelm/autograd/variable.h>

namespace tapelm {

// The broadcast shape of a and b; throws naming `op` and both shapes when incompatible.
Shape broadcast_shape(const Shape& a, const Shape& b, const char* op);

Var add(const Var& a, const Var& b);
Var sub(const Var& a, const Var& b);
Var mul(const Var& a, const Var& b);
Var div(const Var& a, const Var& b);

Var add(const Var& a, float s);
Var mul(const Var& a, float s);
Var neg(const Var& a);
Var exp(const Var& a);
Var log(const Var& a);
Var tanh(const Var& a);
Var sqrt(const Var& a);
Var pow(const Var& a, float exponent);

inline Var operator+(const Var& a, const Var& b) { return add(a, b); }
inline Var operator-(const Var& a, const Var& b) { return sub(a, b); }
inline Var operator*(const Var& a, const Var& b) { return mul(a, b); }
inline Var operator/(const Var& a, const Var& b) { return div(a, b); }
inline Var operator+(const Var& a, float s) { return add(a, s); }
inline Var operator-(const Var& a, float s) { return add(a, -s); }
inline Var operator*(const Var& a, float s) { return mul(a, s); }
inline Var operator*(float s, const Var& a) { return mul(a, s); }
inline Var operator/(const Var& a, float s) { return mul(a, 1.0f / s); }
inline Var operator-(const Var& a) { return neg(a); }

}  // namespace tapelm
