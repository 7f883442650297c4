#include <tapelm/baselines/logistic_regression.h>

#include <cstring>

#include <gtest/gtest.h>

#include "tests/baselines/sparse_rows_util.h"

namespace tapelm {
namespace {

// Features 0-1 mark class 0, 2-3 class 1, 4-5 class 2; feature 6 is everywhere.
SparseRows three_class_rows() {
  return sparse_rows({{0.9, 0.3, 0, 0, 0, 0, 0.3},
                      {0.4, 0.8, 0, 0, 0, 0, 0.4},
                      {0, 0, 0.7, 0.6, 0, 0, 0.3},
                      {0, 0, 0.2, 0.9, 0, 0, 0.4},
                      {0, 0, 0, 0, 0.6, 0.7, 0.4},
                      {0, 0, 0, 0, 0.9, 0.2, 0.4}});
}
const std::vector<int32_t> kThreeClassLabels = {0, 0, 1, 1, 2, 2};

TEST(LogisticRegression, GradientMatchesFiniteDifferences) {
  const SparseRows x = three_class_rows();
  Eigen::MatrixXd weights(7, 3);
  for (Eigen::Index i = 0; i < weights.size(); ++i) weights.data()[i] = 0.1 * double(i % 5) - 0.2;
  Eigen::VectorXd bias(3);
  bias << 0.3, -0.1, 0.05;
  const double C = 0.7;
  Eigen::MatrixXd weight_gradient;
  Eigen::VectorXd bias_gradient;
  logistic_regression_objective(x, kThreeClassLabels, C, weights, bias, &weight_gradient, &bias_gradient);
  const double h = 1e-6;
  const auto objective = [&](const Eigen::MatrixXd& w, const Eigen::VectorXd& b) {
    return logistic_regression_objective(x, kThreeClassLabels, C, w, b, nullptr, nullptr);
  };
  for (Eigen::Index i = 0; i < weights.size(); ++i) {
    Eigen::MatrixXd up = weights, down = weights;
    up.data()[i] += h;
    down.data()[i] -= h;
    EXPECT_NEAR(weight_gradient.data()[i], (objective(up, bias) - objective(down, bias)) / (2 * h), 1e-8) << i;
  }
  for (Eigen::Index c = 0; c < 3; ++c) {
    Eigen::VectorXd up = bias, down = bias;
    up[c] += h;
    down[c] -= h;
    EXPECT_NEAR(bias_gradient[c], (objective(weights, up) - objective(weights, down)) / (2 * h), 1e-8) << c;
  }
}

TEST(LogisticRegression, SeparatesASeparableSetOfThreeClasses) {
  const SparseRows x = three_class_rows();
  const LogisticRegression model = LogisticRegression::fit(x, kThreeClassLabels, 3);
  EXPECT_TRUE(model.optimisation().converged);
  EXPECT_EQ(model.predict(x), kThreeClassLabels);
  const Eigen::MatrixXd p = model.probabilities(x);
  for (Eigen::Index r = 0; r < p.rows(); ++r) EXPECT_NEAR(p.row(r).sum(), 1.0, 1e-12);
}

TEST(LogisticRegression, StrongerRegularisationGivesSmallerWeights) {
  const SparseRows x = three_class_rows();
  LogisticRegressionOptions strong;
  strong.C = 0.01;
  EXPECT_LT(LogisticRegression::fit(x, kThreeClassLabels, 3, strong).weights().norm(),
            LogisticRegression::fit(x, kThreeClassLabels, 3).weights().norm());
}

TEST(LogisticRegression, TheSameDataGivesBitIdenticalWeights) {
  const SparseRows x = three_class_rows();
  const LogisticRegression a = LogisticRegression::fit(x, kThreeClassLabels, 3);
  const LogisticRegression b = LogisticRegression::fit(x, kThreeClassLabels, 3);
  ASSERT_EQ(a.weights().size(), b.weights().size());
  EXPECT_EQ(std::memcmp(a.weights().data(), b.weights().data(), sizeof(double) * size_t(a.weights().size())), 0);
  EXPECT_EQ(std::memcmp(a.bias().data(), b.bias().data(), sizeof(double) * size_t(a.bias().size())), 0);
}

TEST(LogisticRegression, AClassWithoutTrainingExamplesHasProbabilityZero) {
  const SparseRows x = three_class_rows();
  const std::vector<int32_t> labels = {0, 0, 3, 3, 2, 2};  // class 1 has none
  const LogisticRegression model = LogisticRegression::fit(x, labels, 4);
  EXPECT_EQ(model.trained_classes(), (std::vector<int32_t>{0, 2, 3}));
  EXPECT_EQ(model.predict(x), labels);
  const Eigen::MatrixXd p = model.probabilities(x);
  for (Eigen::Index r = 0; r < p.rows(); ++r) {
    EXPECT_EQ(p(r, 1), 0.0);
    EXPECT_NEAR(p.row(r).sum(), 1.0, 1e-12);
  }
}

TEST(LogisticRegression, RefusesANonPositiveC) {
  LogisticRegressionOptions options;
  options.C = 0;
  EXPECT_THROW(LogisticRegression::fit(three_class_rows(), kThreeClassLabels, 3, options), std::invalid_argument);
}

}  // namespace
}  // namespace tapelm
