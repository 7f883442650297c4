// SGD with momentum: the documented formula, PyTorch agreement, state, convergence.
#include <tapelm/optim/sgd.h>

#include <gtest/gtest.h>

#include "test_params.h"

namespace tapelm {
namespace {

using testing::expect_matches_torch;
using testing::ReferenceParams;
using testing::reference_grad;
using testing::set_grad;

TEST(Sgd, FollowsTheMomentumFormulaForThreeSteps) {
  const std::vector<float> start = {0.5f, -1.0f, 2.0f};
  Var p(Tensor::from_vector({3}, start), true);
  const double lr = 0.1, wd = 0.05, mu = 0.9;
  Sgd opt({{"p", {{"p", p}}, 1.0, wd}}, SgdConfig{mu});
  std::vector<double> x(start.begin(), start.end()), buf(3, 0.0);
  for (int step = 0; step < 3; ++step) {
    const std::vector<float> g = reference_grad(step + 2, 3, 0);
    set_grad(p, g);
    opt.step(lr);
    for (int i = 0; i < 3; ++i) {
      const double d = g[i] + wd * x[i];
      buf[i] = step == 0 ? d : mu * buf[i] + d;  // first step: the buffer is the gradient
      x[i] -= lr * buf[i];
      EXPECT_NEAR(p.data()[i], x[i], 1e-6) << "step " << step << " i " << i;
    }
  }
}

TEST(Sgd, WithoutMomentumKeepsNoStateAndTakesPlainSteps) {
  Var p(Tensor::from_vector({2}, {1.0f, 2.0f}), true);
  Sgd opt({{"p", {{"p", p}}}});
  set_grad(p, {0.5f, -0.25f});
  opt.step(0.5);
  EXPECT_EQ(p.value().to_vector(), (std::vector<float>{0.75f, 2.125f}));
  EXPECT_TRUE(opt.state().tensors.empty());
  EXPECT_EQ(opt.state().metadata.at("step.p"), "1");
}

// Values printed by tests/optim/torch_reference.py (torch 1.13, torch.optim.SGD).
TEST(Sgd, MatchesPyTorchOverTenSteps) {
  ReferenceParams params;
  Sgd opt({{"all", {{"w", params.w}, {"b", params.b}}, 1.0, 0.05}}, SgdConfig{0.9});
  for (int t = 0; t < 10; ++t) {
    params.set_grads(t);
    opt.step(1e-2);
  }
  expect_matches_torch(params.w, {0x1.fa7924p-2f, -0x1.fe4114p-1f, 0x1.f8e37cp+0f, -0x1.cb4498p-8f,
                                  0x1.1428d2p-2f, -0x1.706e82p-1f});
  expect_matches_torch(params.b, {0x1.ea6138p-5f, -0x1.d37f82p-3f, 0x1.41ece6p-2f});
}

TEST(Sgd, MinimisesAQuadratic) {
  const std::vector<float> a = {1.0f, 4.0f}, c = {3.0f, -2.0f};
  Var x(Tensor::zeros({2}), true);
  Sgd opt({{"x", {{"x", x}}}}, SgdConfig{0.9});
  for (int step = 0; step < 300; ++step) {
    set_grad(x, {a[0] * (x.data()[0] - c[0]), a[1] * (x.data()[1] - c[1])});
    opt.step(0.05);
    opt.zero_grad();
  }
  EXPECT_NEAR(x.data()[0], c[0], 1e-4);
  EXPECT_NEAR(x.data()[1], c[1], 1e-4);
}

TEST(Sgd, RejectsNegativeMomentum) {
  Var p(Tensor::zeros({1}), true);
  EXPECT_THROW(Sgd({{"p", {{"p", p}}}}, SgdConfig{-0.1}), std::invalid_argument);
}

}  // namespace
}  // namespace tapelm
