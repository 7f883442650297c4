// Tensor: reshape semantics and errors, storage alignment, and buffer reuse by the pool.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>

#include <tapelm/autograd/buffer_pool.h>
#include <tapelm/autograd/tensor.h>
#include <tapelm/autograd/variable.h>

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

TEST(Tensor, EveryWritableAccessChangesTheStorageVersionAndReadsDoNot) {
  Tensor t = Tensor::zeros({2, 3});
  Var v(t);
  const Var& read_var = v;
  const Tensor& read = t;
  const uint64_t start = t.storage()->version();
  EXPECT_NE(read.data(), nullptr);
  EXPECT_NE(read_var.data(), nullptr);
  EXPECT_EQ(read.clone().to_vector(), read_var.value().to_vector());
  EXPECT_EQ(t.storage()->version(), start) << "reads";
  t.reshape({6}).data()[0] = 1.0f;  // a view shares the storage and its version
  EXPECT_EQ(t.storage()->version(), start + 1);
  v.data();
  t.fill(2.0f);
  EXPECT_EQ(t.storage()->version(), start + 3);
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

TEST(Tensor, ReleasedBuffersServeTheNextTensorOfTheSameSizeClass) {
  BufferPool& pool = BufferPool::instance();
  // 12,347 floats are 49,388 bytes: in the class of 49,153–53,248 bytes (8 classes per
  // doubling above 4 KiB), which no other test uses.
  const std::size_t class_bytes = 53248;
  Tensor a({12347});
  const float* first = a.data();
  const std::size_t cached = pool.cached_bytes(), live = pool.live_bytes();
  a = Tensor();
  EXPECT_EQ(pool.cached_bytes(), cached + class_bytes);
  EXPECT_EQ(pool.live_bytes(), live - class_bytes);
  const Tensor b({13000});  // 52,000 bytes: the same class
  EXPECT_EQ(b.data(), first);
  EXPECT_EQ(pool.cached_bytes(), cached);
}

TEST(BufferPool, WhatItHoldsStaysNearTheLivePeakWhenSizesKeepChanging) {
  BufferPool& pool = BufferPool::instance();
  pool.trim();
  {
    const Tensor big({1 << 18});  // a live peak of at least 1 MiB
  }
  const std::size_t peak = pool.peak_live_bytes();
  const std::size_t limit = peak + peak / 4;
  // Twelve sizes, 1/16 to 12/16 of the peak, each in a class of its own, in turn: a cache
  // that kept every size would hold 78/16 of the peak besides what is live.
  const int64_t base = int64_t(peak / sizeof(float) / 16);
  std::size_t most_held = 0;
  for (int64_t n = 0; n < 120; ++n) {
    const Tensor t({base * (1 + n % 12)});
    most_held = std::max(most_held, pool.live_bytes() + pool.cached_bytes());
  }
  EXPECT_EQ(pool.peak_live_bytes(), peak) << "the sizes stayed below the peak";
  // At most the limit, then the buffer being handed out (12/16 of the peak, rounded up to its
  // class by at most 1/8).
  EXPECT_LE(most_held, limit + peak * 12 / 16 * 9 / 8);
  // A size used again is still served from the cache.
  const float* reused = nullptr;
  {
    const Tensor t({base});
    reused = t.data();
  }
  const Tensor again({base});
  EXPECT_EQ(again.data(), reused);
}

TEST(BufferPool, AfterTrimWhatItHoldsFollowsTheNewPhasesPeak) {
  BufferPool& pool = BufferPool::instance();
  {
    const Tensor big({int64_t(1) << 23});  // a 32 MiB live peak in the phase before
  }
  pool.trim();
  const std::size_t live = pool.live_bytes();
  // Twelve sizes of 256 KiB to 3 MiB in turn (19.5 MiB in all): a cache bounded by the
  // 32 MiB peak before the trim would keep every one of them.
  const int64_t base = int64_t(1) << 16;
  const std::size_t largest = 12 * base * sizeof(float);
  std::size_t most_held = 0;
  for (int64_t n = 0; n < 120; ++n) {
    const Tensor t({base * (1 + n % 12)});
    most_held = std::max(most_held, pool.live_bytes() + pool.cached_bytes());
  }
  const std::size_t phase_peak = live + largest;
  // At most 1.25 times this phase's peak, then the buffer being handed out.
  EXPECT_LE(most_held, phase_peak + phase_peak / 4 + largest * 9 / 8);
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
