// Label vocabulary (sorted ids, JSON round trip, unknown labels) and the balance report.
#include <gtest/gtest.h>

#include <tapelm/data/label_vocab.h>
#include "data_test_util.h"

namespace tapelm {
namespace {

using testing::expect_error;

std::vector<LabeledExample> examples_with(const std::vector<std::string>& labels) {
  std::vector<LabeledExample> out;
  for (const std::string& label : labels) out.push_back({"x", label, "", ""});
  return out;
}

TEST(LabelVocab, IdsFollowSortedLabelsWhateverTheReadingOrder) {
  const LabelVocab a = LabelVocab::from_examples(examples_with({"spam", "ham", "spam", "eggs"}));
  const LabelVocab b = LabelVocab::from_examples(examples_with({"eggs", "spam", "ham"}));
  EXPECT_EQ(a.labels(), (std::vector<std::string>{"eggs", "ham", "spam"}));
  EXPECT_EQ(a.labels(), b.labels());
  EXPECT_EQ(a.id("ham"), 1);
  EXPECT_EQ(a.label(2), "spam");
  EXPECT_EQ(a.find("bacon"), -1);
}

TEST(LabelVocab, BuildsFromSelectedIndicesOnly) {
  const auto examples = examples_with({"a", "b", "c", "d"});
  EXPECT_EQ(LabelVocab::from_examples(examples, {3, 1}).labels(), (std::vector<std::string>{"b", "d"}));
  EXPECT_THROW(LabelVocab::from_examples(examples, {4}), std::out_of_range);
}

TEST(LabelVocab, JsonRoundTrip) {
  const LabelVocab vocab({"pos", "neg", "neutral"});
  const LabelVocab back = LabelVocab::from_json(vocab.to_json(), "labels.json");
  EXPECT_EQ(back.labels(), vocab.labels());
  expect_error<std::runtime_error>([] { LabelVocab::from_json("{\"labels\": 3}", "ckpt/labels.json"); },
                                   {"ckpt/labels.json"});
  expect_error<std::runtime_error>([] { LabelVocab::from_json("not json", "x.json"); }, {"x.json"});
}

TEST(LabelVocab, UnknownLabelAndBadIdsAreErrors) {
  const LabelVocab vocab({"ham", "spam"});
  expect_error<std::invalid_argument>([&] { vocab.id("eggs"); }, {"unknown label 'eggs'", "ham, spam"});
  EXPECT_THROW(vocab.label(2), std::out_of_range);
  EXPECT_THROW(vocab.label(-1), std::out_of_range);
  EXPECT_THROW(LabelVocab(std::vector<std::string>{}), std::invalid_argument);
  EXPECT_THROW(LabelVocab({"a", ""}), std::invalid_argument);
}

TEST(LabelVocab, BalanceReportCountsAndPercentages) {
  const std::string report = class_balance_report(examples_with({"spam", "ham", "ham", "ham"}));
  EXPECT_EQ(report,
            "ham           3   75.0%\n"
            "spam          1   25.0%\n"
            "total         4\n");
}

}  // namespace
}  // namespace tapelm
