// GEMM backends: each one built in computes every transpose flag, size class and thread count
// of a float product like a naive double reference, gives the same bits twice, and is
// selected by name. bf16 products equal the exact product of the bf16-rounded operands up to
// fp32 accumulation (but for decoding's few-row products, which stay fp32).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <limits>
#include <cstring>
#include <vector>

#include <tapelm/autograd/bf16_matmul.h>
#include <tapelm/autograd/gemm_backend.h>
#include <tapelm/autograd/kernels/gemm.h>
#include <tapelm/autograd/rng.h>

#include "bf16_products_fixture.h"

namespace tapelm {
namespace {

using ::testing::HasSubstr;

std::vector<float> random_floats(int64_t count, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> v(static_cast<std::size_t>(count));
  for (float& x : v) x = rng.uniform() * 2.0f - 1.0f;
  return v;
}

std::vector<float> rounded_to_bf16(std::vector<float> v) {
  for (float& x : v) x = kernels::detail::from_bf16(kernels::detail::to_bf16(x));
  return v;
}

// c = op(a)·op(b) in double; a is [m, k] ([k, m] when ta), b is [k, n] ([n, k] when tb).
std::vector<double> reference(const std::vector<float>& a, const std::vector<float>& b, int64_t m, int64_t n,
                              int64_t k, bool ta, bool tb) {
  std::vector<double> c(static_cast<std::size_t>(m * n), 0.0);
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      double s = 0;
      for (int64_t q = 0; q < k; ++q) s += double(ta ? a[q * m + i] : a[i * k + q]) * double(tb ? b[j * k + q] : b[q * n + j]);
      c[i * n + j] = s;
    }
  }
  return c;
}

// One product of the cases below, with its operands and its double reference.
struct ProductCase {
  int64_t m, n, k;
  bool trans_a, trans_b;
  std::vector<float> a, b;
  std::vector<double> expect;  // reference(a, b) once `operands` has rounded them (or not)

  // c = op(a)·op(b), written over 7s, then accumulated onto 1s; checks both within `tol`.
  void expect_product(double tol) const {
    std::vector<float> c(static_cast<std::size_t>(m * n), 7.0f);
    kernels::gemm(c.data(), a.data(), b.data(), m, n, k, trans_a, trans_b, /*accumulate=*/false);
    for (std::size_t i = 0; i < c.size(); ++i) ASSERT_NEAR(c[i], expect[i], tol) << "element " << i;
    std::fill(c.begin(), c.end(), 1.0f);
    kernels::gemm(c.data(), a.data(), b.data(), m, n, k, trans_a, trans_b, /*accumulate=*/true);
    for (std::size_t i = 0; i < c.size(); ++i) ASSERT_NEAR(c[i], 1.0 + expect[i], tol) << "element " << i;
  }
};

// Calls check(product) for one row (decoding), a few rows, odd sizes, and products large
// enough to be split over threads by rows and by columns, each with every transpose flag, on
// 1 and 2 threads. The reference multiplies operands(a) and operands(b).
template <class Operands, class Check>
void for_every_product(const Operands& operands, const Check& check) {
  struct Size {
    int64_t m, n, k;
  };
  const std::vector<Size> sizes = {{1, 37, 19}, {3, 8, 5}, {17, 29, 31}, {160, 96, 70}, {40, 300, 64}};
  for (const int threads : {1, 2}) {
    omp_set_num_threads(threads);
    for (const Size& s : sizes) {
      for (bool ta : {false, true}) {
        for (bool tb : {false, true}) {
          SCOPED_TRACE(std::to_string(s.m) + "x" + std::to_string(s.n) + "x" + std::to_string(s.k) +
                       " ta=" + std::to_string(ta) + " tb=" + std::to_string(tb) + " threads=" + std::to_string(threads));
          ProductCase p{s.m, s.n, s.k, ta, tb, random_floats(s.m * s.k, 1), random_floats(s.k * s.n, 2), {}};
          p.expect = reference(operands(p.a), operands(p.b), s.m, s.n, s.k, ta, tb);
          check(p);
        }
      }
    }
  }
}

