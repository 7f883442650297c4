// Truncation modes and padded batches with their masks.
#include <gtest/gtest.h>

#include <tapelm/data/padding.h>
#include "data_test_util.h"

namespace tapelm {
namespace {

using Ids = std::vector<int32_t>;

const Ids kTen = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};

TEST(Padding, HeadKeepsTheFirstTokens) { EXPECT_EQ(truncate_ids(kTen, 4, Truncation::kHead), (Ids{0, 1, 2, 3})); }

TEST(Padding, TailKeepsTheLastTokens) { EXPECT_EQ(truncate_ids(kTen, 4, Truncation::kTail), (Ids{6, 7, 8, 9})); }

TEST(Padding, HeadTailKeepsAQuarterFromTheStartAndTheRestFromTheEnd) {
  EXPECT_EQ(truncate_ids(kTen, 8, Truncation::kHeadTail), (Ids{0, 1, 4, 5, 6, 7, 8, 9}));
  EXPECT_EQ(truncate_ids(kTen, 3, Truncation::kHeadTail), (Ids{7, 8, 9})) << "3/4 rounds the head down to 0";
}

TEST(Padding, ShortSequencesAreUntouched) {
  for (Truncation mode : {Truncation::kHead, Truncation::kTail, Truncation::kHeadTail}) {
    EXPECT_EQ(truncate_ids(kTen, 10, mode), kTen);
    EXPECT_EQ(truncate_ids({}, 5, mode), Ids{});
  }
}

TEST(Padding, BatchPadsToTheLongestWithMask) {
  const PaddedBatch batch = pad_batch({{5, 6, 7}, {8}, {9, 10}}, 0, 16);
  EXPECT_EQ(batch.B, 3);
  EXPECT_EQ(batch.T, 3);
  EXPECT_EQ(batch.ids, (Ids{5, 6, 7, 8, 0, 0, 9, 10, 0}));
  EXPECT_EQ(batch.padding, (std::vector<uint8_t>{1, 1, 1, 1, 0, 0, 1, 1, 0}));
  EXPECT_EQ(batch.lengths, (std::vector<int64_t>{3, 1, 2}));
}

TEST(Padding, BatchTruncatesToMaxLenWithTheChosenMode) {
  const PaddedBatch batch = pad_batch({kTen, {42}}, 99, 4, Truncation::kTail);
  EXPECT_EQ(batch.T, 4);
  EXPECT_EQ(batch.ids, (Ids{6, 7, 8, 9, 42, 99, 99, 99}));
  EXPECT_EQ(batch.padding, (std::vector<uint8_t>{1, 1, 1, 1, 1, 0, 0, 0}));
}

TEST(Padding, BadInputIsAnError) {
  testing::expect_error<std::invalid_argument>([] { pad_batch({}, 0, 4); }, {"no sequences"});
  testing::expect_error<std::invalid_argument>([] { pad_batch({{}, {}}, 0, 4); }, {"all 2 sequences are empty"});
  testing::expect_error<std::invalid_argument>([] { truncate_ids(kTen, 0, Truncation::kHead); }, {"max_len must be >= 1"});
  testing::expect_error<std::invalid_argument>([] { parse_enum<Truncation>("middle"); },
                                               {"'middle'", "head, tail or head_tail"});
  EXPECT_EQ(parse_enum<Truncation>("head_tail"), Truncation::kHeadTail);
  EXPECT_STREQ(enum_name(Truncation::kTail), "tail");
}

}  // namespace
}  // namespace tapelm
