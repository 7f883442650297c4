// Tests for next-token sampling (temperature, top-k, top-p, greedy), the generation loop
// (KV cache against full recomputation, sliding window, <eos>) and held-out evaluation.
#include "train/sampling.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "autograd/tape.h"
#include "tests/gradcheck.h"
#include "train/evaluation.h"

namespace tapelm {
namespace {

using testing::random_tensor;

std::vector<float> log_probs(const std::vector<double>& probs) {
  std::vector<float> logits;
  for (double p : probs) logits.push_back(static_cast<float>(std::log(p)));
  return logits;
}

SamplingOptions options(double temperature, int64_t top_k = 0, double top_p = 1.0, uint64_t seed = 0) {
  SamplingOptions o;
  o.temperature = temperature;
  o.top_k = top_k;
  o.top_p = top_p;
  o.seed = seed;
  return o;
}

void expect_distribution(const std::vector<double>& actual, const std::vector<double>& expected) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_NEAR(actual[i], expected[i], 1e-6) << "token " << i;
}

const std::vector<double> kProbs = {0.15, 0.5, 0.05, 0.3};  // ranked: 1, 3, 0, 2

TEST(Sampling, TemperatureOneIsTheSoftmaxAndTemperatureSharpensOrFlattens) {
  const auto logits = log_probs(kProbs);
  expect_distribution(next_token_distribution(logits.data(), 4, options(1.0)), kProbs);
  // T = 2: p_i ∝ sqrt(p_i).
  double z = 0;
  for (double p : kProbs) z += std::sqrt(p);
  std::vector<double> flat;
  for (double p : kProbs) flat.push_back(std::sqrt(p) / z);
  expect_distribution(next_token_distribution(logits.data(), 4, options(2.0)), flat);
  expect_distribution(next_token_distribution(logits.data(), 4, options(0.0)), {0, 1, 0, 0});
}

TEST(Sampling, TopPKeepsTheSmallestMostLikelySetReachingTheMass) {
  const auto logits = log_probs(kProbs);
  expect_distribution(next_token_distribution(logits.data(), 4, options(1.0, 0, 0.4)), {0, 1, 0, 0});
  expect_distribution(next_token_distribution(logits.data(), 4, options(1.0, 0, 0.75)), {0, 0.5 / 0.8, 0, 0.3 / 0.8});
  expect_distribution(next_token_distribution(logits.data(), 4, options(1.0, 0, 0.9)),
                      {0.15 / 0.95, 0.5 / 0.95, 0, 0.3 / 0.95});
}

TEST(Sampling, TopKFiltersFirstAndTopPThenActsOnTheRenormalisedRest) {
  const auto logits = log_probs(kProbs);
  expect_distribution(next_token_distribution(logits.data(), 4, options(1.0, 2)), {0, 0.5 / 0.8, 0, 0.3 / 0.8});
  // After top-k 2 the leader holds 0.625 >= 0.6, so top-p keeps it alone (on the original
  // probabilities it would need two tokens).
  expect_distribution(next_token_distribution(logits.data(), 4, options(1.0, 2, 0.6)), {0, 1, 0, 0});
}

TEST(Sampling, TiesRankByLowerId) {
  const std::vector<float> logits = {1.0f, 3.0f, 3.0f, 0.0f};
  expect_distribution(next_token_distribution(logits.data(), 4, options(1.0, 1)), {0, 1, 0, 0});
  expect_distribution(next_token_distribution(logits.data(), 4, options(0.0)), {0, 1, 0, 0});
}

TEST(Sampling, TopKOneEqualsGreedyForAnySeed) {
  for (uint64_t seed = 0; seed < 20; ++seed) {
    const std::vector<float> logits = random_tensor({50}, seed + 100, 2.0f).to_vector();
    Rng sampled(seed), greedy(seed);
    EXPECT_EQ(sample_next_token(logits.data(), 50, options(1.0, 1), sampled),
              sample_next_token(logits.data(), 50, options(0.0), greedy));
  }
}

TEST(Sampling, DrawsFollowTheDistributionAndRepeatForASeed) {
  const auto logits = log_probs(kProbs);
  Rng rng(42);
  std::vector<int> counts(4, 0);
  const int draws = 20000;
  std::vector<int32_t> first_draws;
  for (int i = 0; i < draws; ++i) {
    const int32_t token = sample_next_token(logits.data(), 4, options(1.0), rng);
    ++counts[token];
    if (i < 50) first_draws.push_back(token);
  }
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(counts[i] / double(draws), kProbs[i], 0.015) << "token " << i;
  Rng again(42);
  for (int32_t token : first_draws) EXPECT_EQ(sample_next_token(logits.data(), 4, options(1.0), again), token);
}

TEST(Sampling, RejectsBadOptionsNamingTheField) {
  const auto logits = log_probs(kProbs);
  for (const auto& [bad, field] : std::vector<std::pair<SamplingOptions, std::string>>{
           {options(-1.0), "temperature"}, {options(1.0, -1), "top_k"}, {options(1.0, 0, 0.0), "top_p"},
           {options(1.0, 0, 1.5), "top_p"}}) {
    try {
      next_token_distribution(logits.data(), 4, bad);
      ADD_FAILURE() << field << " accepted";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(field), std::string::npos) << e.what();
    }
  }
}

