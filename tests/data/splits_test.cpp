// Splits: stratified proportions, determinism, groups kept together, the JSON round trip
// and its errors.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include <tapelm/data/splits.h>
#include "data_test_util.h"

namespace tapelm {
namespace {

using testing::expect_error;
using testing::TempDir;
using testing::write_text;

// 60 "a", 30 "b", 10 "c", interleaved.
std::vector<LabeledExample> imbalanced() {
  std::vector<LabeledExample> examples;
  for (int i = 0; i < 100; ++i) {
    const std::string label = i % 10 < 6 ? "a" : i % 10 < 9 ? "b" : "c";
    examples.push_back({"text " + std::to_string(i), label, "", "f:" + std::to_string(i)});
  }
  return examples;
}

std::map<std::string, size_t> label_counts(const std::vector<LabeledExample>& examples,
                                           const std::vector<size_t>& indices) {
  std::map<std::string, size_t> counts;
  for (size_t i : indices) counts[examples[i].target] += 1;
  return counts;
}

void expect_partition(const DataSplit& split, size_t n) {
  std::vector<size_t> all = split.train;
  all.insert(all.end(), split.val.begin(), split.val.end());
  all.insert(all.end(), split.test.begin(), split.test.end());
  std::sort(all.begin(), all.end());
  ASSERT_EQ(all.size(), n);
  for (size_t i = 0; i < n; ++i) ASSERT_EQ(all[i], i) << "every example in exactly one split";
}

TEST(Splits, StratifiedSplitKeepsEachLabelsProportion) {
  const auto examples = imbalanced();
  const DataSplit split = split_examples(examples, SplitConfig{});
  expect_partition(split, examples.size());
  EXPECT_EQ(label_counts(examples, split.train), (std::map<std::string, size_t>{{"a", 48}, {"b", 24}, {"c", 8}}));
  EXPECT_EQ(label_counts(examples, split.val), (std::map<std::string, size_t>{{"a", 6}, {"b", 3}, {"c", 1}}));
  EXPECT_EQ(label_counts(examples, split.test), (std::map<std::string, size_t>{{"a", 6}, {"b", 3}, {"c", 1}}));
  EXPECT_TRUE(std::is_sorted(split.train.begin(), split.train.end()));
}

TEST(Splits, SameSeedSameSplitOtherSeedOtherSplit) {
  const auto examples = imbalanced();
  SplitConfig config;
  config.seed = 7;
  const DataSplit a = split_examples(examples, config), b = split_examples(examples, config);
  EXPECT_EQ(a.train, b.train);
  EXPECT_EQ(a.val, b.val);
  EXPECT_EQ(a.test, b.test);
  config.seed = 8;
  EXPECT_NE(split_examples(examples, config).val, a.val);
}

TEST(Splits, GroupKeyKeepsRelatedExamplesInOneSplit) {
  // 40 words with 1-3 pronunciations each; the word is the group.
  std::vector<LabeledExample> examples;
  for (int w = 0; w < 40; ++w) {
    for (int p = 0; p <= w % 3; ++p) {
      examples.push_back({"word" + std::to_string(w), "P" + std::to_string(p) + " W" + std::to_string(w),
                          "word" + std::to_string(w), ""});
    }
  }
  SplitConfig config;
  config.stratify = false;
  config.seed = 3;
  const DataSplit split = split_examples(examples, config);
  expect_partition(split, examples.size());
  std::map<std::string, std::set<int>> sides;
  const std::vector<size_t>* parts[] = {&split.train, &split.val, &split.test};
  for (int s = 0; s < 3; ++s) {
    for (size_t i : *parts[s]) sides[examples[i].group].insert(s);
  }
  for (const auto& [group, in] : sides) EXPECT_EQ(in.size(), 1u) << group << " straddles splits";
  std::set<std::string> val_groups, test_groups;
  for (size_t i : split.val) val_groups.insert(examples[i].group);
  for (size_t i : split.test) test_groups.insert(examples[i].group);
  EXPECT_EQ(val_groups.size(), 4u) << "10% of 40 groups";
  EXPECT_EQ(test_groups.size(), 4u);
}

TEST(Splits, WithoutGroupsAlternatePronunciationsCanStraddle) {
  // The contrast case: the same data split per example does separate some groups, which is
  // what group_key exists to prevent.
  std::vector<LabeledExample> examples;
  for (int w = 0; w < 40; ++w) {
    for (int p = 0; p < 3; ++p) examples.push_back({"word" + std::to_string(w), "P" + std::to_string(p), "", ""});
  }
  SplitConfig config;
  config.stratify = false;
  const DataSplit split = split_examples(examples, config);
  std::map<std::string, std::set<int>> sides;
  const std::vector<size_t>* parts[] = {&split.train, &split.val, &split.test};
  for (int s = 0; s < 3; ++s) {
    for (size_t i : *parts[s]) sides[examples[i].input].insert(s);
  }
  size_t straddling = 0;
  for (const auto& [word, in] : sides) straddling += in.size() > 1 ? 1 : 0;
  EXPECT_GT(straddling, 0u);
}

TEST(Splits, FractionsMustBeNonNegativeAndSumToOne) {
  SplitConfig config;
  config.train = 0.9;
  expect_error<std::invalid_argument>([&] { split_examples(imbalanced(), config); }, {"sum to 1"});
  config.train = 0.9;
  config.val = -0.1;
  config.test = 0.2;
  expect_error<std::invalid_argument>([&] { split_examples(imbalanced(), config); }, {"non-negative"});
}

TEST(Splits, JsonRoundTripReproducesTheSplit) {
  TempDir dir;
  const auto examples = imbalanced();
  const DataSplit split = split_examples(examples, SplitConfig{});
  write_split(dir / "split.json", split, examples);
  const DataSplit back = read_split(dir / "split.json", examples);
  EXPECT_EQ(back.train, split.train);
  EXPECT_EQ(back.val, split.val);
  EXPECT_EQ(back.test, split.test);
}

TEST(Splits, ReadSplitRejectsChangedData) {
  TempDir dir;
  auto examples = imbalanced();
  write_split(dir / "s.json", DataSplit{{0, 1}, {2}, {}}, examples);
  auto fewer = examples;
  fewer.pop_back();
  expect_error<std::runtime_error>([&] { read_split(dir / "s.json", fewer); },
                                   {"s.json", "num_examples is 100", "has 99"});
  examples[5].target = "c";
  expect_error<std::runtime_error>([&] { read_split(dir / "s.json", examples); },
                                   {"s.json", "fingerprint", "the examples changed"});
}

TEST(Splits, ReadSplitRejectsBadIndices) {
  TempDir dir;
  const auto all = imbalanced();
  const std::vector<LabeledExample> three(all.begin(), all.begin() + 3);
  write_text(dir / "ok.json", R"({"num_examples": 3, "train": [2, 0], "val": [1]})");
  EXPECT_EQ(read_split(dir / "ok.json", three).train, (std::vector<size_t>{0, 2})) << "no fingerprint: hand-written";
  write_text(dir / "range.json", R"({"num_examples": 3, "train": [0, 3], "val": [1]})");
  expect_error<std::runtime_error>([&] { read_split(dir / "range.json", three); }, {"index 3", "out of range"});
  write_text(dir / "twice.json", R"({"num_examples": 3, "train": [0, 1], "val": [1]})");
  expect_error<std::runtime_error>([&] { read_split(dir / "twice.json", three); }, {"index 1 is listed twice"});
  write_text(dir / "neg.json", R"({"num_examples": 3, "train": [-1]})");
  expect_error<std::runtime_error>([&] { read_split(dir / "neg.json", three); }, {"-1", "non-negative integer"});
  write_text(dir / "bad.json", "{\"num_examples\": 3,");
  expect_error<std::runtime_error>([&] { read_split(dir / "bad.json", three); }, {"bad.json", "bad JSON"});
}

}  // namespace
}  // namespace tapelm