// Whether a 2-thread product computed twice gives the same bits.
bool same_bits_twice() {
  omp_set_num_threads(2);
  const int64_t m = 256, n = 192, k = 320;
  const std::vector<float> a = random_floats(m * k, 3), b = random_floats(n * k, 4);
  std::vector<float> first(m * n), second(m * n);
  kernels::gemm(first.data(), a.data(), b.data(), m, n, k, false, true, false);
  kernels::gemm(second.data(), a.data(), b.data(), m, n, k, false, true, false);
  return std::memcmp(first.data(), second.data(), first.size() * sizeof(float)) == 0;
}

class GemmBackendTest : public ::testing::TestWithParam<GemmBackend> {
 protected:
  void SetUp() override {
    saved_backend_ = gemm_backend();
    saved_threads_ = omp_get_max_threads();
    set_gemm_backend(GetParam());
  }
  void TearDown() override {
    set_gemm_backend(saved_backend_);
    omp_set_num_threads(saved_threads_);
  }

 private:
  GemmBackend saved_backend_{};
  int saved_threads_ = 1;
};

TEST_P(GemmBackendTest, FloatProductsMatchADoubleReferenceForEveryFlagSizeAndThreadCount) {
  const auto as_given = [](const std::vector<float>& x) { return x; };
  // A float sum of k products of values in [-1, 1] is off by at most ~k·2⁻²⁴ each.
  for_every_product(as_given, [](const ProductCase& p) { p.expect_product(4e-7 * static_cast<double>(p.k)); });
}

TEST_P(GemmBackendTest, AnEmptyInnerDimensionWritesZerosOrLeavesTheDestination) {
  std::vector<float> c(6, 3.0f);
  kernels::gemm<float>(c.data(), nullptr, nullptr, 2, 3, 0, false, false, /*accumulate=*/true);
  EXPECT_THAT(c, ::testing::Each(3.0f));
  kernels::gemm<float>(c.data(), nullptr, nullptr, 2, 3, 0, false, false, /*accumulate=*/false);
  EXPECT_THAT(c, ::testing::Each(0.0f));
}

TEST_P(GemmBackendTest, TheSameProductTwiceGivesTheSameBits) { EXPECT_TRUE(same_bits_twice()); }

TEST_P(GemmBackendTest, TheSelectedBackendIsTheOneInUse) { EXPECT_EQ(gemm_backend(), GetParam()); }

std::vector<GemmBackend> built_backends() {
  std::vector<GemmBackend> built;
  for (GemmBackend b : {GemmBackend::OneDnn, GemmBackend::OpenBlas, GemmBackend::Eigen}) {
    if (gemm_backend_built(b)) built.push_back(b);
  }
  return built;
}

INSTANTIATE_TEST_SUITE_P(Built, GemmBackendTest, ::testing::ValuesIn(built_backends()),
                         [](const auto& info) { return std::string(enum_name(info.param)); });

TEST(GemmBackend, AutoPicksTheFirstBuiltOfOneDnnOpenBlasAndEigen) {
  const GemmBackend saved = gemm_backend();
  set_gemm_backend(GemmBackend::Auto);
  EXPECT_EQ(gemm_backend(), built_backends().front());
  set_gemm_backend(saved);
}

TEST(GemmBackend, AutoLeavesFewRowProductsToEigen) {
  const GemmBackend saved = gemm_backend();
  const int64_t m = kernels::kGemvMaxRows, n = 300, k = 200;
  const std::vector<float> a = random_floats(m * k, 5), b = random_floats(n * k, 6);
  std::vector<float> on_auto(m * n), on_eigen(m * n);
  set_gemm_backend(GemmBackend::Auto);
  kernels::gemm(on_auto.data(), a.data(), b.data(), m, n, k, false, true, false);
  set_gemm_backend(GemmBackend::Eigen);
  kernels::gemm(on_eigen.data(), a.data(), b.data(), m, n, k, false, true, false);
  set_gemm_backend(saved);
  EXPECT_EQ(std::memcmp(on_auto.data(), on_eigen.data(), on_auto.size() * sizeof(float)), 0);
}

