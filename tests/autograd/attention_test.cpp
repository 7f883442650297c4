// Fused attention: kernel gradients in double for every mask configuration, agreement with
// a naive softmax(QKᵀ·scale)V, masking behaviour, op gradients in float and shape errors.
#include <tapelm/autograd/kernels/attention.h>

#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <string>

#include "gradcheck.h"

namespace tapelm {
namespace {

using testing::expect_gradients_match;
using testing::numerical_gradient;
using testing::random_doubles;
using testing::random_tensor;

struct Case {
  const char* name;
  int64_t B, H, Tq, Tk, D;
  bool causal;
  bool padded;
};

// Batch b pads key j when (j + b) % 3 == 0: batch 0 pads key 0, so under a causal mask
// with Tq == Tk its first query sees no key at all.
std::vector<uint8_t> padding_for(const Case& c) {
  if (!c.padded) return {};
  std::vector<uint8_t> pad(c.B * c.Tk);
  for (int64_t b = 0; b < c.B; ++b) {
    for (int64_t j = 0; j < c.Tk; ++j) pad[b * c.Tk + j] = (j + b) % 3 == 0 ? 0 : 1;
  }
  return pad;
}

kernels::AttentionDims dims_for(const Case& c, const std::vector<uint8_t>& pad) {
  kernels::AttentionDims d;
  d.B = c.B;
  d.H = c.H;
  d.Tq = c.Tq;
  d.Tk = c.Tk;
  d.D = c.D;
  d.causal = c.causal;
  d.key_padding = pad.empty() ? nullptr : pad.data();
  return d;
}

// softmax(q·kᵀ·scale + mask)·v computed the obvious way, one query row at a time.
template <class T>
std::vector<double> naive_attention(const T* q, const T* k, const T* v, const Case& c, const std::vector<uint8_t>& pad,
                                    double scale) {
  std::vector<double> out(c.B * c.H * c.Tq * c.D, 0.0);
  for (int64_t b = 0; b < c.B; ++b) {
    for (int64_t h = 0; h < c.H; ++h) {
      const int64_t qh = (b * c.H + h) * c.Tq * c.D, kh = (b * c.H + h) * c.Tk * c.D;
      for (int64_t i = 0; i < c.Tq; ++i) {
        std::vector<double> score(c.Tk, -INFINITY);
        double m = -INFINITY;
        for (int64_t j = 0; j < c.Tk; ++j) {
          if (c.causal && j > i + c.Tk - c.Tq) continue;
          if (!pad.empty() && pad[b * c.Tk + j] == 0) continue;
          double s = 0;
          for (int64_t e = 0; e < c.D; ++e) s += double(q[qh + i * c.D + e]) * double(k[kh + j * c.D + e]);
          score[j] = s * scale;
          m = std::max(m, score[j]);
        }
        if (m == -INFINITY) continue;  // no visible key: zeros
        double z = 0;
        for (double s : score) z += std::exp(s - m);
        for (int64_t j = 0; j < c.Tk; ++j) {
          const double p = std::exp(score[j] - m) / z;
          for (int64_t e = 0; e < c.D; ++e) out[qh + i * c.D + e] += p * double(v[kh + j * c.D + e]);
        }
      }
    }
  }
  return out;
}

const std::vector<Case>& kernel_cases() {
  static const std::vector<Case> cases = {
      {"plain", 2, 2, 5, 5, 4, false, false},
      {"causal", 2, 2, 5, 5, 4, true, false},
      {"padded", 2, 1, 6, 6, 3, false, true},
      {"causal_padded_with_fully_masked_row", 2, 1, 6, 6, 3, true, true},
      {"cross_attention_tq_ne_tk", 1, 2, 3, 6, 4, false, false},
      {"kv_cache_tq_lt_tk_causal_offset", 1, 2, 3, 7, 4, true, false},
      {"two_query_blocks_causal", 1, 1, 70, 70, 3, true, false},
      {"two_query_blocks_offset_padded", 1, 1, 66, 80, 2, true, true},
  };
  return cases;
}

TEST(Attention, KernelGradientsMatchFiniteDifferencesInDouble) {
  for (const Case& c : kernel_cases()) {
    SCOPED_TRACE(c.name);
    const std::vector<uint8_t> pad = padding_for(c);
    const kernels::AttentionDims d = dims_for(c, pad);
    const std::size_t nq = c.B * c.H * c.Tq * c.D, nk = c.B * c.H * c.Tk * c.D;
    const std::vector<double> q = random_doubles(nq, 1), k = random_doubles(nk, 2), v = random_doubles(nk, 3);
    const std::vector<double> r = random_doubles(nq, 4);  // loss = Σ out ⊙ r
    const double scale = 0.7;
    auto forward = [&](const std::vector<double>& qq, const std::vector<double>& kk, const std::vector<double>& vv,
                       std::vector<double>& out, std::vector<double>& lse) {
      out.assign(nq, 0.0);
      lse.assign(c.B * c.H * c.Tq, 0.0);
      kernels::attention_forward(out.data(), lse.data(), qq.data(), kk.data(), vv.data(), d, scale);
    };
    auto loss = [&](const std::vector<double>& qq, const std::vector<double>& kk, const std::vector<double>& vv) {
      std::vector<double> out, lse;
      forward(qq, kk, vv, out, lse);
      double s = 0;
      for (std::size_t i = 0; i < nq; ++i) s += out[i] * r[i];
      return s;
    };
    std::vector<double> out, lse;
    forward(q, k, v, out, lse);
    const std::vector<double> expected = naive_attention(q.data(), k.data(), v.data(), c, pad, scale);
    for (std::size_t i = 0; i < nq; ++i) ASSERT_NEAR(out[i], expected[i], 1e-12) << "forward " << i;

    const double prior = 0.125;  // backward accumulates
    std::vector<double> dq(nq, prior), dk(nk, prior), dv(nk, prior);
    kernels::attention_backward(dq.data(), dk.data(), dv.data(), r.data(), q.data(), k.data(), v.data(), out.data(),
                                lse.data(), d, scale);
    const auto nq_grad = numerical_gradient([&](const auto& x) { return loss(x, k, v); }, q);
    const auto nk_grad = numerical_gradient([&](const auto& x) { return loss(q, x, v); }, k);
    const auto nv_grad = numerical_gradient([&](const auto& x) { return loss(q, k, x); }, v);
    for (std::size_t i = 0; i < nq; ++i) EXPECT_NEAR(dq[i] - prior, nq_grad[i], 1e-7) << "dq " << i;
    for (std::size_t i = 0; i < nk; ++i) EXPECT_NEAR(dk[i] - prior, nk_grad[i], 1e-7) << "dk " << i;
    for (std::size_t i = 0; i < nk; ++i) EXPECT_NEAR(dv[i] - prior, nv_grad[i], 1e-7) << "dv " << i;
  }
}

TEST(Attention, MatchesNaiveSoftmaxQKVInFloat) {
  const std::vector<Case> cases = {
      {"plain", 2, 3, 9, 9, 8, false, false},
      {"causal_three_blocks", 1, 2, 130, 130, 8, true, false},
      {"kv_cache_padded", 2, 2, 4, 11, 8, true, true},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const std::vector<uint8_t> pad = padding_for(c);
    const Tensor q = random_tensor({c.B, c.H, c.Tq, c.D}, 5), k = random_tensor({c.B, c.H, c.Tk, c.D}, 6),
                 v = random_tensor({c.B, c.H, c.Tk, c.D}, 7);
    const Var out = attention(Var(q), Var(k), Var(v), AttentionMask{c.causal, pad});
    const std::vector<double> expected =
        naive_attention(q.data(), k.data(), v.data(), c, pad, 1.0 / std::sqrt(double(c.D)));
    for (int64_t i = 0; i < out.numel(); ++i) ASSERT_NEAR(out.data()[i], expected[i], 2e-6) << i;
  }
}

TEST(Attention, OpGradientsMatchFiniteDifferences) {
  const Tensor q = random_tensor({2, 2, 4, 3}, 8), k = random_tensor({2, 2, 4, 3}, 9),
               v = random_tensor({2, 2, 4, 3}, 10);
  const AttentionMask causal_padded{true, {1, 1, 0, 1, 1, 0, 1, 1}};
  expect_gradients_match([&](std::vector<Var>& x) { return attention(x[0], x[1], x[2], causal_padded); }, {q, k, v});
  const Tensor kc = random_tensor({2, 2, 6, 3}, 11), vc = random_tensor({2, 2, 6, 3}, 12);
  expect_gradients_match([](std::vector<Var>& x) { return attention(x[0], x[1], x[2], {true, {}}); }, {q, kc, vc});
}

TEST(Attention, OneVarAsQueryKeyAndValueAccumulatesAllThreeGradients) {
  expect_gradients_match(
      [](std::vector<Var>& x) {
        return attention(x[0], x[0], x[0], {true, {}});
      },
      {random_tensor({1, 2, 5, 4}, 13)});
}

TEST(Attention, CausalMaskHidesFutureTokens) {
  const int64_t T = 8, D = 4, future = 5;
  const Tensor q = random_tensor({1, 2, T, D}, 14), k = random_tensor({1, 2, T, D}, 15),
               v = random_tensor({1, 2, T, D}, 16);
  const AttentionMask causal{true, {}};
  const Var before = attention(Var(q), Var(k), Var(v), causal);
  Tensor k2 = k.clone(), v2 = v.clone();
  for (int64_t h = 0; h < 2; ++h) {
    for (int64_t e = 0; e < D; ++e) {
      k2.data()[(h * T + future) * D + e] += 3.0f;
      v2.data()[(h * T + future) * D + e] -= 2.0f;
    }
  }
  const Var after = attention(Var(q), Var(k2), Var(v2), causal);
  for (int64_t h = 0; h < 2; ++h) {
    for (int64_t i = 0; i < T; ++i) {
      for (int64_t e = 0; e < D; ++e) {
        const int64_t at = (h * T + i) * D + e;
        if (i < future) {
          EXPECT_EQ(before.data()[at], after.data()[at]) << "row " << i << " saw a future key";
        } else {
          EXPECT_NE(before.data()[at], after.data()[at]) << "row " << i << " should see key " << future;
        }
      }
    }
  }
}

TEST(Attention, KvCacheQueriesMatchTheLastRowsOfFullCausalAttention) {
  const int64_t T = 9, Tq = 3, D = 4;
  const Tensor q = random_tensor({1, 1, T, D}, 17), k = random_tensor({1, 1, T, D}, 18),
               v = random_tensor({1, 1, T, D}, 19);
  const Var full = attention(Var(q), Var(k), Var(v), {true, {}});
  Tensor q_last({1, 1, Tq, D});
  std::copy(q.data() + (T - Tq) * D, q.data() + T * D, q_last.data());
  const Var cached = attention(Var(q_last), Var(k), Var(v), {true, {}});
  for (int64_t i = 0; i < Tq * D; ++i) EXPECT_NEAR(cached.data()[i], full.data()[(T - Tq) * D + i], 1e-6) << i;
}

TEST(Attention, PaddedKeysChangeNothing) {
  const int64_t T = 6, D = 4;
  const Tensor q = random_tensor({1, 1, T, D}, 20), k = random_tensor({1, 1, T, D}, 21),
               v = random_tensor({1, 1, T, D}, 22);
  const AttentionMask mask{false, {1, 0, 1, 1, 0, 1}};
  const Var out = attention(Var(q), Var(k), Var(v), mask);
  Tensor k2 = k.clone(), v2 = v.clone();
  for (int64_t j : {1, 4}) {
    for (int64_t e = 0; e < D; ++e) {
      k2.data()[j * D + e] = 100.0f;
      v2.data()[j * D + e] = -50.0f;
    }
  }
  const Var changed = attention(Var(q), Var(k2), Var(v2), mask);
  EXPECT_EQ(out.value().to_vector(), changed.value().to_vector());
  // Same as attending over the real keys alone.
  Tensor k_real({1, 1, 4, D}), v_real({1, 1, 4, D});
  int64_t row = 0;
  for (int64_t j : {0, 2, 3, 5}) {
    std::copy(k.data() + j * D, k.data() + (j + 1) * D, k_real.data() + row * D);
    std::copy(v.data() + j * D, v.data() + (j + 1) * D, v_real.data() + row * D);
    ++row;
  }
  const Var real = attention(Var(q), Var(k_real), Var(v_real));
  for (int64_t i = 0; i < T * D; ++i) EXPECT_NEAR(out.data()[i], real.data()[i], 1e-6) << i;
}

TEST(Attention, FullyMaskedQueryRowOutputsZerosAndGetsZeroGradient) {
  const int64_t T = 4, D = 3;
  Var q(random_tensor({2, 1, T, D}, 23), true), k(random_tensor({2, 1, T, D}, 24), true),
      v(random_tensor({2, 1, T, D}, 25), true);
  const AttentionMask mask{false, {1, 1, 0, 1, /* batch 1 all padding: */ 0, 0, 0, 0}};
  Var out = attention(q, k, v, mask);
  Var loss = sum_all(mul(out, Var(random_tensor({2, 1, T, D}, 26))));
  backward(loss);
  const int64_t half = T * D;
  for (int64_t i = 0; i < half; ++i) {
    EXPECT_EQ(out.data()[half + i], 0.0f);
    EXPECT_EQ(q.grad().data()[half + i], 0.0f);
    EXPECT_EQ(k.grad().data()[half + i], 0.0f);
    EXPECT_EQ(v.grad().data()[half + i], 0.0f);
    EXPECT_TRUE(std::isfinite(q.grad().data()[i]));
  }
  for (int64_t e = 0; e < D; ++e) EXPECT_EQ(v.grad().data()[2 * D + e], 0.0f) << "padded key got value gradient";
}

TEST(Attention, NonPositiveScaleMeansOneOverSqrtD) {
  const Var q(random_tensor({1, 1, 3, 16}, 27)), k(random_tensor({1, 1, 3, 16}, 28)),
      v(random_tensor({1, 1, 3, 16}, 29));
  EXPECT_EQ(attention(q, k, v).value().to_vector(), attention(q, k, v, {}, 0.25f).value().to_vector());
  EXPECT_NE(attention(q, k, v).value().to_vector(), attention(q, k, v, {}, 0.5f).value().to_vector());
}

std::vector<std::vector<float>> attention_grads(int threads) {
  const int saved = omp_get_max_threads();
  omp_set_num_threads(threads);
  Var q(random_tensor({2, 3, 64, 16}, 30), true), k(random_tensor({2, 3, 64, 16}, 31), true),
      v(random_tensor({2, 3, 64, 16}, 32), true);
  Var out = attention(q, k, v, {true, {}});
  Var loss = sum_all(mul(out, Var(random_tensor({2, 3, 64, 16}, 33))));
  backward(loss);
  omp_set_num_threads(saved);
  return {out.value().to_vector(), q.grad().to_vector(), k.grad().to_vector(), v.grad().to_vector()};
}

TEST(Attention, OutputAndGradientsAreBitwiseIndependentOfThreadCount) {
  EXPECT_EQ(attention_grads(1), attention_grads(2));
}

void expect_attention_error(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionMask& mask,
                            const std::string& fragment) {
  try {
    attention(Var(q), Var(k), Var(v), mask);
    ADD_FAILURE() << "expected a throw mentioning " << fragment;
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("attention: "), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST(Attention, ShapeErrorsNameTheOpAndShapes) {
  const Tensor good = Tensor::zeros({2, 2, 3, 4});
  expect_attention_error(Tensor::zeros({2, 3, 4}), good, good, {}, "q must have rank 4 [B, H, T, D], got [2, 3, 4]");
  expect_attention_error(good, good, Tensor::zeros({2, 2, 5, 4}), {}, "k [2, 2, 3, 4] and v [2, 2, 5, 4]");
  expect_attention_error(good, Tensor::zeros({2, 2, 3, 8}), Tensor::zeros({2, 2, 3, 8}), {},
                         "q [2, 2, 3, 4] and k [2, 2, 3, 8] must agree in B, H and D");
  expect_attention_error(good, Tensor::zeros({2, 1, 3, 4}), Tensor::zeros({2, 1, 3, 4}), {},
                         "must agree in B, H and D");
  expect_attention_error(good, good, good, {false, {1, 1, 1}}, "key_padding has 3 entries, expected B * Tk = 2 * 3");
}

}  // namespace
}  // namespace tapelm
