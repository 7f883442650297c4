// GPT: checkpoint names, shapes, causality, KV cache, weight tying, init, loss, errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include <tapelm/autograd/errors.h>
#include "expect_error.h"
#include "module_gradcheck.h"
#include <tapelm/nn/gpt.h>
#include <tapelm/nn/summary.h>

namespace tapelm {
namespace {

using testing::max_abs_diff;

GPTConfig tiny_gpt() {
  GPTConfig cfg;
  static_cast<TransformerConfig&>(cfg) = testing::tiny_config();
  cfg.vocab_size = 11;
  cfg.n_layer = 2;
  return cfg;
}

std::vector<int32_t> some_ids(int64_t n, int32_t vocab, uint64_t seed) {
  Rng rng(seed);
  std::vector<int32_t> ids(static_cast<std::size_t>(n));
  for (auto& id : ids) id = static_cast<int32_t>(rng.below(static_cast<uint64_t>(vocab)));
  return ids;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no exception)";
}

TEST(GPT, CheckpointNamesAreGpt2LikeAndTiedHeadHasNoWeight) {
  GPTConfig cfg = tiny_gpt();
  cfg.n_layer = 1;
  GPT tied(cfg);
  std::vector<std::pair<std::string, Shape>> expected = {
      {"tok_emb.weight", {11, 8}},        {"pos_emb.weight", {16, 8}},         {"blocks.0.ln1.weight", {8}},
      {"blocks.0.ln1.bias", {8}},         {"blocks.0.attn.qkv.weight", {24, 8}}, {"blocks.0.attn.qkv.bias", {24}},
      {"blocks.0.attn.proj.weight", {8, 8}}, {"blocks.0.attn.proj.bias", {8}},   {"blocks.0.ln2.weight", {8}},
      {"blocks.0.ln2.bias", {8}},         {"blocks.0.ffn.fc1.weight", {12, 8}}, {"blocks.0.ffn.fc1.bias", {12}},
      {"blocks.0.ffn.fc2.weight", {8, 12}}, {"blocks.0.ffn.fc2.bias", {8}},    {"ln_f.weight", {8}},
      {"ln_f.bias", {8}}};
  auto check = [](const GPT& model, const std::vector<std::pair<std::string, Shape>>& want) {
    const auto params = model.named_parameters();
    ASSERT_EQ(params.size(), want.size());
    for (std::size_t i = 0; i < want.size(); ++i) {
      EXPECT_EQ(params[i].first, want[i].first);
      EXPECT_EQ(params[i].second.shape(), want[i].second) << want[i].first;
    }
  };
  check(tied, expected);
  cfg.tie_weights = false;
  expected.push_back({"lm_head.weight", {11, 8}});
  check(GPT(cfg), expected);
}

TEST(GPT, PostNormRotaryModelHasNoFinalNormAndNoPositionTable) {
  GPTConfig cfg = tiny_gpt();
  cfg.pre_ln = false;
  cfg.pos_encoding = PositionalKind::Rope;
  GPT model(cfg);
  for (const auto& [name, _] : model.named_parameters()) {
    EXPECT_EQ(name.find("ln_f"), std::string::npos) << name;
    EXPECT_EQ(name.find("pos_emb"), std::string::npos) << name;
  }
}

TEST(GPT, ParameterCountMatchesTheFormula) {
  const GPTConfig cfg = tiny_gpt();
  const int64_t C = 8, F = 12, V = 11, L = 2, ctx = 16;
  const int64_t block = 2 * C + (3 * C * C + 3 * C) + (C * C + C) + 2 * C + (F * C + F) + (C * F + C);
  EXPECT_EQ(GPT(cfg).num_parameters(), V * C + ctx * C + L * block + 2 * C);
}

TEST(GPT, ForwardGivesLogitsForEveryPosition) {
  GPT model(tiny_gpt());
  EXPECT_EQ(model.forward(some_ids(15, 11, 1), 3, 5).shape(), Shape({3, 5, 11}));
}

TEST(GPT, ChangingTokenTPlusOneLeavesEarlierLogitsBitwiseUnchanged) {
  for (PositionalKind pos : {PositionalKind::Learned, PositionalKind::Rope, PositionalKind::Sinusoidal}) {
    GPTConfig cfg = tiny_gpt();
    cfg.pos_encoding = pos;
    GPT model(cfg);
    std::vector<int32_t> ids = some_ids(12, 11, 2);
    const Var base = model.forward(ids, 2, 6);
    ids[6 + 3] = (ids[6 + 3] + 1) % 11;  // batch 1, position 3
    const Var changed = model.forward(ids, 2, 6);
    EXPECT_EQ(max_abs_diff(base.data(), changed.data(), (6 + 3) * 11), 0.0f);
    EXPECT_GT(max_abs_diff(base.data() + 9 * 11, changed.data() + 9 * 11, 11), 0.0f);
  }
}

TEST(GPT, KvCacheLogitsAgreeWithTheFullForward) {
  for (PositionalKind pos : {PositionalKind::Learned, PositionalKind::Rope}) {
    GPTConfig cfg = tiny_gpt();
    cfg.pos_encoding = pos;
    cfg.n_layer = 3;
    GPT model(cfg);
    model.eval();
    const int64_t B = 2, T = 7, V = 11;
    const std::vector<int32_t> ids = some_ids(B * T, 11, 3);
    NoGradGuard no_grad;
    const Var full = model.forward(ids, B, T);
    KVCache cache;
    // A prompt of three tokens, then one token per step.
    std::vector<int32_t> prompt;
    for (int64_t b = 0; b < B; ++b) prompt.insert(prompt.end(), ids.begin() + b * T, ids.begin() + b * T + 3);
    const Var first = model.forward(prompt, B, 3, {}, &cache);
    for (int64_t b = 0; b < B; ++b) {
      EXPECT_LT(max_abs_diff(full.data() + b * T * V, first.data() + b * 3 * V, 3 * V), 1e-5f);
    }
    for (int64_t t = 3; t < T; ++t) {
      const Var step = model.forward({ids[t], ids[T + t]}, B, 1, {}, &cache);
      EXPECT_EQ(cache.length(), t + 1);
      for (int64_t b = 0; b < B; ++b) {
        EXPECT_LT(max_abs_diff(full.data() + (b * T + t) * V, step.data() + b * V, V), 1e-5f) << "t " << t;
      }
    }
  }
}

TEST(GPT, KvCacheRespectsPaddingOfEarlierSteps) {
  GPT model(tiny_gpt());
  const std::vector<int32_t> ids = {1, 2, 3, 4, 5, 6, 7, 8};
  const std::vector<uint8_t> padding = {0, 1, 1, 1, 1, 1, 1, 1};  // row 0 starts with a pad token
  NoGradGuard no_grad;
  const Var full = model.forward(ids, 2, 4, padding);
  KVCache cache;
  model.forward({1, 2, 5, 6}, 2, 2, {0, 1, 1, 1}, &cache);
  model.forward({3, 7}, 2, 1, {}, &cache);
  const Var last = model.forward({4, 8}, 2, 1, {}, &cache);
  EXPECT_LT(max_abs_diff(full.data() + 3 * 11, last.data(), 11), 1e-5f);
  EXPECT_LT(max_abs_diff(full.data() + 7 * 11, last.data() + 11, 11), 1e-5f);
}

TEST(GPT, KvCacheRejectsABatchChangeAndOverflowingTheContext) {
  GPT model(tiny_gpt());
  NoGradGuard no_grad;
  KVCache cache;
  model.forward(some_ids(2 * 15, 11, 4), 2, 15, {}, &cache);
  EXPECT_NE(error_of([&] { model.forward({1, 2, 3}, 3, 1, {}, &cache); }).find("the cache holds 2 rows"), std::string::npos);
  model.forward({1, 2}, 2, 1, {}, &cache);
  EXPECT_NE(error_of([&] { model.forward({1, 2}, 2, 1, {}, &cache); }).find("exceeds ctx_len = 16"), std::string::npos);
}

TEST(GPT, TokenIdBeyondTheVocabularyThrowsIndexError) {
  GPT model(tiny_gpt());
  testing::expect_error<IndexError>([&] { model.forward({1, 11, 2}, 1, 3); }, {"token id 11", "position 1"});
}

TEST(GPT, LossWithTheWrongNumberOfTargetsThrowsShapeError) {
  GPT model(tiny_gpt());
  testing::expect_error<ShapeError>([&] { model.loss({1, 2, 3, 4}, {1, 2, 3}, 2, 2); },
                                    {"GPT::loss", "3 targets", "B·T = 4"});
}

TEST(GPT, TiedHeadUsesTheEmbeddingAndCollectsGradientFromBothUses) {
  GPT model(tiny_gpt());
  const std::vector<int32_t> ids = {1, 2, 3};
  Var logits = model.forward(ids, 1, 3);
  // The tied head's logits are the hidden states times the embedding table.
  Var loss = model.loss(ids, {2, 3, 4}, 1, 3);
  backward(loss);
  const Var& table = model.token_embedding().weight();
  ASSERT_TRUE(table.has_grad());
  // Rows never looked up (e.g. 10) still get gradient through the head.
  float row10 = 0.0f;
  for (int64_t c = 0; c < 8; ++c) row10 += std::abs(table.grad().data()[10 * 8 + c]);
  EXPECT_GT(row10, 0.0f);
  EXPECT_EQ(logits.shape(), Shape({1, 3, 11}));
}

TEST(GPT, LossIsCrossEntropyOfTheLogitsAndNearLogVAtInit) {
  GPTConfig cfg = tiny_gpt();
  cfg.vocab_size = 50;
  GPT model(cfg);
  const std::vector<int32_t> ids = some_ids(8, 50, 5);
  const std::vector<int32_t> targets = some_ids(8, 50, 6);
  const Var logits = model.forward(ids, 2, 4);
  double expected = 0;
  for (int64_t r = 0; r < 8; ++r) {
    const float* row = logits.data() + r * 50;
    double z = 0;
    for (int64_t v = 0; v < 50; ++v) z += std::exp(double(row[v]));
    expected += std::log(z) - row[targets[r]];
  }
  const float loss = model.loss(ids, targets, 2, 4).item();
  EXPECT_NEAR(loss, expected / 8, 1e-5);
  EXPECT_NEAR(loss, std::log(50.0), 0.05);
}

TEST(GPT, GradientsReachEveryParameter) {
  GPTConfig cfg = tiny_gpt();
  cfg.tie_weights = false;
  GPT model(cfg);
  Var loss = model.loss(some_ids(8, 11, 7), some_ids(8, 11, 8), 2, 4);
  backward(loss);
  for (const auto& [name, p] : model.named_parameters()) EXPECT_TRUE(p.has_grad()) << name;
}

TEST(GPT, ParameterGradientsOfATinyModelMatchFiniteDifferences) {
  GPTConfig cfg = tiny_gpt();
  cfg.n_layer = 1;
  cfg.tie_weights = false;
  GPT model(cfg);
  testing::randomize_parameters(model, 20);
  const std::vector<int32_t> ids = {1, 5, 9, 2, 3, 3};
  testing::expect_parameter_gradients_match(model, [&] { return model.forward(ids, 2, 3); }, 1e-2f, 5e-3f, 24);
}

TEST(GPT, InitialisationFollowsGpt2Statistics) {
  GPTConfig cfg;
  cfg.vocab_size = 512;
  cfg.ctx_len = 64;
  cfg.n_embd = 64;
  cfg.n_head = 4;
  cfg.n_layer = 4;
  GPT model(cfg);
  auto stats = [](const Var& v) {
    double s = 0, sq = 0;
    for (float x : v.value().to_vector()) s += x, sq += double(x) * x;
    const double mean = s / v.numel();
    return std::make_pair(mean, std::sqrt(sq / v.numel() - mean * mean));
  };
  const double resid = 0.02 / std::sqrt(2.0 * 4);
  for (const auto& [name, p] : model.named_parameters()) {
    const auto [mean, std] = stats(p);
    const bool is_bias = name.size() >= 4 && name.compare(name.size() - 4, 4, "bias") == 0;
    if (name.find("ln") != std::string::npos) {
      EXPECT_EQ(std, 0.0) << name;
      EXPECT_EQ(mean, is_bias ? 0.0 : 1.0) << name;
    } else if (is_bias) {
      EXPECT_EQ(std, 0.0) << name;
      EXPECT_EQ(mean, 0.0) << name;
    } else {
      const bool residual = name.find("attn.proj") != std::string::npos || name.find("ffn.fc2") != std::string::npos;
      const double want = residual ? resid : 0.02;
      EXPECT_NEAR(std, want, 0.05 * want) << name;
      EXPECT_NEAR(mean, 0.0, 5 * want / std::sqrt(double(p.numel()))) << name;
    }
  }
}

TEST(GPT, SameSeedGivesBitwiseSameWeightsAndDifferentSeedDoesNot) {
  GPTConfig cfg = tiny_gpt();
  GPT a(cfg), b(cfg);
  cfg.seed = 1;
  GPT c(cfg);
  const auto pa = a.named_parameters(), pb = b.named_parameters(), pc = c.named_parameters();
  EXPECT_EQ(pa[0].second.value().to_vector(), pb[0].second.value().to_vector());
  EXPECT_NE(pa[0].second.value().to_vector(), pc[0].second.value().to_vector());
  for (std::size_t i = 0; i < pa.size(); ++i) {
    EXPECT_EQ(pa[i].second.value().to_vector(), pb[i].second.value().to_vector()) << pa[i].first;
  }
}

TEST(GPT, DropoutActsOnlyInTrainingAndIsReproducibleFromStepAndExamples) {
  GPTConfig cfg = tiny_gpt();
  cfg.dropout = 0.3f;
  GPT model(cfg);
  const std::vector<int32_t> ids = some_ids(8, 11, 9);
  model.eval();
  const std::vector<float> e1 = model.forward(ids, 2, 4).value().to_vector();
  EXPECT_EQ(model.forward(ids, 2, 4).value().to_vector(), e1);
  model.train();
  model.set_dropout_batch(5, 0);
  const std::vector<float> t1 = model.forward(ids, 2, 4).value().to_vector();
  EXPECT_NE(t1, e1);
  EXPECT_NE(model.forward(ids, 2, 4).value().to_vector(), t1) << "a second forward uses new sites";
  model.set_dropout_batch(6, 0);
  EXPECT_NE(model.forward(ids, 2, 4).value().to_vector(), t1) << "another step";
  model.set_dropout_batch(5, 0);
  EXPECT_EQ(model.forward(ids, 2, 4).value().to_vector(), t1);
}

// The logits of examples [0, 4) of a step in one forward equal, row for row and bit for bit,
// those of two forwards on [0, 2) and [2, 4): masks follow the example, not the batch split.
// (T = 8 keeps the rows of each example in the same SIMD blocks of Eigen's GEMM for both batch
// sizes; with T = 5 even a dropout-free forward differs in the last bit.)
TEST(GPT, DropoutMasksFollowTheExampleNotTheBatchSplit) {
  GPTConfig cfg = tiny_gpt();
  cfg.dropout = 0.3f;
  GPT model(cfg);
  const int64_t T = 8, V = 11;
  const std::vector<int32_t> ids = some_ids(4 * T, 11, 4);
  model.set_dropout_batch(2, 0);
  const std::vector<float> whole = model.forward(ids, 4, T).value().to_vector();
  std::vector<float> halves;
  for (int64_t first : {0, 2}) {
    model.set_dropout_batch(2, first);
    const std::vector<int32_t> part(ids.begin() + first * T, ids.begin() + (first + 2) * T);
    const std::vector<float> out = model.forward(part, 2, T).value().to_vector();
    halves.insert(halves.end(), out.begin(), out.end());
  }
  ASSERT_EQ(halves.size(), whole.size());
  for (int64_t b = 0; b < 4; ++b) {
    EXPECT_TRUE(std::equal(whole.begin() + b * T * V, whole.begin() + (b + 1) * T * V, halves.begin() + b * T * V))
        << "example " << b;
  }
  model.eval();
  EXPECT_NE(model.forward(ids, 4, T).value().to_vector(), whole) << "dropout dropped nothing";
}

TEST(GPT, LossAndGradientsAreBitwiseReproducible) {
  GPTConfig cfg = tiny_gpt();
  cfg.dropout = 0.2f;
  cfg.pos_encoding = PositionalKind::Rope;
  auto run = [&] {
    GPT model(cfg);
    Var loss = model.loss(some_ids(16, 11, 1), some_ids(16, 11, 2), 2, 8);
    backward(loss);
    std::vector<float> out = {loss.item()};
    for (const auto& [_, p] : model.named_parameters()) {
      const std::vector<float> g = p.grad().to_vector();
      out.insert(out.end(), g.begin(), g.end());
    }
    return out;
  };
  EXPECT_EQ(run(), run());
}

TEST(GPT, ErrorsNameTheProblem) {
  GPT model(tiny_gpt());
  EXPECT_NE(error_of([&] { model.forward({1, 2, 11, 3}, 2, 2); }).find("token id 11 at batch 1, position 0"),
            std::string::npos);
  EXPECT_NE(error_of([&] { model.forward({1, 2, -1}, 1, 3); }).find("token id -1"), std::string::npos);
  EXPECT_NE(error_of([&] { model.forward(some_ids(17, 11, 1), 1, 17); }).find("exceeds ctx_len = 16"),
            std::string::npos);
  EXPECT_NE(error_of([&] { model.forward({1, 2, 3}, 2, 2); }).find("expected B·T"), std::string::npos);
  EXPECT_NE(error_of([&] { model.forward({1, 2}, 1, 2, {1}); }).find("padding mask"), std::string::npos);
  EXPECT_NE(error_of([&] { model.loss({1, 2}, {1}, 1, 2); }).find("GPT::loss"), std::string::npos);
  GPTConfig bad = tiny_gpt();
  bad.n_head = 3;
  EXPECT_NE(error_of([&] { GPT m(bad); }).find("n_head = 3 must be positive and divide n_embd = 8"),
            std::string::npos);
  bad = tiny_gpt();
  bad.n_head = 8;
  bad.pos_encoding = PositionalKind::Rope;
  EXPECT_NE(error_of([&] { GPT m(bad); }).find("even head dimension"), std::string::npos);
  bad = tiny_gpt();
  bad.vocab_size = 0;
  EXPECT_NE(error_of([&] { GPT m(bad); }).find("vocab_size"), std::string::npos);
}

TEST(Summary, ListsEveryParameterAndTheTotal) {
  GPT model(tiny_gpt());
  const std::string s = model_summary(model);
  for (const auto& [name, p] : model.named_parameters()) EXPECT_NE(s.find(name), std::string::npos) << name;
  EXPECT_NE(s.find("[24, 8]"), std::string::npos);
  EXPECT_NE(s.find("total: " + std::to_string(model.num_parameters()) + " parameters"), std::string::npos) << s;
  EXPECT_EQ(format_count(124439808), "124.44M");
  EXPECT_EQ(format_count(3100), "3.10K");
  EXPECT_EQ(format_count(512), "512");
}

}  // namespace
}  // namespace tapelm
