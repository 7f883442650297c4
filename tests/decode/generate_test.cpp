// GPT decoding: the token choice (temperature, top-k, top-p, greedy), the generation loop
// (KV cache against full recomputation, sliding window, <eos>) and greedy completion.
#include <tapelm/decode/generate.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include <tapelm/autograd/tape.h>
#include "nn/module_gradcheck.h"
#include "tiny_gpt.h"

namespace tapelm {
namespace {

using testing::tiny_gpt;

using testing::random_tensor;

std::vector<float> log_probs(const std::vector<double>& probs) {
  std::vector<float> logits;
  for (double p : probs) logits.push_back(static_cast<float>(std::log(p)));
  return logits;
}

DecodingOptions options(double temperature, int64_t top_k = 0, double top_p = 1.0, uint64_t seed = 0) {
  DecodingOptions o;
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
    EXPECT_EQ(choose_token(logits.data(), 50, options(1.0, 1), sampled),
              choose_token(logits.data(), 50, options(0.0), greedy));
  }
}

TEST(Sampling, DrawsFollowTheDistributionAndRepeatForASeed) {
  const auto logits = log_probs(kProbs);
  Rng rng(42);
  std::vector<int> counts(4, 0);
  const int draws = 20000;
  std::vector<int32_t> first_draws;
  for (int i = 0; i < draws; ++i) {
    const int32_t token = choose_token(logits.data(), 4, options(1.0), rng);
    ++counts[token];
    if (i < 50) first_draws.push_back(token);
  }
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(counts[i] / double(draws), kProbs[i], 0.015) << "token " << i;
  Rng again(42);
  for (int32_t token : first_draws) EXPECT_EQ(choose_token(logits.data(), 4, options(1.0), again), token);
}

TEST(Sampling, RejectsBadOptionsNamingTheField) {
  const auto logits = log_probs(kProbs);
  for (const auto& [bad, field] : std::vector<std::pair<DecodingOptions, std::string>>{
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

TEST(Generation, KvCacheGivesTheSameTokensAsRecomputingEveryWindow) {
  GPT model(tiny_gpt(16));
  const std::vector<int32_t> context = {1, 7, 9, 12, 5};
  // 40 new tokens through a 16-token window: the window slides twice.
  for (const DecodingOptions& o : {options(0.0), options(1.0, 5, 0.9, 11)}) {
    DecodingOptions run = o;
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
  DecodingOptions greedy = options(0.0);
  greedy.max_new_tokens = 3;
  const std::vector<int32_t> tail(context.end() - 8, context.end());
  EXPECT_EQ(generate(model, context, greedy, -1).tokens, generate(model, tail, greedy, -1).tokens);
}

TEST(Generation, StopsAtEndOfTextWithoutEmittingIt) {
  GPT model(tiny_gpt(16));
  const std::vector<int32_t> context = {1, 2, 3};
  DecodingOptions greedy = options(0.0);
  greedy.max_new_tokens = 10;
  const Generation free_run = generate(model, context, greedy, -1);
  ASSERT_EQ(free_run.tokens.size(), 10u);
  const int32_t eos = free_run.tokens[3];
  const size_t first_eos = std::find(free_run.tokens.begin(), free_run.tokens.end(), eos) - free_run.tokens.begin();
  const Generation stopped = generate(model, context, greedy, eos);
  EXPECT_EQ(stopped.stop, StopReason::kEndOfText);
  EXPECT_EQ(stopped.tokens, std::vector<int32_t>(free_run.tokens.begin(), free_run.tokens.begin() + first_eos));
}

// Parameters redrawn as N(0, scale²) so the next-token distributions are peaked and differ
// by prefix.
void sharpen(Module& model, uint64_t seed, float scale) {
  Rng rng(seed);
  for (auto& [name, param] : model.named_parameters()) {
    for (int64_t i = 0; i < param.numel(); ++i) param.data()[i] = scale * rng.normal();
  }
}

GPTConfig tiny_sharp_gpt() {
  GPTConfig cfg;
  static_cast<TransformerConfig&>(cfg) = testing::tiny_config();
  cfg.vocab_size = 9;
  cfg.n_layer = 2;
  cfg.seed = 4;
  return cfg;
}

// Greedy without a cache: the whole sequence re-run for every token.
std::vector<int32_t> greedy_without_cache(GPT& model, std::vector<int32_t> ids, int64_t steps) {
  const NoGradGuard no_grad;
  const int64_t V = model.config().vocab_size;
  std::vector<int32_t> out;
  for (int64_t i = 0; i < steps; ++i) {
    const int64_t T = static_cast<int64_t>(ids.size());
    const Var logits = model.forward(ids, 1, T);
    const float* row = logits.data() + (T - 1) * V;
    const int32_t next = static_cast<int32_t>(std::max_element(row, row + V) - row);
    ids.push_back(next);
    out.push_back(next);
  }
  return out;
}

TEST(GreedyCompletion, WithTheCacheMatchesRecomputation) {
  GPT model(tiny_sharp_gpt());
  sharpen(model, 4, 0.5f);
  model.eval();
  const std::vector<int32_t> prompt = {1, 5, 3};
  const DecodedSequence cached = greedy_complete(model, prompt, 6, /*eos_id=*/-1);
  EXPECT_EQ(cached.tokens, greedy_without_cache(model, prompt, 6));
  EXPECT_FALSE(cached.finished);
  EXPECT_LT(cached.score, 0.0);
}

TEST(GreedyCompletion, StopsAtEosAndAtTheWindow) {
  GPT model(tiny_sharp_gpt());
  sharpen(model, 4, 0.5f);
  const std::vector<int32_t> prompt = {1, 5, 3};
  const DecodedSequence full = greedy_complete(model, prompt, 100, -1);
  EXPECT_EQ(full.tokens.size(), 16u - 3u + 1u) << "positions 3..15 are fed, the last token is not";
  const int32_t eos = full.tokens[2];
  const auto first = std::find(full.tokens.begin(), full.tokens.end(), eos) - full.tokens.begin();
  const DecodedSequence stopped = greedy_complete(model, prompt, 100, eos);
  EXPECT_TRUE(stopped.finished);
  EXPECT_EQ(stopped.tokens, std::vector<int32_t>(full.tokens.begin(), full.tokens.begin() + first));
  EXPECT_THROW(greedy_complete(model, {}, 4, 2), std::invalid_argument);
  EXPECT_THROW(greedy_complete(model, std::vector<int32_t>(17, 1), 4, 2), std::invalid_argument);
}

}  // namespace
}  // namespace tapelm
