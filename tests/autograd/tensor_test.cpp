// Tensor: reshape semantics and errors, storage alignment, and buffer reuse by the pool.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>

#include "autograd/buffer_pool.h"
#include "autograd/tensor.h"

namespace tapelm {
namespace {

using ::testing::HasSubstr;

TEST(Tensor, ReshapeSharesStorageAndInfersMinusOne) {
  Tensor t = Tensor::from_vector({2, 3, 4}, std::vector<float>(24, 1.0f));
  Tensor r = t.reshape({-1, 4});
  EXPECT_EQ(r.shape(), (Shape{6, 4}));
  EXPECT_TRUE(r.same_storage(t));
  r.data()[5] = 42.0f;
  EXPECT_EQ(t.data()[5], 42.0f);
  EXPECT_EQ(t.reshape({4, -1, 2}).shape(), (Shape{4, 3, 2}));
  EXPECT_EQ(t.reshape({24}).shape(), (Shape{24}));
  EXPECT_EQ(Tensor::scalar(3.0f).reshape({1, 1}).shape(), (Shape{1, 1}));
}

TEST(Tensor, CloneIsIndependent) {
  Tensor t = Tensor::full({3}, 2.0f);
  Tensor c = t.clone();
  EXPECT_FALSE(c.same_storage(t));
  c.data()[0] = 5.0f;
  EXPECT_EQ(t.data()[0], 2.0f);
}

TEST(Tensor, BadReshapesThrowNamingTheShapes) {
  const Tensor t = Tensor::zeros({2, 3, 4});
  auto message = [&](const Shape& shape) {
    try {
      t.reshape(shape);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("no exception");
  };
  EXPECT_THAT(message({5, 5}), HasSubstr("cannot reshape [2, 3, 4]"));
  EXPECT_THAT(message({5, 5}), HasSubstr("[5, 5]"));
  EXPECT_THAT(message({-1, 5}), HasSubstr("cannot reshape [2, 3, 4] to [-1, 5]"));
  EXPECT_THAT(message({-1, -1}), HasSubstr("more than one -1"));
  EXPECT_THAT(message({0, -1}), HasSubstr("cannot reshape"));
  EXPECT_THAT(message({-2, 12}), HasSubstr("negative dimension"));
}

TEST(Tensor, DataIsAlignedTo64Bytes) {
  for (int64_t n : {1, 3, 17, 100, 1000, 4099}) {
    const Tensor t({n});
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(t.data()) % 64, 0u) << n;
  }
}

TEST(Tensor, ReleasedBuffersAreReusedByTheNextTensorOfTheSameSize) {
  BufferPool& pool = BufferPool::instance();
  const Shape shape = {12347};  // a size no other test uses
  const std::size_t bytes = (12347 * sizeof(float) + 63) / 64 * 64;
  Tensor a(shape);
  const float* first = a.data();
  const std::size_t cached = pool.cached_bytes(), live = pool.live_bytes();
  a = Tensor();
  EXPECT_EQ(pool.cached_bytes(), cached + bytes);
  EXPECT_EQ(pool.live_bytes(), live - bytes);
  const Tensor b(shape);
  EXPECT_EQ(b.data(), first);
  EXPECT_EQ(pool.cached_bytes(), cached);
}

TEST(BufferPool, TrimsACacheOfManySizesButKeepsOneThatShapesReuse) {
  BufferPool& pool = BufferPool::instance();
  pool.trim();
  {
    const Tensor big({1 << 16});  // sets a peak of at least this size
  }
  EXPECT_FALSE(pool.trim_if_oversized()) << "a repeating shape must stay cached";
  // Sizes used once each, a sixteenth of the peak apiece, until the cache passes twice the peak.
  const int64_t base = int64_t(pool.peak_live_bytes() / sizeof(float) / 16);
  for (int64_t n = 1; pool.cached_bytes() <= 2 * pool.peak_live_bytes(); ++n) {
    ASSERT_LT(n, 1000);
    Tensor({base + 16 * n});
  }
  EXPECT_TRUE(pool.trim_if_oversized());
  EXPECT_EQ(pool.cached_bytes(), 0u);
}

TEST(Tensor, ShapeWhoseElementCountOverflowsIsRefusedNamingTheShape) {
  // 2^59 x 32 wraps to 0 in 64-bit arithmetic; it must not become an empty tensor.
  const Shape wraps = {int64_t(1) << 59, 32};
  EXPECT_THAT([&] {
    try {
      shape_numel(wraps);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("no exception");
  }(), HasSubstr("[576460752303423488, 32]"));
  EXPECT_THROW(Tensor({int64_t(1) << 31, int64_t(1) << 31, 4}), std::invalid_argument);
  // Fits in int64 as a count, but not as a byte count.
  EXPECT_THROW(shape_numel({int64_t(1) << 62}), std::invalid_argument);
  EXPECT_EQ(shape_numel({int64_t(1) << 59, 32, 0}), 0);
  EXPECT_EQ(shape_numel({int64_t(1) << 30, 4}), int64_t(1) << 32);
}

TEST(Tensor, ElementAccessErrorsNameTheShape) {
  EXPECT_THAT([] {
    try {
      Tensor::zeros({2, 2}).item();
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string();
  }(), HasSubstr("[2, 2]"));
  EXPECT_THROW(Tensor::from_vector({2, 2}, {1, 2, 3}), std::invalid_argument);
  EXPECT_EQ(Tensor::scalar(1.5f).shape(), Shape{});
  EXPECT_EQ(Tensor::scalar(1.5f).item(), 1.5f);
}

}  // namespace
}  // namespace tapelm
