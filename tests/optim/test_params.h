// Small parameters and hand-set gradients shared by the optimizer tests (no ops needed).
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include <tapelm/autograd/variable.h>
#include <tapelm/nn/module.h>

namespace tapelm::testing {

// Runs f, which must throw E with a message containing `needle`.
template <class E, class F>
void expect_error_containing(F&& f, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "no exception; expected one containing: " << needle;
  } catch (const E& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << "message: " << e.what();
  }
}

inline void set_grad(const Var& v, const std::vector<float>& g) {
  Tensor& grad = v.ensure_grad();
  ASSERT_EQ(static_cast<int64_t>(g.size()), grad.numel());
  std::memcpy(grad.data(), g.data(), g.size() * sizeof(float));
}

// The gradient schedule of tests/optim/torch_reference.py: exactly representable values.
inline std::vector<float> reference_grad(int step, int n, int offset) {
  std::vector<float> g(n);
  for (int i = 0; i < n; ++i) g[i] = static_cast<float>(((step * 7 + (i + offset) * 3) % 11) - 5) * 0.125f;
  return g;
}

// Compares with values printed by tests/optim/torch_reference.py (torch 1.13). The update
// loops round as torch's kernels do (optim/fmadd.h), so on CPUs with FMA the results agree
// to the bit; elsewhere allow 2 ulp.
inline void expect_matches_torch(const Var& v, const std::vector<float>& torch_values) {
  ASSERT_EQ(v.numel(), static_cast<int64_t>(torch_values.size()));
  for (std::size_t i = 0; i < torch_values.size(); ++i) {
#ifdef FP_FAST_FMAF
    EXPECT_EQ(v.data()[i], torch_values[i]) << i;
#else
    EXPECT_NEAR(v.data()[i], torch_values[i], 2.4e-7 * std::abs(torch_values[i])) << i;
#endif
  }
}

// The two parameters of tests/optim/torch_reference.py.
struct ReferenceParams {
  Var w{Tensor::from_vector({2, 3}, {0.5f, -1.0f, 2.0f, 0.0f, 0.25f, -0.75f}), true};
  Var b{Tensor::from_vector({3}, {0.1f, -0.2f, 0.3f}), true};
  void set_grads(int step) const {
    set_grad(w, reference_grad(step, 6, 0));
    set_grad(b, reference_grad(step, 3, 6));
  }
};

}  // namespace tapelm::testing
