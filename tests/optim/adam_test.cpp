// Adam and AdamW: the documented formulas, PyTorch agreement, skipping, groups, threads.
#include <tapelm/optim/adam.h>

#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <stdexcept>

#include "test_params.h"

namespace tapelm {
namespace {

using testing::expect_matches_torch;
using testing::ReferenceParams;
using testing::reference_grad;
using testing::expect_error_containing;
using testing::set_grad;

// The formula of optim/adam.h evaluated in double, independently of the float kernel.
struct DoubleAdam {
  std::vector<double> p, m, v;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  bool decoupled;
  int t = 0;
  DoubleAdam(std::vector<double> start, bool decoupled_)
      : p(std::move(start)), m(p.size(), 0.0), v(p.size(), 0.0), decoupled(decoupled_) {}
  void step(const std::vector<float>& grad, double lr, double wd) {
    ++t;
    for (std::size_t i = 0; i < p.size(); ++i) {
      double g = grad[i];
      if (decoupled) {
        p[i] -= lr * wd * p[i];
      } else {
        g += wd * p[i];
      }
      m[i] = beta1 * m[i] + (1 - beta1) * g;
      v[i] = beta2 * v[i] + (1 - beta2) * g * g;
      const double m_hat = m[i] / (1 - std::pow(beta1, t));
      const double v_hat = v[i] / (1 - std::pow(beta2, t));
      p[i] -= lr * m_hat / (std::sqrt(v_hat) + eps);
    }
  }
};

void expect_follows_double_formula(bool decoupled) {
  const std::vector<float> start = {0.5f, -1.0f, 2.0f, 0.0f, 0.25f, -0.75f};
  Var w(Tensor::from_vector({2, 3}, start), true);
  const double lr = 0.01, wd = 0.1;
  std::vector<ParamGroup> groups = {{"all", {{"w", w}}, 1.0, wd}};
  std::unique_ptr<Optimizer> opt;
  if (decoupled) opt = std::make_unique<AdamW>(groups);
  else opt = std::make_unique<Adam>(groups);
  DoubleAdam expected(std::vector<double>(start.begin(), start.end()), decoupled);
  for (int step = 0; step < 3; ++step) {
    const std::vector<float> g = reference_grad(step + 1, 6, 0);
    set_grad(w, g);
    opt->step(lr);
    expected.step(g, lr, wd);
    for (int i = 0; i < 6; ++i) EXPECT_NEAR(w.data()[i], expected.p[i], 1e-6) << "step " << step << " i " << i;
  }
  EXPECT_EQ(opt->step_count("w"), 3);
}

TEST(AdamW, FollowsTheDecoupledFormulaForThreeSteps) { expect_follows_double_formula(true); }

TEST(Adam, FollowsTheCoupledL2FormulaForThreeSteps) { expect_follows_double_formula(false); }

// Values printed by tests/optim/torch_reference.py (torch.optim.AdamW / Adam).
TEST(AdamW, MatchesPyTorchOverTenStepsWithPerGroupDecay) {
  ReferenceParams params;
  AdamW opt({{"decay", {{"w", params.w}}, 1.0, 0.1}, {"no_decay", {{"b", params.b}}, 1.0, 0.0}});
  for (int t = 0; t < 10; ++t) {
    params.set_grads(t);
    opt.step(1e-2);
  }
  expect_matches_torch(params.w, {0x1.044e42p-1f, -0x1.fdd064p-1f, 0x1.fa704ep+0f, -0x1.f93d40p-7f,
                                  0x1.158a0ap-2f, -0x1.6f35dap-1f});
  expect_matches_torch(params.b, {0x1.15eaa0p-4f, -0x1.d8a9f0p-3f, 0x1.443f2cp-2f});
}

TEST(Adam, MatchesPyTorchOverTenStepsWithL2Decay) {
  ReferenceParams params;
  Adam opt({{"all", {{"w", params.w}, {"b", params.b}}, 1.0, 0.05}});
  for (int t = 0; t < 10; ++t) {
    params.set_grads(t);
    opt.step(1e-2);
  }
  expect_matches_torch(params.w, {0x1.044df0p-1f, -0x1.fd6c8ep-1f, 0x1.f94c5ap+0f, -0x1.f94124p-7f,
                                  0x1.157a2cp-2f, -0x1.6f5358p-1f});
  expect_matches_torch(params.b, {0x1.11ec46p-4f, -0x1.d46bdap-3f, 0x1.40c24ap-2f});
}

TEST(Optimizer, SkipsParametersWithoutGradientLeavingValueAndStepCount) {
  ReferenceParams params;
  AdamW opt({{"all", {{"w", params.w}, {"b", params.b}}, 1.0, 0.1}});
  const std::vector<float> b_before = params.b.value().to_vector();
  set_grad(params.w, reference_grad(0, 6, 0));
  opt.step(1e-2);
  EXPECT_EQ(params.b.value().to_vector(), b_before);  // no grad: not even weight decay
  EXPECT_EQ(opt.step_count("b"), 0);
  EXPECT_EQ(opt.step_count("w"), 1);
  for (const auto& [name, tensor] : opt.state().tensors) {
    if (name.find(".b") != std::string::npos) {
      EXPECT_EQ(tensor.to_vector(), std::vector<float>(3, 0.0f)) << name;
    }
  }
}

TEST(Optimizer, GroupLrScaleMultipliesTheStepLearningRate) {
  Var full(Tensor::from_vector({2}, {1.0f, -1.0f}), true);
  Var half(Tensor::from_vector({2}, {1.0f, -1.0f}), true);
  Adam opt({{"full", {{"full", full}}, 1.0, 0.0}, {"half", {{"half", half}}, 0.5, 0.0}});
  set_grad(full, {0.3f, -0.7f});
  set_grad(half, {0.3f, -0.7f});
  opt.step(0.1);
  for (int i = 0; i < 2; ++i) {
    const float full_delta = full.data()[i] - (i ? -1.0f : 1.0f);
    const float half_delta = half.data()[i] - (i ? -1.0f : 1.0f);
    EXPECT_NEAR(full_delta, i ? 0.1f : -0.1f, 1e-6);  // Adam's first step moves by lr·sign(g)
    EXPECT_NEAR(half_delta, full_delta / 2, 1e-6);
  }
}

TEST(Optimizer, ZeroGradDropsEveryGradient) {
  ReferenceParams params;
  AdamW opt({{"all", {{"w", params.w}, {"b", params.b}}, 1.0, 0.0}});
  params.set_grads(0);
  opt.zero_grad();
  EXPECT_FALSE(params.w.has_grad());
  EXPECT_FALSE(params.b.has_grad());
}

TEST(Optimizer, RejectsDuplicateParametersAndBadSettings) {
  ReferenceParams params;
  expect_error_containing<std::invalid_argument>(
      [&] { AdamW({{"a", {{"w", params.w}}}, {"b", {{"w2", params.w}}}}); }, "'w2' is the same variable");
  EXPECT_THROW(AdamW({{"a", {{"w", params.w}, {"w", params.b}}}}), std::invalid_argument);
  EXPECT_THROW(AdamW({{"a", {{"w", params.w}}, 1.0, -0.1}}), std::invalid_argument);
  EXPECT_THROW(AdamW({{"a", {{"w", params.w}}}}, AdamConfig{1.0, 0.999, 1e-8}), std::invalid_argument);
  AdamW opt({{"a", {{"w", params.w}}}});
  EXPECT_THROW(opt.step(-1e-3), std::invalid_argument);
  EXPECT_THROW(opt.step(std::nan("")), std::invalid_argument);
  EXPECT_THROW(opt.step_count("nope"), std::invalid_argument);
}

// f(x) = ½ Σ a_i (x_i − c_i)²: gradient a_i (x_i − c_i), minimum at c.
TEST(AdamW, MinimisesAQuadratic) {
  const std::vector<float> a = {1.0f, 10.0f, 0.1f}, c = {3.0f, -2.0f, 0.5f};
  Var x(Tensor::zeros({3}), true);
  AdamW opt({{"x", {{"x", x}}, 1.0, 0.0}});
  for (int step = 0; step < 2000; ++step) {
    std::vector<float> g(3);
    for (int i = 0; i < 3; ++i) g[i] = a[i] * (x.data()[i] - c[i]);
    set_grad(x, g);
    opt.step(step < 1000 ? 0.05 : 0.005);
    opt.zero_grad();
  }
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(x.data()[i], c[i], 1e-2) << i;
}

TEST(AdamW, UpdateOfEveryParameterIsBitwiseIdenticalForOneAndTwoThreads) {
  // One parallel region updates all parameters, each thread its share of each: a large one,
  // a small one (fewer elements than threads' fair share of a cache line) and one in a second
  // group with its own learning rate scale.
  const std::vector<int64_t> sizes = {4 * kParallelUpdateThreshold + 13, 7, 1000};
  auto run = [&](int threads) {
    const int previous = omp_get_max_threads();
    omp_set_num_threads(threads);
    std::vector<Var> params;
    for (const int64_t n : sizes) {
      params.emplace_back(Tensor::zeros({n}), true);
      for (int64_t i = 0; i < n; ++i) params.back().data()[i] = std::sin(0.001f * i + n);
    }
    AdamW opt({{"a", {{"p0", params[0]}, {"p1", params[1]}}, 1.0, 0.1}, {"b", {{"p2", params[2]}}, 0.5, 0.0}});
    for (int step = 0; step < 3; ++step) {
      for (const Var& p : params) {
        Tensor& g = p.ensure_grad();
        for (int64_t i = 0; i < p.numel(); ++i) g.data()[i] = std::cos(0.003f * i + step);
      }
      opt.step(1e-3);
    }
    omp_set_num_threads(previous);
    std::vector<std::vector<float>> values;
    for (const Var& p : params) values.push_back(p.value().to_vector());
    return values;
  };
  EXPECT_EQ(run(1), run(2));
}

}  // namespace
}  // namespace tapelm
