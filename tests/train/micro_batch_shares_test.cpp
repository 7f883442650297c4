// How ranks share a step's micro-batches (train/loop/micro_batch_shares.h).
#include <gtest/gtest.h>

#include <algorithm>
#include <stdexcept>
#include <vector>

#include <tapelm/train/loop/micro_batch_shares.h>

namespace tapelm {
namespace {

using Shares = std::vector<std::vector<int64_t>>;

double load(const std::vector<double>& costs, const std::vector<int64_t>& share) {
  double sum = 0;
  for (const int64_t k : share) sum += costs[size_t(k)];
  return sum;
}

TEST(MicroBatchShares, EqualCostsAreDealtOutInTurnAsBefore) {
  EXPECT_EQ(share_micro_batches(std::vector<double>(6, 16.0), 1), (Shares{{0, 1, 2, 3, 4, 5}}));
  EXPECT_EQ(share_micro_batches(std::vector<double>(6, 16.0), 2), (Shares{{0, 2, 4}, {1, 3, 5}}));
  EXPECT_EQ(share_micro_batches(std::vector<double>(6, 16.0), 3), (Shares{{0, 3}, {1, 4}, {2, 5}}));
}

TEST(MicroBatchShares, UnequalCostsAreBalancedWithEqualCountsPerRank) {
  // In turn, rank 0 would get 10 + 2 and rank 1 9 + 1.
  EXPECT_EQ(share_micro_batches({10, 9, 2, 1}, 2), (Shares{{0, 3}, {1, 2}}));

  // Micro-batches of words of one length each, as data.group_by_length makes them: 16 words
  // times the length.
  const std::vector<double> costs = {16 * 7, 16 * 12, 16 * 5, 16 * 9, 16 * 6, 16 * 8, 16 * 11, 16 * 4};
  const Shares shares = share_micro_batches(costs, 2);
  ASSERT_EQ(shares.size(), 2u);
  EXPECT_EQ(shares[0].size(), 4u);
  EXPECT_EQ(shares[1].size(), 4u);
  std::vector<int> times_shared(costs.size(), 0);
  for (const auto& share : shares) {
    for (const int64_t k : share) ++times_shared[size_t(k)];
  }
  EXPECT_EQ(times_shared, std::vector<int>(costs.size(), 1));
  // In turn: 7 + 5 + 6 + 11 = 29 against 12 + 9 + 8 + 4 = 33 lengths; shared out: 31 and 31.
  EXPECT_EQ(load(costs, shares[0]), 16 * 31);
  EXPECT_EQ(load(costs, shares[1]), 16 * 31);
}

TEST(MicroBatchShares, EveryRankListsItsMicroBatchesInAscendingOrder) {
  for (const auto& share : share_micro_batches({1, 5, 3, 8, 2, 7}, 3)) {
    EXPECT_TRUE(std::is_sorted(share.begin(), share.end()));
  }
}

TEST(MicroBatchShares, ACountTheRanksCannotShareEquallyIsRefused) {
  EXPECT_THROW(share_micro_batches({1, 2, 3}, 2), std::invalid_argument);
  EXPECT_THROW(share_micro_batches({1, 2}, 0), std::invalid_argument);
}

}  // namespace
}  // namespace tapelm