TEST(Bf16, RoundingIsToNearestEvenAndKeepsInfinitiesAndNans) {
  using kernels::detail::from_bf16;
  using kernels::detail::to_bf16;
  EXPECT_EQ(from_bf16(to_bf16(1.0f)), 1.0f);
  // 1 + 2^-8 lies halfway between 1 and 1 + 2^-7: ties go to the even one, 1.
  EXPECT_EQ(from_bf16(to_bf16(1.0f + 0x1p-8f)), 1.0f);
  // 1 + 3·2^-8 lies halfway between 1 + 2^-7 and 1 + 2^-6: the even one is 1 + 2^-6.
  EXPECT_EQ(from_bf16(to_bf16(1.0f + 3 * 0x1p-8f)), 1.0f + 0x1p-6f);
  EXPECT_EQ(from_bf16(to_bf16(1.0f + 0x1p-8f + 0x1p-20f)), 1.0f + 0x1p-7f);  // above halfway
  EXPECT_EQ(from_bf16(to_bf16(-2.5f)), -2.5f);
  EXPECT_TRUE(std::isinf(from_bf16(to_bf16(std::numeric_limits<float>::infinity()))));
  EXPECT_TRUE(std::isinf(from_bf16(to_bf16(std::numeric_limits<float>::max()))));  // rounds up past the largest bf16
  EXPECT_TRUE(std::isnan(from_bf16(to_bf16(std::numeric_limits<float>::quiet_NaN()))));
  const uint32_t low_payload_nan = 0x7F800001u;  // a NaN whose payload alone would round to inf
  float nan;
  std::memcpy(&nan, &low_payload_nan, sizeof nan);
  EXPECT_TRUE(std::isnan(from_bf16(to_bf16(nan))));
}

using Bf16Products = testing::Bf16ProductsTest;

TEST_F(Bf16Products, EqualTheProductOfTheRoundedOperandsForEveryFlagSizeAndThreadCount) {
  EXPECT_EQ(gemm_precision(), GemmPrecision::Bf16);
  for_every_product(rounded_to_bf16, [](const ProductCase& p) {
    // A product of two bf16 values is exact in fp32 (8 + 8 significant bits), so what is left
    // is the fp32 accumulation's rounding: ~k·2⁻²⁴ for values in [-1, 1].
    const double tol = 4e-7 * static_cast<double>(p.k);
    if (p.m <= kernels::kGemvMaxRows) {
      // Decoding's few-row products stay fp32.
      ProductCase fp32 = p;
      fp32.expect = reference(p.a, p.b, p.m, p.n, p.k, p.trans_a, p.trans_b);
      fp32.expect_product(tol);
      return;
    }
    p.expect_product(tol);
    // And the operands were rounded, so this is no fp32 product: against the unrounded
    // operands each of k terms moves by up to 2·2⁻⁹ of its size, a few times 2⁻⁹·√k in all.
    const std::vector<double> unrounded = reference(p.a, p.b, p.m, p.n, p.k, p.trans_a, p.trans_b);
    std::vector<float> c(static_cast<std::size_t>(p.m * p.n));
    kernels::gemm(c.data(), p.a.data(), p.b.data(), p.m, p.n, p.k, p.trans_a, p.trans_b, false);
    double largest = 0;
    for (std::size_t i = 0; i < c.size(); ++i) largest = std::max(largest, std::abs(c[i] - unrounded[i]));
    if (p.k >= 19) {
      EXPECT_GT(largest, tol);
    }
    EXPECT_LT(largest, 0x1p-9 * 4.0 * std::sqrt(static_cast<double>(p.k)));
  });
}

TEST_F(Bf16Products, TheSameProductTwiceGivesTheSameBits) { EXPECT_TRUE(same_bits_twice()); }

TEST(GemmBackend, AnUnknownNameListsTheChoices) {
  try {
    parse_enum<GemmBackend>("mkl");
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_THAT(e.what(), HasSubstr("unknown gemm backend 'mkl' (expected auto, onednn, openblas or eigen)"));
  }
}

}  // namespace
}  // namespace tapelm
