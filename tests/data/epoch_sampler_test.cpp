#include <tapelm/data/epoch_sampler.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <set>
#include <vector>

namespace tapelm {
namespace {

std::vector<size_t> iota_items(size_t n) {
  std::vector<size_t> items(n);
  std::iota(items.begin(), items.end(), size_t(0));
  return items;
}

// Lengths 1..40 repeating, so any random group of 16 almost surely spans most of the range.
LengthGrouping cyclic_lengths(size_t n, size_t group_size) {
  LengthGrouping grouping;
  grouping.group_size = group_size;
  for (size_t i = 0; i < n; ++i) grouping.lengths.push_back(1 + i % 40);
  return grouping;
}

// Padded slots when each group is padded to its longest item.
size_t padding(EpochSampler& sampler, const std::vector<size_t>& lengths, size_t group_size, size_t groups) {
  size_t padded = 0;
  for (size_t k = 0; k < groups; ++k) {
    const std::vector<size_t> group = sampler.next(group_size);
    size_t longest = 0;
    for (size_t i : group) longest = std::max(longest, lengths[i]);
    for (size_t i : group) padded += longest - lengths[i];
  }
  return padded;
}

TEST(EpochSampler, EveryEpochVisitsEachItemOnce) {
  EpochSampler sampler(iota_items(10), 7);
  for (int epoch = 0; epoch < 3; ++epoch) {
    std::vector<size_t> seen = sampler.next(10);
    std::sort(seen.begin(), seen.end());
    EXPECT_EQ(seen, iota_items(10)) << "epoch " << epoch;
  }
}

TEST(EpochSampler, LengthGroupingCutsPaddingTenfold) {
  const size_t n = 4000, g = 16;
  const LengthGrouping grouping = cyclic_lengths(n, g);
  EpochSampler plain(iota_items(n), 3);
  EpochSampler grouped(iota_items(n), 3, grouping);
  const size_t plain_padding = padding(plain, grouping.lengths, g, n / g);
  const size_t grouped_padding = padding(grouped, grouping.lengths, g, n / g);
  EXPECT_LT(grouped_padding * 10, plain_padding) << grouped_padding << " vs " << plain_padding;
}

TEST(EpochSampler, LengthGroupingVisitsWholeGroupsAndNoItemTwicePerEpoch) {
  const size_t n = 1003, g = 10;  // 100 groups; 3 items sit out each epoch
  EpochSampler sampler(iota_items(n), 5, cyclic_lengths(n, g));
  std::set<size_t> left_out_first;
  for (int epoch = 0; epoch < 2; ++epoch) {
    std::set<size_t> seen;
    for (size_t k = 0; k < 100; ++k) {
      for (size_t i : sampler.next(g)) EXPECT_TRUE(seen.insert(i).second) << "item " << i << " twice";
    }
    EXPECT_EQ(sampler.state().epoch, epoch);
    EXPECT_EQ(seen.size(), 1000u);
    std::set<size_t> left_out;
    for (size_t i = 0; i < n; ++i) {
      if (!seen.count(i)) left_out.insert(i);
    }
    if (epoch == 0) left_out_first = left_out;
    else EXPECT_NE(left_out, left_out_first) << "the same items sit out every epoch";
  }
}

TEST(EpochSampler, RestoredGroupedSamplerContinuesWithTheSameGroups) {
  const size_t n = 500, g = 8;
  EpochSampler original(iota_items(n), 11, cyclic_lengths(n, g));
  for (int k = 0; k < 70; ++k) original.next(g);  // into the second epoch (62 groups each)
  EpochSampler restored(iota_items(n), 11, cyclic_lengths(n, g));
  restored.restore(original.state());
  for (int k = 0; k < 100; ++k) ASSERT_EQ(restored.next(g), original.next(g)) << "group " << k;
}

TEST(EpochSampler, RestoreRejectsAPositionPastTheEpoch) {
  EpochSampler sampler(iota_items(25), 1, cyclic_lengths(25, 10));
  EXPECT_THROW(sampler.restore({1, 0, 21}), std::invalid_argument);  // an epoch is 20 items
  EXPECT_NO_THROW(sampler.restore({1, 0, 20}));
}

TEST(EpochSampler, GroupingNeedsALengthForEveryItem) {
  LengthGrouping grouping = cyclic_lengths(5, 2);
  EXPECT_THROW(EpochSampler(iota_items(6), 1, grouping), std::invalid_argument);
}

}  // namespace
}  // namespace tapelm
