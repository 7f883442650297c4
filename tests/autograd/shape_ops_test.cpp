// Shape ops: values against hand-built expectations, gradients by finite differences,
// storage sharing for reshape, and argument errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "gradcheck.h"

namespace tapelm {
namespace {

using ::testing::HasSubstr;
using testing::expect_gradients_match;
using testing::random_tensor;

// A tensor whose element i holds i, so copies can be checked by value.
Tensor iota_tensor(const Shape& shape) {
  Tensor t(shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = static_cast<float>(i);
  return t;
}

// Expects `f()` to throw std::invalid_argument whose message contains every fragment.
template <class F>
void expect_invalid(F f, const std::vector<std::string>& fragments) {
  try {
    f();
    ADD_FAILURE() << "no exception; expected one mentioning " << fragments[0];
  } catch (const std::invalid_argument& e) {
    for (const std::string& s : fragments) EXPECT_THAT(e.what(), HasSubstr(s));
  }
}

TEST(Reshape, SharesStorageAndReshapesTheGradient) {
  const Var x(iota_tensor({2, 3, 4}), true);
  const Var y = reshape(x, {6, -1});
  EXPECT_EQ(y.shape(), (Shape{6, 4}));
  EXPECT_TRUE(y.value().same_storage(x.value()));
  expect_gradients_match([](std::vector<Var>& v) { return reshape(v[0], {4, 6}); }, {random_tensor({2, 3, 4}, 1)});
  expect_invalid([&] { reshape(x, {5, -1}); }, {"reshape", "[2, 3, 4]", "[5, -1]"});
}

TEST(Permute, MovesElementsToTheirPermutedPositions) {
  const Var x(iota_tensor({2, 3, 4}));
  const Tensor y = permute(x, {2, 0, 1}).value();
  ASSERT_EQ(y.shape(), (Shape{4, 2, 3}));
  for (int64_t a = 0; a < 2; ++a)
    for (int64_t b = 0; b < 3; ++b)
      for (int64_t c = 0; c < 4; ++c) EXPECT_EQ(y.data()[(c * 2 + a) * 3 + b], (a * 3 + b) * 4 + c);
  const Tensor t = transpose(Var(iota_tensor({2, 3})), 0, 1).value();
  EXPECT_EQ(t.to_vector(), (std::vector<float>{0, 3, 1, 4, 2, 5}));
}

TEST(Permute, HeadsSwapKeepsRowsContiguousAndMatchesIndexing) {
  // [B, T, H, D] -> [B, H, T, D], large enough for the parallel row copy.
  const Shape s = {2, 64, 4, 80};
  const Var x(iota_tensor(s));
  const Tensor y = permute(x, {0, 2, 1, 3}).value();
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t t = 0; t < 64; ++t)
      for (int64_t h = 0; h < 4; ++h)
        for (int64_t d = 0; d < 80; d += 13)
          ASSERT_EQ(y.data()[((b * 4 + h) * 64 + t) * 80 + d], x.data()[((b * 64 + t) * 4 + h) * 80 + d]);
}

TEST(Permute, GradientsMatchFiniteDifferences) {
  expect_gradients_match([](std::vector<Var>& v) { return permute(v[0], {0, 2, 1, 3}); },
                         {random_tensor({2, 3, 4, 5}, 2)});
  expect_gradients_match([](std::vector<Var>& v) { return permute(v[0], {3, 1, 0, 2}); },
                         {random_tensor({2, 3, 4, 5}, 3)});
  expect_gradients_match([](std::vector<Var>& v) { return transpose(v[0], -1, -2); }, {random_tensor({3, 4, 5}, 4)});
}

TEST(Permute, RejectsNonPermutations) {
  const Var x(Tensor::zeros({2, 3, 4}));
  expect_invalid([&] { permute(x, {0, 1, 1}); }, {"permute", "[0, 1, 1]", "[2, 3, 4]"});
  expect_invalid([&] { permute(x, {0, 1}); }, {"permute", "[2, 3, 4]"});
  expect_invalid([&] { transpose(x, 0, 3); }, {"transpose", "axis 3"});
}

TEST(Concat, JoinsAlongAnyDimension) {
  const Var a(Tensor::from_vector({2, 2}, {1, 2, 3, 4})), b(Tensor::from_vector({2, 1}, {5, 6}));
  EXPECT_EQ(concat({a, b}, 1).value().to_vector(), (std::vector<float>{1, 2, 5, 3, 4, 6}));
  EXPECT_EQ(concat({a, a}, 0).value().to_vector(), (std::vector<float>{1, 2, 3, 4, 1, 2, 3, 4}));
}

TEST(Concat, GradientsMatchFiniteDifferences) {
  const Tensor a = random_tensor({2, 3, 4}, 5), b = random_tensor({2, 1, 4}, 6), c = random_tensor({2, 2, 4}, 7);
  expect_gradients_match([](std::vector<Var>& v) { return concat({v[0], v[1], v[2]}, 1); }, {a, b, c});
  expect_gradients_match([](std::vector<Var>& v) { return concat({v[0], v[1]}, 0); },
                         {a, random_tensor({1, 3, 4}, 8)});
  expect_gradients_match([](std::vector<Var>& v) { return concat({v[0], v[1]}, -1); },
                         {a, random_tensor({2, 3, 2}, 9)});
  // One input that does not require grad is skipped.
  expect_gradients_match([](std::vector<Var>& v) { return concat({v[0], v[1], v[2]}, 1); }, {a, b, c}, 1e-2f,
                         5e-3f, {true, false, true});
}

TEST(Concat, RejectsMismatchedShapes) {
  const Var a(Tensor::zeros({2, 3})), b(Tensor::zeros({3, 3}));
  expect_invalid([&] { concat({a, b}, 1); }, {"concat", "[2, 3]", "[3, 3]"});
  expect_invalid([&] { concat({a, Var(Tensor::zeros({2, 3, 1}))}, 1); }, {"concat", "[2, 3, 1]"});
  expect_invalid([&] { concat({}, 0); }, {"concat"});
}

TEST(Split, FusedQkvSplitsTheLastDimension) {
  const Var qkv(iota_tensor({2, 3, 6}));
  const std::vector<Var> parts = split(qkv, {2, 2, 2}, -1);
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[1].shape(), (Shape{2, 3, 2}));
  EXPECT_EQ(parts[1].value().to_vector(), (std::vector<float>{2, 3, 8, 9, 14, 15, 20, 21, 26, 27, 32, 33}));
}

TEST(Split, GradientsMatchFiniteDifferencesAndUnusedPiecesContributeNothing) {
  const Tensor x = random_tensor({2, 3, 9}, 10);
  // Each piece is weighted differently, so a piece written to the wrong place would show.
  expect_gradients_match(
      [](std::vector<Var>& v) {
        std::vector<Var> p = split(v[0], {3, 2, 4}, 2);
        return concat({p[2] * 3.0f, p[0], p[1] * -2.0f}, 2);
      },
      {x});
  expect_gradients_match([](std::vector<Var>& v) { return split(v[0], {1, 2}, 1)[1]; }, {x});
  expect_gradients_match([](std::vector<Var>& v) { return split(v[0], {2}, 0)[0]; }, {x});
}

TEST(Split, RejectsSizesThatDoNotSumToTheDimension) {
  const Var x(Tensor::zeros({2, 6}));
  expect_invalid([&] { split(x, {2, 3}, 1); }, {"split", "[2, 3]", "[2, 6]"});
  expect_invalid([&] { split(x, {7, -1}, 1); }, {"split"});
}

TEST(Slice, TakesTheHalfOpenRange) {
  const Var x(iota_tensor({3, 4}));
  EXPECT_EQ(slice(x, 1, 1, 3).value().to_vector(), (std::vector<float>{1, 2, 5, 6, 9, 10}));
  EXPECT_EQ(slice(x, 0, 2, 3).value().to_vector(), (std::vector<float>{8, 9, 10, 11}));
  EXPECT_EQ(slice(x, 0, 1, 1).value().shape(), (Shape{0, 4}));
}

TEST(Slice, GradientsMatchFiniteDifferences) {
  const Tensor x = random_tensor({3, 5, 4}, 11);
  expect_gradients_match([](std::vector<Var>& v) { return slice(v[0], 1, 1, 4); }, {x});
  expect_gradients_match([](std::vector<Var>& v) { return slice(v[0], -1, 0, 1); }, {x});
  expect_gradients_match([](std::vector<Var>& v) { return slice(v[0], 0, 2, 3); }, {x});
}

TEST(Slice, RejectsOutOfRangeBounds) {
  const Var x(Tensor::zeros({3, 4}));
  expect_invalid([&] { slice(x, 1, 2, 5); }, {"slice", "[2, 5)", "[3, 4]"});
  expect_invalid([&] { slice(x, 1, 3, 2); }, {"slice"});
  expect_invalid([&] { slice(x, 2, 0, 1); }, {"slice", "axis 2"});
}

TEST(IndexSelect, GathersRowsWithRepeats) {
  const Var x(iota_tensor({3, 2}));
  EXPECT_EQ(index_select(x, 0, {2, 0, 2}).value().to_vector(), (std::vector<float>{4, 5, 0, 1, 4, 5}));
  EXPECT_EQ(index_select(x, 1, {1, 1}).value().to_vector(), (std::vector<float>{1, 1, 3, 3, 5, 5}));
}

TEST(IndexSelect, RepeatedIndicesAccumulateTheirGradients) {
  const Tensor x = random_tensor({4, 3, 5}, 12);
  expect_gradients_match([](std::vector<Var>& v) { return index_select(v[0], 0, {3, 1, 3, 3, 0}); }, {x});
  expect_gradients_match([](std::vector<Var>& v) { return index_select(v[0], 1, {2, 2, 0}); }, {x});
  expect_gradients_match([](std::vector<Var>& v) { return index_select(v[0], 2, {4, 1, 4}); }, {x});
  // Hand check: row 1 selected three times gets gradient 3.
  Var y(Tensor::zeros({2, 2}), true);
  Var loss = sum_all(index_select(y, 0, {1, 1, 1, 0}));
  backward(loss);
  EXPECT_EQ(y.grad().to_vector(), (std::vector<float>{1, 1, 3, 3}));
}

TEST(IndexSelect, LargeScatterAddIsExact) {
  // Above the parallel threshold with few outer blocks: the column-chunked path.
  const int64_t rows = 10, cols = 4000;
  Var x(Tensor::zeros({rows, cols}), true);
  std::vector<int32_t> index;
  for (int i = 0; i < 40; ++i) index.push_back(i % 3 == 0 ? 7 : i % rows);
  Var loss = sum_all(index_select(x, 0, index));
  backward(loss);
  std::vector<float> count(rows, 0.0f);
  for (int32_t i : index) count[i] += 1.0f;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; c += 97) ASSERT_EQ(x.grad().data()[r * cols + c], count[r]) << r;
}

TEST(IndexSelect, RejectsOutOfRangeIndices) {
  const Var x(Tensor::zeros({3, 2}));
  expect_invalid([&] { index_select(x, 0, {0, 3}); }, {"index_select", "index[1] = 3", "[3, 2]"});
  expect_invalid([&] { index_select(x, 0, {-1}); }, {"index_select", "-1"});
}

}  // namespace
}  // namespace tapelm
