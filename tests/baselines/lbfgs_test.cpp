#include <tapelm/baselines/lbfgs.h>

#include <gtest/gtest.h>

namespace tapelm {
namespace {

TEST(Lbfgs, FindsTheMinimumOfTheRosenbrockFunction) {
  const Objective rosenbrock = [](const Eigen::VectorXd& x, Eigen::VectorXd& gradient) {
    const double a = 1 - x[0], b = x[1] - x[0] * x[0];
    gradient[0] = -2 * a - 400 * x[0] * b;
    gradient[1] = 200 * b;
    return a * a + 100 * b * b;
  };
  LbfgsOptions options;
  options.max_iterations = 200;
  options.gradient_tolerance = 1e-8;
  const LbfgsResult result = minimize_lbfgs(rosenbrock, Eigen::Vector2d(-1.2, 1.0), options);
  EXPECT_TRUE(result.converged);
  EXPECT_NEAR(result.x[0], 1.0, 1e-6);
  EXPECT_NEAR(result.x[1], 1.0, 1e-6);
}

TEST(Lbfgs, StopsAtTheIterationBudget) {
  const Objective bowl = [](const Eigen::VectorXd& x, Eigen::VectorXd& gradient) {
    gradient = 2 * x;
    return x.squaredNorm();
  };
  LbfgsOptions options;
  options.max_iterations = 0;
  const LbfgsResult result = minimize_lbfgs(bowl, Eigen::Vector2d(3, 4), options);
  EXPECT_FALSE(result.converged);
  EXPECT_EQ(result.iterations, 0);
  EXPECT_EQ(result.x, Eigen::Vector2d(3, 4));
}

}  // namespace
}  // namespace tapelm
