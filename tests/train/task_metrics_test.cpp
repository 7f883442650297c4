// Task metrics on hand-computed cases: a 3-class confusion matrix, Levenshtein distances,
// token error rate and exact match, and the errors for mismatched inputs.
#include <gtest/gtest.h>

#include <algorithm>
#include <stdexcept>

#include <tapelm/train/tasks/task_metrics.h>

namespace tapelm {
namespace {

// Rows (truth) of the matrix: 0: [2 1 0], 1: [1 1 0], 2: [1 1 2].
const std::vector<int32_t> kTruth = {0, 0, 0, 1, 1, 2, 2, 2, 2};
const std::vector<int32_t> kPredicted = {0, 0, 1, 1, 0, 2, 2, 0, 1};

TEST(TaskMetrics, ConfusionMatrixCountsTruthByPrediction) {
  const ConfusionMatrix m = confusion_matrix(kTruth, kPredicted, 3);
  const int64_t expected[3][3] = {{2, 1, 0}, {1, 1, 0}, {1, 1, 2}};
  for (int32_t t = 0; t < 3; ++t) {
    for (int32_t p = 0; p < 3; ++p) EXPECT_EQ(m.count(t, p), expected[t][p]) << t << "," << p;
  }
  EXPECT_EQ(m.total(), 9);
}

TEST(TaskMetrics, PerClassPrecisionRecallF1MatchHandComputedValues) {
  const ConfusionMatrix m = confusion_matrix(kTruth, kPredicted, 3);
  const ClassScores c0 = m.class_scores(0), c1 = m.class_scores(1), c2 = m.class_scores(2);
  EXPECT_DOUBLE_EQ(c0.precision, 2.0 / 4);
  EXPECT_DOUBLE_EQ(c0.recall, 2.0 / 3);
  EXPECT_DOUBLE_EQ(c0.f1, 4.0 / 7);
  EXPECT_EQ(c0.support, 3);
  EXPECT_DOUBLE_EQ(c1.precision, 1.0 / 3);
  EXPECT_DOUBLE_EQ(c1.recall, 1.0 / 2);
  EXPECT_DOUBLE_EQ(c1.f1, 2.0 / 5);
  EXPECT_EQ(c1.support, 2);
  EXPECT_DOUBLE_EQ(c2.precision, 1.0);
  EXPECT_DOUBLE_EQ(c2.recall, 2.0 / 4);
  EXPECT_DOUBLE_EQ(c2.f1, 2.0 / 3);
  EXPECT_EQ(c2.support, 4);
}

TEST(TaskMetrics, AccuracyAndMacroF1) {
  const ConfusionMatrix m = confusion_matrix(kTruth, kPredicted, 3);
  EXPECT_DOUBLE_EQ(m.accuracy(), 5.0 / 9);
  EXPECT_DOUBLE_EQ(accuracy(kTruth, kPredicted), 5.0 / 9);
  EXPECT_NEAR(m.macro_f1(), (4.0 / 7 + 2.0 / 5 + 2.0 / 3) / 3, 1e-15);
}

TEST(TaskMetrics, MacroF1IgnoresClassesNeitherPresentNorPredicted) {
  const ConfusionMatrix m = confusion_matrix(kTruth, kPredicted, 5);
  EXPECT_NEAR(m.macro_f1(), (4.0 / 7 + 2.0 / 5 + 2.0 / 3) / 3, 1e-15);
  const ClassScores absent = m.class_scores(4);
  EXPECT_EQ(absent.precision, 0.0);
  EXPECT_EQ(absent.recall, 0.0);
  EXPECT_EQ(absent.f1, 0.0);
}

TEST(TaskMetrics, NeverPredictedClassCountsAsZeroF1InMacroAverage) {
  const ConfusionMatrix m = confusion_matrix({0, 1}, {0, 0}, 2);
  EXPECT_DOUBLE_EQ(m.class_scores(1).f1, 0.0);
  EXPECT_DOUBLE_EQ(m.macro_f1(), (2.0 / 3 + 0.0) / 2);
}

TEST(TaskMetrics, TableShowsNamesCountsAndScores) {
  const std::string table = confusion_matrix(kTruth, kPredicted, 3).table({"ham", "spam", "other"});
  EXPECT_NE(table.find("truth\\pred"), std::string::npos) << table;
  EXPECT_NE(table.find("spam"), std::string::npos) << table;
  EXPECT_NE(table.find("0.571"), std::string::npos) << table;  // ham F1 = 4/7
  EXPECT_EQ(std::count(table.begin(), table.end(), '\n'), 4) << table;
  // The "other" row: 1 1 2, precision 1, recall 0.5, f1 0.667, support 4.
  const std::string last = table.substr(table.rfind('\n', table.size() - 2) + 1);
  EXPECT_NE(last.find("other"), std::string::npos) << last;
  EXPECT_NE(last.find("1.000"), std::string::npos) << last;
  EXPECT_NE(last.find("0.667"), std::string::npos) << last;
}

TEST(TaskMetrics, ConfusionMatrixRejectsOutOfRangeAndMismatchedInput) {
  ConfusionMatrix m(3);
  EXPECT_THROW(m.add(3, 0), std::invalid_argument);
  EXPECT_THROW(m.add(0, -1), std::invalid_argument);
  EXPECT_THROW(m.accuracy(), std::invalid_argument);
  EXPECT_THROW(confusion_matrix({0, 1}, {0}, 2), std::invalid_argument);
  EXPECT_THROW(accuracy({}, {}), std::invalid_argument);
  EXPECT_THROW(m.table({"a", "b"}), std::invalid_argument);
  try {
    m.add(7, 0);
    ADD_FAILURE() << "expected an exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("reference class 7 is outside [0, 3)"), std::string::npos) << e.what();
  }
}

// Characters as one-letter tokens.
std::vector<std::string> letters(const std::string& word) {
  std::vector<std::string> out;
  for (char c : word) out.emplace_back(1, c);
  return out;
}

TEST(TaskMetrics, EditDistanceKittenSittingIsThree) {
  EXPECT_EQ(edit_distance(letters("kitten"), letters("sitting")), 3);
  EXPECT_EQ(edit_distance(letters("sitting"), letters("kitten")), 3);
  EXPECT_EQ(edit_distance(letters("flaw"), letters("lawn")), 2);
  EXPECT_EQ(edit_distance(letters(""), letters("abc")), 3);
  EXPECT_EQ(edit_distance(letters("same"), letters("same")), 0);
}

TEST(TaskMetrics, EditDistanceOnPlainStringsCountsCharacterEdits) {
  EXPECT_EQ(edit_distance(std::string("kitten"), std::string("sitting")), 3);
  EXPECT_EQ(edit_distance(std::string(""), std::string("abc")), 3);
  EXPECT_EQ(edit_distance(std::string("n_embed"), std::string("n_embd")), 1);
}

TEST(TaskMetrics, EditDistanceOverTokenAndWordSequences) {
  EXPECT_EQ(edit_distance(std::vector<int32_t>{1, 2, 3, 4}, std::vector<int32_t>{1, 3, 4, 5}), 2);
  EXPECT_EQ(edit_distance(std::vector<int32_t>{}, std::vector<int32_t>{}), 0);
  const std::vector<std::string> ref = {"HH", "AH0", "L", "OW1"}, hyp = {"HH", "EH0", "L", "OW1", "Z"};
  EXPECT_EQ(edit_distance(ref, hyp), 2);
}

TEST(TaskMetrics, TokenErrorRateSumsEditsOverReferenceTokens) {
  const std::vector<std::vector<int32_t>> refs = {{1, 2, 3}, {4, 5}, {7}};
  const std::vector<std::vector<int32_t>> hyps = {{1, 3}, {4, 5, 6}, {7}};
  EXPECT_DOUBLE_EQ(token_error_rate(refs, hyps), 2.0 / 6);
  EXPECT_DOUBLE_EQ(exact_match_accuracy(refs, hyps), 1.0 / 3);
  SequenceScores streaming;
  for (size_t i = 0; i < refs.size(); ++i) streaming.add(refs[i], hyps[i]);
  EXPECT_EQ(streaming.edits, 2);
  EXPECT_EQ(streaming.reference_tokens, 6);
  EXPECT_EQ(streaming.exact, 1);
  EXPECT_EQ(streaming.sequences, 3);
}

TEST(TaskMetrics, SequenceScoresRejectEmptyOrMismatchedInput) {
  EXPECT_THROW(token_error_rate({{1}}, {}), std::invalid_argument);
  EXPECT_THROW(exact_match_accuracy({}, {}), std::invalid_argument);
  EXPECT_THROW(token_error_rate({{}}, {{1}}), std::invalid_argument);  // no reference tokens
  EXPECT_THROW(SequenceScores().exact_match_accuracy(), std::invalid_argument);
}

}  // namespace
}  // namespace tapelm
