// Parameter initialisation (GPT-2 scheme): weights drawn from a seeded normal, so a model
// built twice from the same seed has bitwise identical parameters.
#pragma once

#include <tapelm/autograd/rng.h>
#include <tapelm/autograd/tensor.h>

namespace tapelm {

// Standard deviation of every linear and embedding weight.
constexpr float kInitStd = 0.02f;

// A tensor of draws from N(0, std²), taken in order from `rng`.
Tensor normal_tensor(const Shape& shape, Rng& rng, float std);

// GPT-2 scales the projections that write into the residual stream (attention output,
// FFN output) by 1/sqrt(2·n_layer), so the residual's variance does not grow with depth.
float residual_init_std(int64_t n_layer);

}  // namespace tapelm
