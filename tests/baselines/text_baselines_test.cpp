#include <tapelm/baselines/text_baselines.h>

#include <gtest/gtest.h>

#include "tests/baselines/sparse_rows_util.h"

namespace tapelm {
namespace {

const std::vector<std::string> kTrain = {
    "cheap pills now, buy cheap pills",  "win money now with cheap offers", "buy now and win a prize",
    "meeting moved to noon tomorrow",    "notes from the team meeting",     "lunch with the team at noon",
    "the kernel build fails on arm",     "patch for the kernel build",      "arm build logs attached"};
const std::vector<int32_t> kTrainLabels = {0, 0, 0, 1, 1, 1, 2, 2, 2};

TEST(TextBaselines, BothLearnTheWordsThatSeparateThreeClasses) {
  const std::vector<std::string> scored = {"cheap pills, win now", "team meeting at noon", "kernel patch for arm",
                                           "zzz unseen words only qqq"};
  const TextBaselinePredictions p = train_text_baselines(pointers(kTrain), kTrainLabels, 3, pointers(scored));
  ASSERT_EQ(p.naive_bayes.size(), 4u);
  ASSERT_EQ(p.tfidf_logistic_regression.size(), 4u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(p.naive_bayes[i], int32_t(i)) << scored[i];
    EXPECT_EQ(p.tfidf_logistic_regression[i], int32_t(i)) << scored[i];
  }
}

TEST(TextBaselines, TheSameInputGivesTheSamePredictions) {
  const std::vector<std::string> scored = {"cheap team build", "noon offers", "arm prize meeting"};
  const TextBaselinePredictions a = train_text_baselines(pointers(kTrain), kTrainLabels, 3, pointers(scored));
  const TextBaselinePredictions b = train_text_baselines(pointers(kTrain), kTrainLabels, 3, pointers(scored));
  EXPECT_EQ(a.naive_bayes, b.naive_bayes);
  EXPECT_EQ(a.tfidf_logistic_regression, b.tfidf_logistic_regression);
}

}  // namespace
}  // namespace tapelm
