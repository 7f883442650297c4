// EmaWeights: the average after a few updates against a hand computation, the warmup of the
// decay, frozen parameters, and the exchange with the parameters for evaluation.
#include <gtest/gtest.h>

#include <stdexcept>

#include <tapelm/optim/ema.h>

namespace tapelm {
namespace {

Var vector_of(std::initializer_list<float> values, bool requires_grad) {
  Tensor t({int64_t(values.size())});
  int64_t i = 0;
  for (float v : values) t.data()[i++] = v;
  return Var(t, requires_grad);
}

TEST(EmaWeights, DecayWarmsUpFromATenthToTheConfiguredDecay) {
  EXPECT_DOUBLE_EQ(EmaWeights::decay_at(0.999, 0), 0.1);
  EXPECT_DOUBLE_EQ(EmaWeights::decay_at(0.999, 80), 0.9);
  EXPECT_DOUBLE_EQ(EmaWeights::decay_at(0.999, 100'000), 0.999);
  EXPECT_DOUBLE_EQ(EmaWeights::decay_at(0.5, 8), 0.5);  // 9/18
  EXPECT_DOUBLE_EQ(EmaWeights::decay_at(0.5, 7), 8.0 / 17.0);
}

TEST(EmaWeights, AverageAfterThreeUpdatesMatchesAHandComputation) {
  Var w = vector_of({1.0f, -2.0f}, true);
  Var frozen = vector_of({5.0f}, false);
  const NamedParameters params = {{"w", w}, {"frozen", frozen}};
  EmaWeights ema(params, {{"w", w}}, 0.95);
  const float steps[3][2] = {{2.0f, 0.0f}, {4.0f, 1.0f}, {-1.0f, 3.0f}};
  double expected[2] = {1.0, -2.0};
  for (int64_t step = 0; step < 3; ++step) {
    w.data()[0] = steps[step][0];
    w.data()[1] = steps[step][1];
    ema.update(step);
    const double d = step == 0 ? 0.1 : step == 1 ? 2.0 / 11.0 : 0.25;  // (1 + step) / (10 + step) < 0.95
    for (int k = 0; k < 2; ++k) expected[k] = d * expected[k] + (1 - d) * steps[step][k];
  }
  // By hand: 0.1·1 + 0.9·2 = 1.9; 2/11·1.9 + 9/11·4 = 3.6182; 0.25·3.6182 − 0.75 = 0.15455.
  EXPECT_NEAR(expected[0], 0.154545, 1e-6);
  const NamedParameters& averaged = ema.averaged();
  ASSERT_EQ(averaged.size(), 2u);
  EXPECT_EQ(averaged[0].first, "w");
  EXPECT_FLOAT_EQ(averaged[0].second.data()[0], float(expected[0]));
  EXPECT_FLOAT_EQ(averaged[0].second.data()[1], float(expected[1]));
  EXPECT_EQ(averaged[1].first, "frozen");
  EXPECT_TRUE(averaged[1].second.same(frozen)) << "a frozen parameter is its own average";
  EXPECT_EQ(w.data()[0], -1.0f) << "updating the average leaves the weights alone";
}

TEST(EmaWeights, SwapPutsTheAverageIntoTheTrainableParametersAndBackAgain) {
  Var w = vector_of({1.0f, 2.0f}, true);
  Var frozen = vector_of({5.0f}, false);
  EmaWeights ema({{"w", w}, {"frozen", frozen}}, {{"w", w}}, 0.5);
  w.data()[0] = 3.0f;
  w.data()[1] = 4.0f;
  ema.update(100);  // decay 0.5: the average is (2, 3)
  {
    const EmaInParameters averaged(&ema);
    EXPECT_EQ(w.data()[0], 2.0f);
    EXPECT_EQ(w.data()[1], 3.0f);
    EXPECT_EQ(frozen.data()[0], 5.0f);
  }
  EXPECT_EQ(w.data()[0], 3.0f);
  EXPECT_EQ(w.data()[1], 4.0f);
  EXPECT_EQ(ema.averaged()[0].second.data()[0], 2.0f);
}

TEST(EmaWeights, RefusesADecayOutsideZeroToOne) {
  Var w = vector_of({1.0f}, true);
  EXPECT_THROW(EmaWeights({{"w", w}}, {{"w", w}}, 1.0), std::invalid_argument);
  EXPECT_THROW(EmaWeights({{"w", w}}, {{"w", w}}, -0.1), std::invalid_argument);
}

}  // namespace
}  // namespace tapelm
