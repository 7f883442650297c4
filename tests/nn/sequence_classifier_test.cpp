// SequenceClassifier: names, shapes, pooling, padding invariance, gradients, errors.
#include <gtest/gtest.h>

#include "module_gradcheck.h"
#include <tapelm/nn/sequence_classifier.h>

namespace tapelm {
namespace {

using testing::max_abs_diff;

SequenceClassifierConfig tiny_classifier(Pooling pooling, bool causal) {
  SequenceClassifierConfig cfg;
  static_cast<TransformerConfig&>(cfg) = testing::tiny_config();
  cfg.vocab_size = 11;
  cfg.n_layer = 2;
  cfg.n_classes = 3;
  cfg.pooling = pooling;
  cfg.causal = causal;
  return cfg;
}

TEST(SequenceClassifier, SharesGptBackboneNamesAndAddsAHead) {
  SequenceClassifier model(tiny_classifier(Pooling::Last, true));
  const auto params = model.named_parameters();
  EXPECT_EQ(params[0].first, "tok_emb.weight");
  EXPECT_EQ(params[1].first, "pos_emb.weight");
  EXPECT_EQ(params[2].first, "blocks.0.ln1.weight");
  EXPECT_EQ(params[params.size() - 3].first, "ln_f.bias");
  EXPECT_EQ(params[params.size() - 2].first, "head.weight");
  EXPECT_EQ(params[params.size() - 2].second.shape(), Shape({3, 8}));
  EXPECT_EQ(params.back().first, "head.bias");
}

TEST(SequenceClassifier, GivesOneRowOfLogitsPerSequence) {
  SequenceClassifier model(tiny_classifier(Pooling::Mean, false));
  EXPECT_EQ(model.forward(std::vector<int32_t>(12, 1), 3, 4).shape(), Shape({3, 3}));
}

struct PoolingCase {
  const char* name;
  Pooling pooling;
  bool causal;
};

class ClassifierPadding : public ::testing::TestWithParam<PoolingCase> {};

TEST_P(ClassifierPadding, AppendingPaddingChangesNothing) {
  SequenceClassifier model(tiny_classifier(GetParam().pooling, GetParam().causal));
  const Var plain = model.forward({1, 2, 3, 4, 5, 6, 7, 8}, 2, 4);
  // Row 0 padded by two, row 1 by one (pad id 0).
  const Var padded = model.forward({1, 2, 3, 4, 0, 0, 5, 6, 7, 8, 0, 0}, 2, 6, {1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 0, 0});
  EXPECT_LT(max_abs_diff(plain.data(), padded.data(), plain.numel()), 1e-5f);
  // Rows of different real lengths in one batch agree with each row alone.
  const Var row1 = model.forward({5, 6, 7}, 1, 3);
  const Var mixed = model.forward({1, 2, 3, 4, 5, 6, 7, 0}, 2, 4, {1, 1, 1, 1, 1, 1, 1, 0});
  EXPECT_LT(max_abs_diff(row1.data(), mixed.data() + 3, 3), 1e-5f);
}

INSTANTIATE_TEST_SUITE_P(EveryPooling, ClassifierPadding,
                         ::testing::Values(PoolingCase{"LastCausal", Pooling::Last, true},
                                           PoolingCase{"MeanCausal", Pooling::Mean, true},
                                           PoolingCase{"MeanBidirectional", Pooling::Mean, false},
                                           PoolingCase{"LastBidirectional", Pooling::Last, false},
                                           PoolingCase{"FirstBidirectional", Pooling::First, false}),
                         [](const ::testing::TestParamInfo<PoolingCase>& info) { return std::string(info.param.name); });

TEST(SequenceClassifier, LastPoolingReadsTheLastRealToken) {
  SequenceClassifier model(tiny_classifier(Pooling::Last, true));
  const Var a = model.forward({1, 2, 3, 4}, 1, 4, {1, 1, 0, 0});
  const Var b = model.forward({1, 2, 9, 9}, 1, 4, {1, 1, 0, 0});
  EXPECT_EQ(max_abs_diff(a.data(), b.data(), 3), 0.0f);
  const Var c = model.forward({1, 5, 3, 4}, 1, 4, {1, 1, 0, 0});
  EXPECT_GT(max_abs_diff(a.data(), c.data(), 3), 0.0f);
}

TEST(SequenceClassifier, ParameterGradientsMatchFiniteDifferences) {
  for (Pooling pooling : {Pooling::Last, Pooling::Mean}) {
    SequenceClassifierConfig cfg = tiny_classifier(pooling, true);
    cfg.n_layer = 1;
    SequenceClassifier model(cfg);
    testing::randomize_parameters(model, 20);
    const std::vector<int32_t> ids = {1, 5, 9, 2, 3, 3};
    const std::vector<uint8_t> padding = {1, 1, 1, 1, 1, 0};
    testing::expect_parameter_gradients_match(model, [&] { return model.forward(ids, 2, 3, padding); }, 1e-2f, 5e-3f,
                                              16);
  }
}

TEST(SequenceClassifier, LossMatchesCrossEntropyOfTheLogits) {
  SequenceClassifier model(tiny_classifier(Pooling::Last, true));
  const std::vector<int32_t> ids = {1, 2, 3, 4, 5, 6};
  const Var logits = model.forward(ids, 2, 3);
  const std::vector<int32_t> labels = {2, 0};
  double expected = 0;
  for (int64_t b = 0; b < 2; ++b) {
    double z = 0;
    for (int64_t k = 0; k < 3; ++k) z += std::exp(double(logits.data()[b * 3 + k]));
    expected += std::log(z) - logits.data()[b * 3 + labels[b]];
  }
  EXPECT_NEAR(model.loss(ids, labels, 2, 3).item(), expected / 2, 1e-5);
}

TEST(SequenceClassifier, ErrorsNameTheProblem) {
  EXPECT_THROW(SequenceClassifier m(tiny_classifier(Pooling::First, true)), std::invalid_argument);
  SequenceClassifierConfig bad = tiny_classifier(Pooling::Last, true);
  bad.n_classes = 0;
  EXPECT_THROW(SequenceClassifier m(bad), std::invalid_argument);
  SequenceClassifier model(tiny_classifier(Pooling::Last, true));
  try {
    model.forward({1, 2, 3, 4}, 2, 2, {1, 1, 0, 0});
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("row 1"), std::string::npos) << e.what();
  }
  EXPECT_THROW(model.loss({1, 2}, {3}, 1, 2), std::invalid_argument);
  EXPECT_THROW(model.loss({1, 2}, {0, 1}, 1, 2), std::invalid_argument);
  KVCache cache;
  SequenceClassifier bidirectional(tiny_classifier(Pooling::Mean, false));
  EXPECT_THROW(bidirectional.hidden_states({1, 2}, 1, 2, {}, &cache), std::invalid_argument);
}

}  // namespace
}  // namespace tapelm