TEST(Sampling, MinusInfinityMeansNeverWhileNanIsRefused) {
  const std::vector<float> masked = {-INFINITY, 0.0f, -INFINITY, 0.0f};
  expect_distribution(next_token_distribution(masked.data(), 4, options(1.0)), {0, 0.5, 0, 0.5});
  for (float bad : {NAN, INFINITY}) {
    const std::vector<float> logits = {0.0f, bad, 1.0f, 2.0f};
    EXPECT_THROW(next_token_distribution(logits.data(), 4, options(1.0)), std::invalid_argument) << bad;
  }
}

GPTConfig tiny_gpt(int64_t ctx_len) {
  GPTConfig cfg;
  cfg.vocab_size = 40;
  cfg.n_layer = 2;
  cfg.n_embd = 32;
  cfg.n_head = 4;
  cfg.ctx_len = ctx_len;
  cfg.dropout = 0.1f;  // must be off during generation
  cfg.seed = 3;
  return cfg;
}

TEST(Generation, KvCacheGivesTheSameTokensAsRecomputingEveryWindow) {
  GPT model(tiny_gpt(16));
  const std::vector<int32_t> context = {1, 7, 9, 12, 5};
  // 40 new tokens through a 16-token window: the window slides twice.
  for (const SamplingOptions& o : {options(0.0), options(1.0, 5, 0.9, 11)}) {
    SamplingOptions run = o;
    run.max_new_tokens = 40;
    const Generation cached = generate(model, context, run, /*eos_id=*/-1, /*use_cache=*/true);
    const Generation recomputed = generate(model, context, run, -1, /*use_cache=*/false);
    EXPECT_EQ(cached.tokens.size(), 40u);
    EXPECT_EQ(cached.stop, StopReason::kMaxTokens);
    EXPECT_EQ(cached.tokens, recomputed.tokens) << "temperature " << o.temperature;
  }
  EXPECT_TRUE(model.is_training()) << "the model's mode is restored";
}

TEST(Generation, ALongContextKeepsItsLastCtxLenTokens) {
  GPT model(tiny_gpt(8));
  std::vector<int32_t> context;
  for (int i = 0; i < 20; ++i) context.push_back((i * 7) % 40);
  SamplingOptions greedy = options(0.0);
  greedy.max_new_tokens = 3;
  const std::vector<int32_t> tail(context.end() - 8, context.end());
  EXPECT_EQ(generate(model, context, greedy, -1).tokens, generate(model, tail, greedy, -1).tokens);
}

TEST(Generation, StopsAtEndOfTextWithoutEmittingIt) {
  GPT model(tiny_gpt(16));
  const std::vector<int32_t> context = {1, 2, 3};
  SamplingOptions greedy = options(0.0);
  greedy.max_new_tokens = 10;
  const Generation free_run = generate(model, context, greedy, -1);
  ASSERT_EQ(free_run.tokens.size(), 10u);
  const int32_t eos = free_run.tokens[3];
  const size_t first_eos = std::find(free_run.tokens.begin(), free_run.tokens.end(), eos) - free_run.tokens.begin();
  const Generation stopped = generate(model, context, greedy, eos);
  EXPECT_EQ(stopped.stop, StopReason::kEndOfText);
  EXPECT_EQ(stopped.tokens, std::vector<int32_t>(free_run.tokens.begin(), free_run.tokens.begin() + first_eos));
}

TEST(Evaluation, StreamPredictsEveryTokenOnceInNonOverlappingWindows) {
  GPT model(tiny_gpt(4));
  std::vector<int32_t> tokens;
  for (int i = 0; i < 12; ++i) tokens.push_back((i * 13 + 5) % 40);
  const TokenReader read = [&](uint64_t start, size_t count, int32_t* out) {
    std::copy_n(tokens.begin() + start, count, out);
  };
  // 11 predictions: windows [0..4], [4..8], [8..11] predict 4 + 4 + 3 tokens.
  double expected = 0;
  {
    const EvalMode eval(model);
    const NoGradGuard no_grad;
    for (const auto& [start, len] : std::vector<std::pair<int, int>>{{0, 4}, {4, 4}, {8, 3}}) {
      const std::vector<int32_t> x(tokens.begin() + start, tokens.begin() + start + len);
      const std::vector<int32_t> y(tokens.begin() + start + 1, tokens.begin() + start + len + 1);
      expected += model.loss(x, y, 1, len).item() * len;
    }
  }
  for (int64_t batch : {1, 2, 8}) {
    const LossTotal total = evaluate_stream(model, tokens.size(), read, batch);
    EXPECT_EQ(total.tokens, 11) << batch;
    EXPECT_NEAR(total.sum, expected, 1e-4) << batch;
    EXPECT_NEAR(total.perplexity(), std::exp(expected / 11), 1e-3) << batch;
  }
  EXPECT_TRUE(model.is_training());
}

}  // namespace
}  // namespace tapelm
