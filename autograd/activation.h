// Pointwise activations, each a fused forward/backward kernel pair.
#pragma once

#include <tapelm/autograd/variable.h>

namespace tapelm {

Var relu(const Var& x);
// tanh approximation, as in GPT-2: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
Var gelu(const Var& x);
Var gelu_exact(const Var& x);  // 0.5·x·(1 + erf(x/√2)), PyTorch's GELU(approximate="none")
Var silu(const Var& x);  // x·σ(x)

}  // namespace tapelm
