// Finite-difference checks of a module's parameter gradients, and small shared fixtures
// for the nn tests.
//
// The check itself is the library's (autograd/gradcheck.h): L = Σ f() ⊙ R, dL/dθ from one
// backward against each element of θ nudged by ±h in place.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <memory>

#include <tapelm/autograd/ops.h>
#include "gradcheck.h"
#include <tapelm/nn/module.h>
#include <tapelm/nn/transformer_config.h>
#include <tapelm/nn/transformer_stack.h>

namespace tapelm::testing {

// Checks every parameter of `module` (at most `max_per_param` evenly spaced elements of
// each, 0 = all) with the library's gradcheck_parameters; one failure per disagreeing element.
// f must be deterministic: dropout off or p = 0.
inline void expect_parameter_gradients_match(const Module& module, const std::function<Var()>& f, float h = 1e-2f,
                                             float tolerance = 5e-3f, int64_t max_per_param = 0) {
  const NamedParameters params = module.named_parameters();
  GradcheckOptions options;
  options.h = h;
  options.tolerance = tolerance;
  options.seed = 54321;
  const GradcheckResult result = gradcheck_parameters(params, f, options, max_per_param);
  ASSERT_TRUE(result.error.empty()) << result.error;
  for (const GradcheckMismatch& m : result.mismatches) {
    ADD_FAILURE() << params[m.input].first << " element " << m.element << ": analytic " << m.analytic << ", numeric "
                  << m.numeric << " (tolerance " << tolerance << " relative to max(1, max |grad|))";
  }
}

// Replaces every parameter (norm weights included) by N(0, scale²) draws, so gradient
// checks run at a generic point: at init the residual stream is ~0.02 wide, and a step of
// h = 1e-2 would then be half its width — far outside the linear regime of the norms.
inline void randomize_parameters(const Module& m, uint64_t seed, float scale = 0.4f) {
  for (auto& [_, p] : m.named_parameters()) p.value() = random_tensor(p.shape(), seed++, scale);
}

// A tiny architecture for fast checks: C = 8, 2 heads, ffn_hidden = 12, short context.
inline TransformerConfig tiny_config() {
  TransformerConfig cfg;
  cfg.n_embd = 8;
  cfg.n_head = 2;
  cfg.ffn_hidden = 12;
  cfg.ctx_len = 16;
  cfg.dropout = 0.0f;
  return cfg;
}

// Owns the init stream and dropout source a LayerContext points at, for tests that build layers directly.
struct LayerFixture {
  explicit LayerFixture(const TransformerConfig& cfg, int64_t n_layer = 2, uint64_t seed = 3)
      : init_rng(seed), context(make_layer_context(cfg, init_rng, std::make_shared<DropoutSource>(seed), n_layer)) {}
  Rng init_rng;
  LayerContext context;
};

// Max |a − b| over two equally shaped tensors, or over a sub-range of rows.
inline float max_abs_diff(const float* a, const float* b, int64_t n) {
  float m = 0.0f;
  for (int64_t i = 0; i < n; ++i) m = std::max(m, std::abs(a[i] - b[i]));
  return m;
}

}  // namespace tapelm::testing
