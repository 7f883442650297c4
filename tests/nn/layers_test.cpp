// Basic layers: Linear, Embedding, LayerNorm/RMSNorm, Dropout — shapes, names, maths,
// gradients and errors.
#include <gtest/gtest.h>

#include <cmath>

#include <tapelm/autograd/errors.h>
#include "module_gradcheck.h"
#include <tapelm/nn/dropout.h>
#include <tapelm/nn/embedding.h>
#include <tapelm/nn/linear.h>
#include <tapelm/nn/norm.h>

namespace tapelm {
namespace {

using testing::expect_gradients_match;
using testing::expect_parameter_gradients_match;
using testing::random_tensor;

TEST(Linear, ComputesXTimesWeightTransposedPlusBias) {
  Rng rng(1);
  Linear layer(3, 2, true, rng);
  Var weight = layer.weight();  // a handle: writing through it sets the layer's parameter
  Var bias = layer.bias();
  weight.value() = Tensor::from_vector({2, 3}, {1.0f, 2.0f, 3.0f, 0.0f, -1.0f, 0.5f});
  bias.value() = Tensor::from_vector({2}, {0.25f, -0.5f});
  Var y = layer.forward(Var(Tensor::from_vector({1, 3}, {1.0f, 1.0f, 2.0f})));
  ASSERT_EQ(y.shape(), Shape({1, 2}));
  EXPECT_FLOAT_EQ(y.data()[0], 1 + 2 + 6 + 0.25f);
  EXPECT_FLOAT_EQ(y.data()[1], -1 + 1 - 0.5f);
}

TEST(Linear, RegistersWeightOutByInAndOptionalBias) {
  Rng rng(1);
  Linear with_bias(5, 7, true, rng);
  Linear without_bias(5, 7, false, rng);
  const auto a = with_bias.named_parameters();
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[0].first, "weight");
  EXPECT_EQ(a[0].second.shape(), Shape({7, 5}));
  EXPECT_EQ(a[1].first, "bias");
  EXPECT_EQ(a[1].second.shape(), Shape({7}));
  for (float b : a[1].second.value().to_vector()) EXPECT_EQ(b, 0.0f);
  ASSERT_EQ(without_bias.named_parameters().size(), 1u);
  EXPECT_FALSE(without_bias.bias().defined());
}

TEST(Linear, AppliesToEveryLeadingPosition) {
  Rng rng(2);
  Linear layer(4, 3, true, rng);
  EXPECT_EQ(layer.forward(Var(random_tensor({2, 5, 4}, 1))).shape(), Shape({2, 5, 3}));
}

TEST(Linear, ParameterAndInputGradientsMatchFiniteDifferences) {
  Rng rng(3);
  Linear layer(4, 3, true, rng);
  const Var x(random_tensor({2, 3, 4}, 4));
  expect_parameter_gradients_match(layer, [&] { return layer.forward(x); });
  expect_gradients_match([&](std::vector<Var>& v) { return layer.forward(v[0]); }, {x.value()});
}

TEST(Linear, InputOfTheWrongWidthThrowsShapeError) {
  Rng rng(1);
  Linear layer(4, 3, true, rng);
  try {
    layer.forward(Var(Tensor::zeros({2, 5})));
    FAIL() << "expected an exception";
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("in_features = 4"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("[2, 5]"), std::string::npos) << e.what();
  }
}

TEST(Embedding, LooksUpRowsOfTheTable) {
  Rng rng(5);
  Embedding emb(10, 4, rng);
  Var out = emb.forward({3, 0, 9, 3}, {2, 2});
  ASSERT_EQ(out.shape(), Shape({2, 2, 4}));
  for (int64_t d = 0; d < 4; ++d) {
    EXPECT_EQ(out.data()[0 * 4 + d], emb.weight().data()[3 * 4 + d]);
    EXPECT_EQ(out.data()[2 * 4 + d], emb.weight().data()[9 * 4 + d]);
  }
}

TEST(Embedding, TableGradientMatchesFiniteDifferences) {
  Rng rng(5);
  Embedding emb(6, 3, rng);
  expect_parameter_gradients_match(emb, [&] { return emb.forward({1, 4, 1, 5, 0, 1}, {2, 3}); });
}

TEST(Embedding, IdBeyondTheTableThrowsIndexErrorNamingItAndItsIndex) {
  Rng rng(5);
  Embedding emb(10, 4, rng);
  try {
    emb.forward({1, 2, 10}, {3});
    FAIL() << "expected an exception";
  } catch (const IndexError& e) {
    EXPECT_NE(std::string(e.what()).find("id 10 at index 2"), std::string::npos) << e.what();
  }
}

TEST(Norm, LayerNormHasUnitWeightAndZeroBiasAndNormalisesRows) {
  LayerNorm ln(6);
  const auto params = ln.named_parameters();
  ASSERT_EQ(params.size(), 2u);
  EXPECT_EQ(params[0].first, "weight");
  EXPECT_EQ(params[1].first, "bias");
  for (float w : params[0].second.value().to_vector()) EXPECT_EQ(w, 1.0f);
  for (float b : params[1].second.value().to_vector()) EXPECT_EQ(b, 0.0f);
  Var y = ln.forward(Var(random_tensor({3, 6}, 8, 3.0f)));
  for (int64_t r = 0; r < 3; ++r) {
    double mean = 0, sq = 0;
    for (int64_t c = 0; c < 6; ++c) mean += y.data()[r * 6 + c];
    mean /= 6;
    for (int64_t c = 0; c < 6; ++c) sq += (y.data()[r * 6 + c] - mean) * (y.data()[r * 6 + c] - mean);
    EXPECT_NEAR(mean, 0.0, 1e-5);
    EXPECT_NEAR(sq / 6, 1.0, 1e-3);
  }
}

TEST(Norm, RMSNormHasOnlyAWeightAndUnitRootMeanSquare) {
  RMSNorm rms(6);
  ASSERT_EQ(rms.named_parameters().size(), 1u);
  Var y = rms.forward(Var(random_tensor({3, 6}, 9, 2.0f)));
  for (int64_t r = 0; r < 3; ++r) {
    double sq = 0;
    for (int64_t c = 0; c < 6; ++c) sq += double(y.data()[r * 6 + c]) * y.data()[r * 6 + c];
    EXPECT_NEAR(sq / 6, 1.0, 1e-4);
  }
}

TEST(Norm, ParameterGradientsMatchFiniteDifferences) {
  const Var x(random_tensor({2, 3, 5}, 10));
  for (NormKind kind : {NormKind::LayerNorm, NormKind::RMSNorm}) {
    auto norm = make_norm(kind, 5, 1e-5f);
    // Move the weights off their init so the check sees non-trivial values.
    for (auto& [_, p] : norm->named_parameters()) p.value() = random_tensor(p.shape(), 11);
    expect_parameter_gradients_match(*norm, [&] { return norm->forward(x); });
  }
}

TEST(Norm, MakeNormRefusesAKindWithoutANameInsteadOfFallingBackToLayerNorm) {
  try {
    make_norm(static_cast<NormKind>(7), 5, 1e-5f);
    FAIL() << "expected std::invalid_argument";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("layernorm or rmsnorm"), std::string::npos) << e.what();
  }
}

