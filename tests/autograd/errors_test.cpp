// Misused ops throw the documented error types (autograd/errors.h) with messages that name
// the op and the shapes or values at fault; every error is a tapelm::Error and keeps the
// standard base that callers caught before.
#include <tapelm/autograd/errors.h>

#include <gtest/gtest.h>

#include <tapelm/autograd/ops.h>
#include "expect_error.h"

namespace tapelm {
namespace {

using testing::expect_error;

Var zeros(const Shape& shape) { return Var(Tensor::zeros(shape), true); }

TEST(ShapeError, MismatchedOpInputsNameTheOpAndBothShapes) {
  expect_error<ShapeError>([] { matmul(zeros({2, 3}), zeros({4, 5})); },
                           {"matmul", "[2, 3]", "[4, 5]", "inner dimensions differ"});
  expect_error<ShapeError>([] { add(zeros({2, 3}), zeros({4})); }, {"add", "[2, 3]", "[4]", "do not broadcast"});
  expect_error<ShapeError>([] { mul(zeros({2, 3}), zeros({3, 3})); }, {"mul", "[2, 3]", "[3, 3]"});
  expect_error<ShapeError>([] { linear(zeros({2, 3}), zeros({4, 5}), zeros({4})); },
                           {"linear", "x [2, 3]", "weight [4, 5]"});
  expect_error<ShapeError>([] { attention(zeros({1, 2, 3, 8}), zeros({1, 2, 3, 4}), zeros({1, 2, 3, 4})); },
                           {"attention", "q [1, 2, 3, 8]", "k [1, 2, 3, 4]"});
  expect_error<ShapeError>([] { attention(zeros({2, 3, 8}), zeros({2, 3, 8}), zeros({2, 3, 8})); },
                           {"attention", "rank 4", "[2, 3, 8]"});
  expect_error<ShapeError>([] { cross_entropy(zeros({2, 5}), {0, 1, 2}); },
                           {"cross_entropy", "logits [2, 5]", "2 rows", "3 targets"});
  expect_error<ShapeError>([] { layernorm(zeros({2, 4}), zeros({3}), zeros({4})); }, {"layernorm", "[3]"});
  expect_error<ShapeError>([] { concat({zeros({2, 3}), zeros({3, 4})}, 0); }, {"concat", "[2, 3]", "[3, 4]"});
  expect_error<ShapeError>([] { reshape(zeros({2, 3}), {4, 2}); }, {"reshape", "[2, 3]", "[4, 2]"});
  expect_error<ShapeError>([] { Tensor::zeros({2, 3}).item(); }, {"item", "[2, 3]"});
}

TEST(IndexError, OutOfRangeIndicesNameTheOpTheValueAndTheRange) {
  expect_error<IndexError>([] { embedding(zeros({4, 2}), {0, 9}, {2}); },
                           {"embedding", "id 9 at position 1", "vocabulary size 4"});
  expect_error<IndexError>([] { cross_entropy(zeros({2, 3}), {0, 7}); },
                           {"cross_entropy", "target 7 at row 1", "3 classes"});
  expect_error<IndexError>([] { index_select(zeros({2, 3}), 1, {0, 3}); }, {"index_select", "index[1] = 3"});
  expect_error<IndexError>([] { slice(zeros({2, 3}), 1, 1, 5); }, {"slice", "[1, 5)", "[2, 3]"});
  expect_error<IndexError>([] { sum(zeros({2, 3}), 2); }, {"sum", "axis 2", "rank 2"});
}

TEST(Error, EveryTapelmErrorIsCaughtAsTapelmErrorAndAsItsStandardBase) {
  const auto caught_as_tapelm_error = [](auto&& statement) -> std::string {
    try {
      statement();
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  const auto caught_as_std_exception = [](auto&& statement) -> std::string {
    try {
      statement();
    } catch (const std::exception& e) {
      return e.what();
    }
    return "";
  };
  const auto shape = [] { throw ShapeError("matmul: shapes"); };
  const auto index = [] { throw IndexError("embedding: id"); };
  const auto tape = [] { throw TapeError("backward: twice"); };
  const auto file = [] { throw SafetensorsError("safetensors 'w': truncated"); };
  EXPECT_EQ(caught_as_tapelm_error(shape), "matmul: shapes");
  EXPECT_EQ(caught_as_tapelm_error(index), "embedding: id");
  EXPECT_EQ(caught_as_tapelm_error(tape), "backward: twice");
  EXPECT_EQ(caught_as_tapelm_error(file), "safetensors 'w': truncated");
  EXPECT_EQ(caught_as_std_exception(shape), "matmul: shapes");
  EXPECT_EQ(caught_as_std_exception(file), "safetensors 'w': truncated");
  EXPECT_THROW(shape(), std::invalid_argument);
  EXPECT_THROW(index(), std::invalid_argument);
  EXPECT_THROW(tape(), std::logic_error);
  EXPECT_THROW(file(), std::runtime_error);
}

}  // namespace
}  // namespace tapelm
