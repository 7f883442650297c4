// Samplers over a dataset whose token i is i (mod vocab), so every window reveals where it
// came from: determinism, checkpoint restore, bounds, shift-by-one targets, sequential
// coverage and the rank slices of data-parallel batches.
#include <tapelm/data/sampler.h>

#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "data_test_util.h"

namespace tapelm {
namespace {

using testing::expect_error;
using testing::TempDir;

constexpr uint64_t kVocab = 60000;

// A dataset of `count` tokens 0, 1, 2, ... over two shards (to exercise boundary windows).
TokenDataset counting_dataset(const TempDir& dir, size_t count) {
  std::vector<int32_t> tokens(count);
  for (size_t i = 0; i < count; ++i) tokens[i] = static_cast<int32_t>(i % kVocab);
  const size_t half = count / 2;
  write_shard(dir / "a.bin", kVocab, tokens.data(), half);
  write_shard(dir / "b.bin", kVocab, tokens.data() + half, count - half);
  return TokenDataset({dir / "a.bin", dir / "b.bin"});
}

TEST(RandomSampler, WindowsAreContiguousInBoundsAndYIsXShiftedByOne) {
  TempDir dir;
  const size_t n = 1000;
  RandomSampler sampler(counting_dataset(dir, n), 16, 42);
  std::vector<int32_t> x, y;
  for (int step = 0; step < 20; ++step) {
    sampler.next(8, x, y);
    ASSERT_EQ(x.size(), 8u * 16);
    ASSERT_EQ(y.size(), 8u * 16);
    for (int row = 0; row < 8; ++row) {
      const int32_t start = x[row * 16];
      EXPECT_GE(start, 0);
      EXPECT_LE(start + 16, static_cast<int32_t>(n) - 1) << "the target of the last input must exist";
      for (int t = 0; t < 16; ++t) {
        EXPECT_EQ(x[row * 16 + t], start + t);
        EXPECT_EQ(y[row * 16 + t], start + t + 1);
      }
    }
  }
}

TEST(RandomSampler, SameSeedGivesSameBatchesAndOtherSeedsDiffer) {
  TempDir dir;
  const TokenDataset data = counting_dataset(dir, 5000);
  RandomSampler a(data, 8, 7), b(data, 8, 7), c(data, 8, 8);
  std::vector<int32_t> xa, ya, xb, yb, xc, yc;
  for (int step = 0; step < 5; ++step) {
    a.next(4, xa, ya);
    b.next(4, xb, yb);
    c.next(4, xc, yc);
    EXPECT_EQ(xa, xb);
    EXPECT_EQ(ya, yb);
    EXPECT_NE(xa, xc);
  }
}

TEST(RandomSampler, RestoredStateContinuesIdentically) {
  TempDir dir;
  const TokenDataset data = counting_dataset(dir, 5000);
  RandomSampler original(data, 8, 123);
  std::vector<int32_t> x, y;
  for (int step = 0; step < 3; ++step) original.next(4, x, y);
  const uint64_t seed = original.seed(), counter = original.counter();
  EXPECT_EQ(counter, 12u);

  RandomSampler resumed(data, 8, 999);
  resumed.restore(seed, counter);
  std::vector<int32_t> x2, y2;
  for (int step = 0; step < 4; ++step) {
    original.next(4, x, y);
    resumed.next(4, x2, y2);
    EXPECT_EQ(x, x2);
    EXPECT_EQ(y, y2);
  }
}

TEST(RandomSampler, CoversStartsAcrossTheWholeDataset) {
  TempDir dir;
  RandomSampler sampler(counting_dataset(dir, 200), 4, 1);
  std::set<int32_t> starts;
  std::vector<int32_t> x, y;
  for (int step = 0; step < 200; ++step) {
    sampler.next(8, x, y);
    for (int row = 0; row < 8; ++row) starts.insert(x[row * 4]);
  }
  EXPECT_EQ(starts.size(), 196u) << "every start in [0, 196) should appear";
  EXPECT_EQ(*starts.rbegin(), 195);
}

TEST(RandomSampler, RanksTakeDisjointSlicesOfTheSingleProcessBatch) {
  TempDir dir;
  const TokenDataset data = counting_dataset(dir, 5000);
  RandomSampler single(data, 8, 5), rank0(data, 8, 5), rank1(data, 8, 5);
  std::vector<int32_t> x, y, x0, y0, x1, y1;
  for (int step = 0; step < 3; ++step) {
    single.next(6, x, y);
    rank0.next(3, x0, y0, 0, 2);
    rank1.next(3, x1, y1, 1, 2);
    std::vector<int32_t> joined = x0;
    joined.insert(joined.end(), x1.begin(), x1.end());
    EXPECT_EQ(joined, x);
  }
  EXPECT_EQ(rank0.counter(), single.counter());
}

TEST(RandomSampler, TooSmallDatasetOrBadArgumentsAreErrors) {
  TempDir dir;
  const TokenDataset data = counting_dataset(dir, 10);
  expect_error<std::invalid_argument>([&] { RandomSampler s(data, 10, 1); }, {"10 tokens", "context + 1 = 11"});
  RandomSampler sampler(data, 4, 1);
  std::vector<int32_t> x, y;
  expect_error<std::invalid_argument>([&] { sampler.next(0, x, y); }, {"batch 0"});
  expect_error<std::invalid_argument>([&] { sampler.next(2, x, y, 2, 2); }, {"rank 2"});
}

TEST(SequentialSampler, CoversTheDataInOrderWithNonOverlappingWindows) {
  TempDir dir;
  const size_t n = 103;
  SequentialSampler sampler(counting_dataset(dir, n), 10);
  EXPECT_EQ(sampler.num_windows(), 10u);  // (103 - 1) / 10
  std::vector<int32_t> x, y, seen_x, seen_y;
  std::vector<int64_t> rows;
  for (int64_t got; (got = sampler.next(4, x, y)) > 0;) {
    rows.push_back(got);
    seen_x.insert(seen_x.end(), x.begin(), x.end());
    seen_y.insert(seen_y.end(), y.begin(), y.end());
  }
  EXPECT_EQ(rows, (std::vector<int64_t>{4, 4, 2}));
  ASSERT_EQ(seen_x.size(), 100u);
  for (int32_t i = 0; i < 100; ++i) {
    EXPECT_EQ(seen_x[i], i);
    EXPECT_EQ(seen_y[i], i + 1);
  }
  EXPECT_EQ(sampler.next(4, x, y), 0);
  EXPECT_TRUE(x.empty());
}

TEST(SequentialSampler, PositionCanBeSavedRestoredAndReset) {
  TempDir dir;
  const TokenDataset data = counting_dataset(dir, 500);
  SequentialSampler a(data, 8);
  std::vector<int32_t> x, y, x2, y2;
  a.next(3, x, y);
  EXPECT_EQ(a.position(), 3u);
  SequentialSampler b(data, 8);
  b.set_position(a.position());
  a.next(3, x, y);
  b.next(3, x2, y2);
  EXPECT_EQ(x, x2);
  EXPECT_EQ(x2[0], 3 * 8);
  b.set_position(0);
  b.next(1, x2, y2);
  EXPECT_EQ(x2[0], 0);
  expect_error<std::out_of_range>([&] { b.set_position(b.num_windows() + 1); }, {"past the last window"});
}

TEST(SequentialSampler, RanksSplitEachGlobalBatch) {
  TempDir dir;
  const TokenDataset data = counting_dataset(dir, 81);
  SequentialSampler rank0(data, 4), rank1(data, 4);  // 20 windows
  std::vector<int32_t> x0, y0, x1, y1;
  std::vector<int32_t> starts;
  while (true) {
    const int64_t r0 = rank0.next(3, x0, y0, 0, 2);
    const int64_t r1 = rank1.next(3, x1, y1, 1, 2);
    if (r0 + r1 == 0) break;
    for (int64_t r = 0; r < r0; ++r) starts.push_back(x0[r * 4]);
    for (int64_t r = 0; r < r1; ++r) starts.push_back(x1[r * 4]);
  }
  ASSERT_EQ(starts.size(), 20u);
  for (int32_t w = 0; w < 20; ++w) EXPECT_EQ(starts[w], 4 * w);
}

}  // namespace
}  // namespace tapelm
