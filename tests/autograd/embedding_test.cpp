// Embedding: gather forward, deterministic scatter-add backward, id validation.
#include <tapelm/autograd/kernels/embedding.h>

#include <gtest/gtest.h>
#include <omp.h>

#include <string>

#include "gradcheck.h"

namespace tapelm {
namespace {

using testing::expect_gradients_match;
using testing::numerical_gradient;
using testing::random_doubles;
using testing::random_tensor;

TEST(Embedding, GathersTableRowsInIdOrderWithIdsShapePlusD) {
  const Tensor table = random_tensor({5, 3}, 1);
  const Var out = embedding(Var(table), {4, 0, 4, 2}, {2, 2});
  EXPECT_EQ(out.shape(), (Shape{2, 2, 3}));
  const int32_t ids[] = {4, 0, 4, 2};
  for (int64_t n = 0; n < 4; ++n) {
    for (int64_t d = 0; d < 3; ++d) EXPECT_EQ(out.data()[n * 3 + d], table.data()[ids[n] * 3 + d]);
  }
}

TEST(Embedding, KernelGradientMatchesFiniteDifferencesInDouble) {
  const int64_t V = 6, D = 4, N = 7;
  const std::vector<int32_t> ids = {5, 1, 1, 0, 5, 3, 1};
  const std::vector<double> table = random_doubles(V * D, 2);
  const std::vector<double> r = random_doubles(N * D, 3);
  auto loss = [&](const std::vector<double>& t) {
    std::vector<double> out(N * D);
    kernels::embedding_forward(out.data(), t.data(), ids.data(), N, D);
    double s = 0;
    for (int64_t i = 0; i < N * D; ++i) s += out[i] * r[i];
    return s;
  };
  const double prior = 0.5;  // backward accumulates
  std::vector<double> analytic(V * D, prior);
  kernels::embedding_backward(analytic.data(), r.data(), ids.data(), N, D);
  const std::vector<double> numeric = numerical_gradient(loss, table);
  for (int64_t i = 0; i < V * D; ++i) EXPECT_NEAR(analytic[i] - prior, numeric[i], 1e-7) << i;
}

TEST(Embedding, OpGradientMatchesFiniteDifferences) {
  const std::vector<int32_t> ids = {2, 0, 2, 3, 2, 1};
  expect_gradients_match([&](std::vector<Var>& v) { return embedding(v[0], ids, {3, 2}); }, {random_tensor({5, 4}, 4)});
}

TEST(Embedding, BackwardSumsTheGradientsOfRepeatedIds) {
  Var table(Tensor::zeros({4, 2}), true);
  Var out = embedding(table, {1, 3, 1, 1}, {4});
  const Tensor upstream = Tensor::from_vector({4, 2}, {1, 2, 10, 20, 100, 200, 1000, 2000});
  Var loss = sum_all(mul(out, Var(upstream)));
  backward(loss);
  EXPECT_EQ(table.grad().to_vector(), (std::vector<float>{0, 0, 1101, 2202, 0, 0, 10, 20}));
}

std::vector<float> embedding_grad(int threads) {
  const int saved = omp_get_max_threads();
  omp_set_num_threads(threads);
  Var table(random_tensor({50, 192}, 5), true);
  std::vector<int32_t> ids(300);
  for (std::size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int32_t>((i * 7) % 50);
  Var loss = sum_all(mul(embedding(table, ids, {300}), Var(random_tensor({300, 192}, 6))));
  backward(loss);
  omp_set_num_threads(saved);
  return table.grad().to_vector();
}

TEST(Embedding, BackwardIsBitwiseIndependentOfThreadCount) { EXPECT_EQ(embedding_grad(1), embedding_grad(2)); }

TEST(Embedding, OutOfRangeIdThrowsNamingTheIdAndVocabularySize) {
  const Var table(Tensor::zeros({10, 3}));
  try {
    embedding(table, {1, 10, 2}, {3});
    FAIL() << "expected a throw";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("embedding: id 10 at position 1 is out of range for vocabulary size 10"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(embedding(table, {-1}, {1}), std::invalid_argument);
}

TEST(Embedding, ShapeErrorsNameTheOpAndShapes) {
  try {
    embedding(Var(Tensor::zeros({10, 3})), {1, 2, 3}, {2, 2});
    FAIL() << "expected a throw";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("embedding: ids_shape [2, 2] holds 4 ids but 3 were given"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(embedding(Var(Tensor::zeros({10})), {1}, {1}), std::invalid_argument);
}

}  // namespace
}  // namespace tapelm
