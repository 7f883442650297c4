// The collectives of train/loop/distributed.h, run by every rank of the job (or by a world of
// one). Each test makes the same collective calls on every rank and checks with EXPECT, so
// a failure on one rank cannot leave the others waiting in a collective.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include <tapelm/autograd/rng.h>
#include <tapelm/nn/gpt.h>
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

  // Every rank has a distinct rank in [0, world): each rank r counts itself at index r.
  std::vector<double> seen(static_cast<std::size_t>(dist.world_size()), 0.0);
  ASSERT_GE(dist.rank(), 0);
  ASSERT_LT(dist.rank(), dist.world_size());
  seen[static_cast<std::size_t>(dist.rank())] = 1.0;
  dist.all_reduce_sum(seen);
  EXPECT_EQ(seen, std::vector<double>(seen.size(), 1.0));
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

TEST(GatherBytes, GivesTheRootEveryRanksBytesOfTheirOwnLengthsInRankOrder) {
  const Distributed& dist = world();
  // Rank r sends r * 1000 bytes (rank 0 nothing), with a NUL and a newline inside.
  const auto text_of = [](int rank) {
    std::string text(static_cast<std::size_t>(rank) * 1000, static_cast<char>('a' + rank));
    if (!text.empty()) text[text.size() / 2] = '\0';
    if (!text.empty()) text.back() = '\n';
    return text;
  };
  const std::vector<std::string> all = dist.gather_bytes(text_of(dist.rank()));
  if (!dist.is_root()) {
    EXPECT_TRUE(all.empty());
    return;
  }
  ASSERT_EQ(all.size(), static_cast<std::size_t>(dist.world_size()));
  for (int r = 0; r < dist.world_size(); ++r) EXPECT_EQ(all[static_cast<std::size_t>(r)], text_of(r)) << "rank " << r;
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
