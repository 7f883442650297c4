// The collectives of train/distributed.h, run by every rank of the job (or by a world of
// one). Each test makes the same collective calls on every rank and checks with EXPECT, so
// a failure on one rank cannot leave the others waiting in a collective.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "autograd/rng.h"
#include "nn/gpt.h"
#include "world.h"

namespace tapelm {
namespace {

using testing::world;

GPTConfig tiny_gpt(uint64_t seed) {
  GPTConfig cfg;
  cfg.vocab_size = 32;
  cfg.ctx_len = 8;
  cfg.n_layer = 1;
  cfg.n_head = 2;
  cfg.n_embd = 16;
  cfg.seed = seed;
  return cfg;
}

// Tensor filled from the stream (seed, 0..): what rank `seed`'s gradient would hold.
Tensor random_values(Shape shape, uint64_t seed) {
  Tensor t(std::move(shape));
  Rng rng(seed);
  for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = 2.0f * rng.uniform() - 1.0f;
  return t;
}

bool bitwise_equal(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape()) return false;
  for (int64_t i = 0; i < a.numel(); ++i) {
    if (a.data()[i] != b.data()[i]) return false;
  }
  return true;
}

TEST(Distributed, RankAndWorldSizeMatchTheLauncher) {
  const Distributed& dist = world();
  const char* launched = std::getenv("OMPI_COMM_WORLD_SIZE");
  EXPECT_EQ(dist.world_size(), launched ? std::atoi(launched) : 1);
  EXPECT_EQ(dist.uses_mpi(), launched != nullptr);
  EXPECT_EQ(dist.is_root(), dist.rank() == 0);
  EXPECT_GE(dist.local_size(), 1);
  EXPECT_LE(dist.local_size(), dist.world_size());
  EXPECT_LT(dist.local_rank(), dist.local_size());

  // Every rank has a distinct rank in [0, world): gathered, they are 0, 1, ..., N-1.
  const auto ranks = dist.gather({static_cast<uint64_t>(dist.rank())});
  if (dist.is_root()) {
    ASSERT_EQ(ranks.size(), static_cast<std::size_t>(dist.world_size()));
    for (int r = 0; r < dist.world_size(); ++r) EXPECT_EQ(ranks[r], std::vector<uint64_t>{static_cast<uint64_t>(r)});
  } else {
    EXPECT_TRUE(ranks.empty());
  }
}

TEST(BroadcastParameters, GivesEveryRankTheRootsValues) {
  const Distributed& dist = world();
  const GPT model(tiny_gpt(100 + dist.rank()));  // a different initialisation on every rank
  const GPT root_model(tiny_gpt(100));           // what rank 0 holds
  const NamedParameters params = model.named_parameters();
  EXPECT_EQ(dist.parameters_in_sync(params), dist.world_size() == 1);

  dist.broadcast_parameters(params);

  const NamedParameters expected = root_model.named_parameters();
  ASSERT_EQ(params.size(), expected.size());
  for (std::size_t i = 0; i < params.size(); ++i) {
    EXPECT_TRUE(bitwise_equal(params[i].second.value(), expected[i].second.value())) << params[i].first;
  }
  EXPECT_TRUE(dist.parameters_in_sync(params));
}

TEST(BroadcastParameters, SpansSeveralBucketsForATensorLargerThanOne) {
  const Distributed& dist = world();
  const int64_t bucket_floats = static_cast<int64_t>(Distributed::bucket_bytes / sizeof(float));
  NamedParameters params{{"small", Var(random_values({3, 5}, 10 + dist.rank()), true)},
                         {"large", Var(random_values({bucket_floats + 1000}, 20 + dist.rank()), true)},
                         {"frozen", Var(random_values({7}, 30 + dist.rank()), false)}};
  dist.broadcast_parameters(params);
  EXPECT_TRUE(bitwise_equal(params[0].second.value(), random_values({3, 5}, 10)));
  EXPECT_TRUE(bitwise_equal(params[1].second.value(), random_values({bucket_floats + 1000}, 20)));
  EXPECT_TRUE(bitwise_equal(params[2].second.value(), random_values({7}, 30)));
}

TEST(BroadcastParameters, RefusesModelsThatDifferAcrossRanks) {
  const Distributed& dist = world();
  if (dist.world_size() == 1) GTEST_SKIP() << "needs at least 2 ranks";
  const bool last = dist.rank() == dist.world_size() - 1;
  NamedParameters params{{"w", Var(Tensor::zeros({4, last ? 3 : 2}), true)}};
  try {
    dist.broadcast_parameters(params);
    ADD_FAILURE() << "expected an error about the parameter layout";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("1 rank(s) have parameter names, shapes"), std::string::npos) << e.what();
  }
}

