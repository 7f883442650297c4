#include <tapelm/baselines/naive_bayes.h>

#include <cmath>
#include <limits>

#include <gtest/gtest.h>

#include "tests/baselines/sparse_rows_util.h"

namespace tapelm {
namespace {

TEST(NaiveBayes, PosteriorMatchesAHandComputedExample) {
  // Class 0: one text with feature a twice. Class 1: {b} and {a, b}. alpha = 1, two features:
  //   P(0) = 1/3, P(a|0) = (2+1)/(2+2) = 3/4, P(b|0) = 1/4
  //   P(1) = 2/3, P(a|1) = (1+1)/(3+2) = 2/5, P(b|1) = 3/5
  // For x = {a, b}: P(0) P(a|0) P(b|0) = 1/16 and P(1) P(a|1) P(b|1) = 4/25, so
  // P(0 | x) = (1/16) / (1/16 + 4/25) = 25/89.
  const MultinomialNaiveBayes nb =
      MultinomialNaiveBayes::fit(sparse_rows({{2, 0}, {0, 1}, {1, 1}}), {0, 1, 1}, 2);
  EXPECT_NEAR(nb.log_likelihood()(0, 0), std::log(0.75), 1e-12);
  EXPECT_NEAR(nb.log_likelihood()(1, 1), std::log(0.6), 1e-12);
  const Eigen::MatrixXd posterior = nb.log_posterior(sparse_rows({{1, 1}})).array().exp();
  EXPECT_NEAR(posterior(0, 0), 25.0 / 89.0, 1e-12);
  EXPECT_NEAR(posterior(0, 1), 64.0 / 89.0, 1e-12);
}

TEST(NaiveBayes, LearnsFeaturesThatSeparateThreeClasses) {
  // Features 0-1 mark class 0, 2-3 class 1, 4-5 class 2; feature 6 is everywhere.
  const SparseRows train = sparse_rows({{3, 1, 0, 0, 0, 0, 1},
                                        {1, 2, 0, 0, 0, 0, 1},
                                        {0, 0, 2, 2, 0, 0, 1},
                                        {0, 0, 1, 3, 0, 0, 1},
                                        {0, 0, 0, 0, 1, 1, 1},
                                        {0, 0, 0, 0, 2, 1, 1}});
  const MultinomialNaiveBayes nb = MultinomialNaiveBayes::fit(train, {0, 0, 1, 1, 2, 2}, 3);
  EXPECT_EQ(nb.predict(train), (std::vector<int32_t>{0, 0, 1, 1, 2, 2}));
  EXPECT_EQ(nb.predict(sparse_rows({{0, 1, 0, 0, 0, 0, 5}, {0, 0, 0, 1, 0, 0, 0}, {0, 0, 0, 0, 0, 1, 2}})),
            (std::vector<int32_t>{0, 1, 2}));
}

TEST(NaiveBayes, ATextWithNoKnownFeatureGetsThePrior) {
  const MultinomialNaiveBayes nb = MultinomialNaiveBayes::fit(sparse_rows({{1, 0}, {0, 1}, {0, 1}}), {0, 1, 1}, 2);
  const Eigen::MatrixXd posterior = nb.log_posterior(sparse_rows({{0, 0}})).array().exp();
  EXPECT_NEAR(posterior(0, 0), 1.0 / 3.0, 1e-12);
  EXPECT_NEAR(posterior(0, 1), 2.0 / 3.0, 1e-12);
}

TEST(NaiveBayes, NeverPredictsAClassWithoutTrainingExamples) {
  const MultinomialNaiveBayes nb = MultinomialNaiveBayes::fit(sparse_rows({{1, 0}, {0, 1}}), {0, 2}, 3);
  EXPECT_EQ(nb.log_prior()[1], -std::numeric_limits<double>::infinity());
  const Eigen::MatrixXd log_posterior = nb.log_posterior(sparse_rows({{1, 1}, {0, 0}}));
  EXPECT_EQ(log_posterior(0, 1), -std::numeric_limits<double>::infinity());
  EXPECT_NEAR(std::exp(log_posterior(0, 0)) + std::exp(log_posterior(0, 2)), 1.0, 1e-12);
  for (int32_t predicted : nb.predict(sparse_rows({{1, 1}, {0, 0}, {0, 3}}))) EXPECT_NE(predicted, 1);
}

TEST(NaiveBayes, RefusesLabelsThatDoNotFitTheRows) {
  const SparseRows counts = sparse_rows({{1, 0}, {0, 1}});
  EXPECT_THROW(MultinomialNaiveBayes::fit(counts, {0}, 2), std::invalid_argument);
  EXPECT_THROW(MultinomialNaiveBayes::fit(counts, {0, 2}, 2), std::invalid_argument);
  EXPECT_THROW(MultinomialNaiveBayes::fit(SparseRows(0, 2), {}, 2), std::invalid_argument);
  EXPECT_THROW(MultinomialNaiveBayes::fit(counts, {0, 1}, 2, {0.0}), std::invalid_argument);
}

}  // namespace
}  // namespace tapelm
