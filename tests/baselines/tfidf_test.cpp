#include <tapelm/baselines/tfidf.h>

#include <cmath>

#include <gtest/gtest.h>

#include "tests/baselines/sparse_rows_util.h"

namespace tapelm {
namespace {

TEST(Tfidf, IdfIsTheSmoothedFormula) {
  const SparseRows counts = sparse_rows({{1, 1, 0}, {2, 0, 0}, {1, 0, 0}});
  const Tfidf tfidf = Tfidf::fit(counts);
  EXPECT_DOUBLE_EQ(tfidf.idf()[0], std::log(4.0 / 4.0) + 1);  // in all 3 texts
  EXPECT_DOUBLE_EQ(tfidf.idf()[1], std::log(4.0 / 2.0) + 1);  // in 1
  EXPECT_DOUBLE_EQ(tfidf.idf()[2], std::log(4.0 / 1.0) + 1);  // in none
}

TEST(Tfidf, RowsAreSublinearTfTimesIdfWithUnitNorm) {
  const SparseRows train = sparse_rows({{1, 1, 0}, {2, 0, 0}, {1, 0, 0}});
  const Tfidf tfidf = Tfidf::fit(train);
  const SparseRows rows = tfidf.transform(sparse_rows({{3, 1, 0}, {0, 0, 5}, {0, 0, 0}}));
  for (Eigen::Index r = 0; r < 2; ++r) EXPECT_NEAR(rows.row(r).norm(), 1.0, 1e-12);
  const double a = (1 + std::log(3.0)) * tfidf.idf()[0], b = 1 * tfidf.idf()[1];
  EXPECT_NEAR(rows.coeff(0, 0), a / std::hypot(a, b), 1e-12);
  EXPECT_NEAR(rows.coeff(0, 1), b / std::hypot(a, b), 1e-12);
  EXPECT_DOUBLE_EQ(rows.coeff(1, 2), 1.0);
  EXPECT_EQ(rows.row(2).norm(), 0.0);  // a text with no known word stays empty
}

TEST(Tfidf, RefusesRowsOfAnotherVocabulary) {
  const Tfidf tfidf = Tfidf::fit(sparse_rows({{1, 1}}));
  EXPECT_THROW(tfidf.transform(sparse_rows({{1, 1, 1}})), std::invalid_argument);
}

}  // namespace
}  // namespace tapelm