TEST(Dropout, IsIdentityInEvalModeAndZeroesAboutPInTraining) {
  Dropout drop(0.25f, std::make_shared<DropoutSource>(7));
  const Var x(Tensor::full({40, 100}, 1.0f));
  drop.eval();
  EXPECT_TRUE(drop.forward(x).same(x));
  drop.train();
  Var y = drop.forward(x);
  int64_t zeros = 0;
  for (float v : y.value().to_vector()) {
    if (v == 0.0f) {
      ++zeros;
    } else {
      EXPECT_FLOAT_EQ(v, 1.0f / 0.75f);
    }
  }
  EXPECT_NEAR(zeros / 4000.0, 0.25, 0.03);
}

std::vector<float> output(const Dropout& drop, const Var& x) { return drop.forward(x).value().to_vector(); }

TEST(Dropout, SitesCountInForwardOrderFromSetBatchAndReplayAfterIt) {
  auto source = std::make_shared<DropoutSource>(7);
  Dropout drop(0.5f, source);
  const Var x(random_tensor({2, 64}, 1));
  source->set_batch(3, 10);
  const std::vector<float> site0 = output(drop, x);
  const std::vector<float> site1 = output(drop, x);
  EXPECT_NE(site0, site1) << "two sites of one forward";
  source->set_batch(3, 10);
  EXPECT_EQ(output(drop, x), site0);
  EXPECT_EQ(output(drop, x), site1);
}

TEST(Dropout, MasksDifferBetweenStepsAndSeeds) {
  auto source = std::make_shared<DropoutSource>(7);
  Dropout drop(0.5f, source);
  const Var x(random_tensor({2, 64}, 1));
  source->set_batch(3, 10);
  const std::vector<float> step3 = output(drop, x);
  source->set_batch(4, 10);
  EXPECT_NE(output(drop, x), step3);
  auto other_seed = std::make_shared<DropoutSource>(8);
  other_seed->set_batch(3, 10);
  EXPECT_NE(output(Dropout(0.5f, other_seed), x), step3);
}

TEST(Dropout, EvalModeAndPZeroUseNoSite) {
  auto source = std::make_shared<DropoutSource>(7);
  Dropout drop(0.5f, source), off(0.0f, source);
  const Var x(random_tensor({2, 64}, 1));
  const std::vector<float> first = output(drop, x);
  source->set_batch(0, 0);
  drop.eval();
  EXPECT_TRUE(drop.forward(x).same(x));
  EXPECT_TRUE(off.forward(x).same(x));
  drop.train();
  EXPECT_EQ(output(drop, x), first) << "the eval and p = 0 calls took a site";
}

TEST(Dropout, RejectsProbabilityOutsideZeroToOne) {
  EXPECT_THROW(Dropout(1.0f, std::make_shared<DropoutSource>(1)), std::invalid_argument);
  EXPECT_THROW(Dropout(-0.1f, std::make_shared<DropoutSource>(1)), std::invalid_argument);
}

}  // namespace
}  // namespace tapelm