// Rank r's gradients are random_values(shape, seed + r); the average is their mean.
TEST(AverageGradients, EveryRankGetsTheMeanOfAllRanksGradients) {
  const Distributed& dist = world();
  const int N = dist.world_size();
  const int64_t bucket_floats = static_cast<int64_t>(Distributed::bucket_bytes / sizeof(float));
  const std::vector<Shape> shapes{{4, 6}, {bucket_floats + 333}, {5}};
  NamedParameters params;
  for (std::size_t p = 0; p < shapes.size(); ++p) {
    params.emplace_back("p" + std::to_string(p), Var(Tensor::zeros(shapes[p]), true));
    params.back().second.add_grad(random_values(shapes[p], 1000 * p + dist.rank()));
  }
  dist.average_gradients(params);

  NamedParameters grads;  // to compare the ranks' results bit for bit
  for (std::size_t p = 0; p < shapes.size(); ++p) {
    const Tensor& got = params[p].second.grad();
    ASSERT_EQ(got.shape(), shapes[p]);
    std::vector<Tensor> per_rank;
    for (int r = 0; r < N; ++r) per_rank.push_back(random_values(shapes[p], 1000 * p + r));
    double worst = 0.0;
    for (int64_t i = 0; i < got.numel(); ++i) {
      double sum = 0.0;
      for (int r = 0; r < N; ++r) sum += per_rank[r].data()[i];
      worst = std::max(worst, std::fabs(got.data()[i] - sum / N));
    }
    // Values are in [-1, 1]; the float sums differ from the double reference by rounding only.
    EXPECT_LE(worst, 1e-6) << params[p].first;
    grads.emplace_back(params[p].first, Var(got));
  }
  EXPECT_TRUE(dist.parameters_in_sync(grads)) << "the ranks' averaged gradients differ";
}

TEST(AverageGradients, MissingGradientsCountAsZerosAndFrozenParametersAreLeftAlone) {
  const Distributed& dist = world();
  const int N = dist.world_size();
  NamedParameters params{{"only_on_root", Var(Tensor::zeros({3}), true)},
                         {"on_no_rank", Var(Tensor::zeros({3}), true)},
                         {"frozen", Var(Tensor::zeros({3}), false)}};
  if (dist.is_root()) params[0].second.add_grad(Tensor::full({3}, 6.0f));
  params[2].second.add_grad(Tensor::full({3}, 1.0f + dist.rank()));  // must not be averaged

  dist.average_gradients(params);

  ASSERT_TRUE(params[0].second.has_grad());
  for (float g : params[0].second.grad().to_vector()) EXPECT_FLOAT_EQ(g, 6.0f / N);
  EXPECT_FALSE(params[1].second.has_grad()) << "no rank had a gradient, so the optimizer must skip it";
  for (float g : params[2].second.grad().to_vector()) EXPECT_EQ(g, 1.0f + dist.rank());
}

