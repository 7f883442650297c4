// Inverted dropout with a counter-based RNG: reproducible for a seed, any thread count.
#pragma once

#include "autograd/rng.h"
#include "autograd/variable.h"

namespace tapelm {

// Zeroes each element with probability p and scales survivors by 1/(1-p), drawing numel(x)
// values from rng. When !training or p == 0 it returns x itself and draws nothing.
// p must be in [0, 1).
Var dropout(const Var& x, float p, Rng& rng, bool training);

}  // namespace tapelm
