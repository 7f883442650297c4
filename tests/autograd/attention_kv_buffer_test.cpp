// Attention reading keys and values in place from buffers with spare capacity (a KV cache
// with room to grow): the same result as compact keys, gradients checked by finite
// differences in double at kernel level and in float at op level, and the spare positions
// neither read nor written.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include <tapelm/autograd/kernels/attention.h>
#include "gradcheck.h"

namespace tapelm {
namespace {

using testing::expect_gradients_match;
using testing::numerical_gradient;
using testing::random_doubles;
using testing::random_tensor;

// Copies the first Tk of `capacity` positions of each of `heads` rows into a compact array.
template <class T>
std::vector<T> compact(const std::vector<T>& buffer, int64_t heads, int64_t capacity, int64_t Tk, int64_t D) {
  std::vector<T> out;
  for (int64_t h = 0; h < heads; ++h) {
    out.insert(out.end(), buffer.begin() + h * capacity * D, buffer.begin() + (h * capacity + Tk) * D);
  }
  return out;
}

TEST(AttentionKvBuffer, KernelReadsTheFilledPrefixAndItsGradientsMatchFiniteDifferences) {
  const int64_t B = 2, H = 2, Tq = 3, Tk = 5, capacity = 8, D = 3, heads = B * H;
  const std::vector<uint8_t> pad = {1, 1, 0, 1, 1, 1, 1, 1, 1, 0};  // [B · Tk]
  kernels::AttentionDims d;
  d.B = B;
  d.H = H;
  d.Tq = Tq;
  d.Tk = Tk;
  d.D = D;
  d.causal = true;
  d.key_padding = pad.data();
  kernels::AttentionDims buffered = d;
  buffered.kv_capacity = capacity;
  const std::size_t nq = heads * Tq * D, nbuf = heads * capacity * D;
  const std::vector<double> q = random_doubles(nq, 1), k = random_doubles(nbuf, 2), v = random_doubles(nbuf, 3);
  const std::vector<double> r = random_doubles(nq, 4);  // loss = Σ out ⊙ r
  const double scale = 0.6;
  auto run = [&](const std::vector<double>& kk, const std::vector<double>& vv, std::vector<double>& out,
                 std::vector<double>& lse) {
    out.assign(nq, 0.0);
    lse.assign(heads * Tq, 0.0);
    kernels::attention_forward(out.data(), lse.data(), q.data(), kk.data(), vv.data(), buffered, scale);
  };
  std::vector<double> out, lse, ref_out(nq), ref_lse(heads * Tq);
  run(k, v, out, lse);
  const std::vector<double> kc = compact(k, heads, capacity, Tk, D), vc = compact(v, heads, capacity, Tk, D);
  kernels::attention_forward(ref_out.data(), ref_lse.data(), q.data(), kc.data(), vc.data(), d, scale);
  for (std::size_t i = 0; i < nq; ++i) ASSERT_EQ(out[i], ref_out[i]) << "forward " << i;

  const double prior = 0.25;  // backward accumulates
  std::vector<double> dq(nq, prior), dk(nbuf, prior), dv(nbuf, prior);
  kernels::attention_backward(dq.data(), dk.data(), dv.data(), r.data(), q.data(), k.data(), v.data(), out.data(),
                              lse.data(), buffered, scale);
  auto loss = [&](const std::vector<double>& kk, const std::vector<double>& vv) {
    std::vector<double> o, l;
    run(kk, vv, o, l);
    double s = 0;
    for (std::size_t i = 0; i < nq; ++i) s += o[i] * r[i];
    return s;
  };
  // The spare positions get a numerical gradient of 0, so this also checks they are untouched.
  const auto nk = numerical_gradient([&](const auto& x) { return loss(x, v); }, k);
  const auto nv = numerical_gradient([&](const auto& x) { return loss(k, x); }, v);
  for (std::size_t i = 0; i < nbuf; ++i) EXPECT_NEAR(dk[i] - prior, nk[i], 1e-7) << "dk " << i;
  for (std::size_t i = 0; i < nbuf; ++i) EXPECT_NEAR(dv[i] - prior, nv[i], 1e-7) << "dv " << i;
  const auto nqg = numerical_gradient(
      [&](const auto& x) {
        std::vector<double> o(nq), l(heads * Tq);
        kernels::attention_forward(o.data(), l.data(), x.data(), k.data(), v.data(), buffered, scale);
        double s = 0;
        for (std::size_t i = 0; i < nq; ++i) s += o[i] * r[i];
        return s;
      },
      q);
  for (std::size_t i = 0; i < nq; ++i) EXPECT_NEAR(dq[i] - prior, nqg[i], 1e-7) << "dq " << i;
}

TEST(AttentionKvBuffer, OpWithKvLengthEqualsAttentionOverTheSlicedKeys) {
  const Tensor q = random_tensor({1, 2, 2, 4}, 5);
  const Tensor k = random_tensor({1, 2, 7, 4}, 6), v = random_tensor({1, 2, 7, 4}, 7);
  const AttentionMask causal{true, {}};
  const Var buffered = attention(Var(q), Var(k), Var(v), causal, 0.0f, 4);
  const Var sliced = attention(Var(q), slice(Var(k), 2, 0, 4), slice(Var(v), 2, 0, 4), causal);
  ASSERT_EQ(buffered.shape(), sliced.shape());
  for (int64_t i = 0; i < sliced.numel(); ++i) EXPECT_EQ(buffered.data()[i], sliced.data()[i]) << i;
}

TEST(AttentionKvBuffer, OpGradientsMatchFiniteDifferences) {
  const Tensor q = random_tensor({2, 1, 2, 3}, 8);
  const Tensor k = random_tensor({2, 1, 6, 3}, 9), v = random_tensor({2, 1, 6, 3}, 10);
  const AttentionMask padded{true, {1, 0, 1, 1, 1, 1, 1, 1}};  // [B · kv_length]
  expect_gradients_match([&](std::vector<Var>& x) { return attention(x[0], x[1], x[2], padded, 0.0f, 4); },
                         {q, k, v});
}

TEST(AttentionKvBuffer, RejectsAKvLengthBeyondTheBuffer) {
  const Var q(random_tensor({1, 1, 1, 2}, 1)), k(random_tensor({1, 1, 3, 2}, 2));
  try {
    attention(q, k, k, {}, 0.0f, 4);
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("kv_length 4 exceeds the key buffer's capacity of 3"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace tapelm