TEST(AllReduceSum, SumsScalarsOverRanksOnEveryRank) {
  const Distributed& dist = world();
  const int N = dist.world_size();
  std::vector<double> values{dist.rank() + 1.0, 1.0, 0.25};
  dist.all_reduce_sum(values);
  EXPECT_EQ(values, (std::vector<double>{N * (N + 1) / 2.0, static_cast<double>(N), 0.25 * N}));
  EXPECT_EQ(dist.all_reduce_sum(2.0), 2.0 * N);
}

TEST(AllReduceSum, ANonFiniteValueOnOneRankReachesEveryRank) {
  const Distributed& dist = world();
  const bool last = dist.rank() == dist.world_size() - 1;
  const double loss = dist.all_reduce_sum(last ? std::numeric_limits<double>::quiet_NaN() : 1.5);
  EXPECT_TRUE(std::isnan(loss)) << "every rank must see the NaN to make the same skip decision";
}

TEST(GatherScatter, RoundTripPerRankStatesThroughRoot) {
  const Distributed& dist = world();
  const uint64_t r = static_cast<uint64_t>(dist.rank());
  const std::vector<uint64_t> mine{r, 1000 + r, std::numeric_limits<uint64_t>::max() - r};
  std::vector<std::vector<uint64_t>> all = dist.gather(mine);
  if (dist.is_root()) {
    ASSERT_EQ(all.size(), static_cast<std::size_t>(dist.world_size()));
    for (uint64_t k = 0; k < all.size(); ++k) {
      EXPECT_EQ(all[k], (std::vector<uint64_t>{k, 1000 + k, std::numeric_limits<uint64_t>::max() - k}));
    }
    for (auto& state : all) state[1] += 1;  // what a resumed run would hand back
  }
  const std::vector<uint64_t> back = dist.scatter(all);
  EXPECT_EQ(back, (std::vector<uint64_t>{r, 1001 + r, std::numeric_limits<uint64_t>::max() - r}));
}

TEST(GatherScatter, ScatterRefusesStatesForADifferentNumberOfRanksOnEveryRank) {
  const Distributed& dist = world();
  const std::vector<std::vector<uint64_t>> states(static_cast<std::size_t>(dist.world_size() + 1),
                                                  std::vector<uint64_t>{1, 2});
  try {
    dist.scatter(states);
    ADD_FAILURE() << "expected an error about the number of ranks";
  } catch (const std::runtime_error& e) {
    const std::string expected = "rank 0 passed states for " + std::to_string(dist.world_size() + 1) +
                                 " ranks, but the job has " + std::to_string(dist.world_size());
    EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
  }
}

TEST(GatherScatter, GatherRefusesStatesOfDifferentLengthsOnEveryRank) {
  const Distributed& dist = world();
  if (dist.world_size() == 1) GTEST_SKIP() << "needs at least 2 ranks";
  const std::vector<uint64_t> mine(dist.rank() == 1 ? 3 : 2, 7);
  EXPECT_THROW(dist.gather(mine), std::runtime_error);
}

TEST(Broadcast, SendsTheRootsTextToEveryRank) {
  const Distributed& dist = world();
  std::string text = dist.is_root() ? std::string("checkpoints/step-000100\n") + std::string(5000, 'x') : "other";
  dist.broadcast(text);
  EXPECT_EQ(text, std::string("checkpoints/step-000100\n") + std::string(5000, 'x'));
}

TEST(ThreadsPerRank, AutomaticCountKeepsRanksTimesThreadsWithinTheCpus) {
  const Distributed& dist = world();
  const int cpus = static_cast<int>(std::thread::hardware_concurrency());
  const int threads = dist.threads_per_rank(0);
  EXPECT_GE(threads, 1);
  if (cpus >= dist.local_size()) {
    EXPECT_LE(threads * dist.local_size(), cpus);
  } else {
    EXPECT_EQ(threads, 1);
  }
  EXPECT_EQ(dist.threads_per_rank(3), 3) << "an explicit request is honoured";
  EXPECT_THROW(dist.threads_per_rank(-1), std::invalid_argument);
}

}  // namespace
}  // namespace tapelm
