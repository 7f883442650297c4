// A block's forward pass against an independent double-precision reference written from
// the definitions (plain loops, no tapelm ops): pins down norm placement, residuals, the
// q/k/v row order of the fused projection, the head split, masks and cross-attention.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "module_gradcheck.h"
#include <tapelm/nn/transformer_layer.h>

namespace tapelm {
namespace {

using testing::LayerFixture;
using testing::random_tensor;
using testing::randomize_parameters;
using testing::tiny_config;

// A [rows, cols] matrix in double.
struct Mat {
  int64_t rows = 0, cols = 0;
  std::vector<double> v;
  Mat(int64_t r, int64_t c) : rows(r), cols(c), v(static_cast<std::size_t>(r * c), 0.0) {}
  double& at(int64_t r, int64_t c) { return v[r * cols + c]; }
  double at(int64_t r, int64_t c) const { return v[r * cols + c]; }
};

Mat from(const float* p, int64_t rows, int64_t cols) {
  Mat m(rows, cols);
  for (int64_t i = 0; i < rows * cols; ++i) m.v[i] = p[i];
  return m;
}

class Reference {
 public:
  explicit Reference(const Module& block) {
    for (const auto& [name, p] : block.named_parameters()) params_.emplace(name, p);
  }

  Mat linear(const Mat& x, const std::string& name) const {
    const Var& w = params_.at(name + ".weight");
    const int64_t out = w.size(0);
    Mat y(x.rows, out);
    for (int64_t r = 0; r < x.rows; ++r) {
      for (int64_t o = 0; o < out; ++o) {
        double s = params_.count(name + ".bias") ? params_.at(name + ".bias").data()[o] : 0.0;
        for (int64_t i = 0; i < x.cols; ++i) s += x.at(r, i) * w.data()[o * x.cols + i];
        y.at(r, o) = s;
      }
    }
    return y;
  }

  Mat layernorm(const Mat& x, const std::string& name) const {
    Mat y(x.rows, x.cols);
    for (int64_t r = 0; r < x.rows; ++r) {
      double mean = 0, var = 0;
      for (int64_t c = 0; c < x.cols; ++c) mean += x.at(r, c) / x.cols;
      for (int64_t c = 0; c < x.cols; ++c) var += (x.at(r, c) - mean) * (x.at(r, c) - mean) / x.cols;
      for (int64_t c = 0; c < x.cols; ++c) {
        y.at(r, c) = (x.at(r, c) - mean) / std::sqrt(var + 1e-5) * params_.at(name + ".weight").data()[c] +
                     params_.at(name + ".bias").data()[c];
      }
    }
    return y;
  }

  // softmax(q·kᵀ/√D)·v per head; head h owns columns [h·D, (h+1)·D).
  static Mat attention(const Mat& q, const Mat& k, const Mat& v, int64_t heads, bool causal,
                       const std::vector<uint8_t>& key_padding) {
    const int64_t D = q.cols / heads;
    Mat out(q.rows, q.cols);
    for (int64_t h = 0; h < heads; ++h) {
      for (int64_t i = 0; i < q.rows; ++i) {
        std::vector<double> w(static_cast<std::size_t>(k.rows), 0.0);
        double z = 0;
        for (int64_t j = 0; j < k.rows; ++j) {
          if ((causal && j > i) || (!key_padding.empty() && !key_padding[j])) continue;
          double s = 0;
          for (int64_t d = 0; d < D; ++d) s += q.at(i, h * D + d) * k.at(j, h * D + d);
          w[j] = std::exp(s / std::sqrt(double(D)));
          z += w[j];
        }
        for (int64_t j = 0; j < k.rows; ++j) {
          for (int64_t d = 0; d < D; ++d) out.at(i, h * D + d) += w[j] / z * v.at(j, h * D + d);
        }
      }
    }
    return out;
  }

  Mat self_attention(const Mat& x, int64_t heads, bool causal, const std::vector<uint8_t>& padding) const {
    const Mat qkv = linear(x, "attn.qkv");
    const int64_t C = x.cols;
    Mat q(x.rows, C), k(x.rows, C), v(x.rows, C);
    for (int64_t r = 0; r < x.rows; ++r) {
      for (int64_t c = 0; c < C; ++c) {
        q.at(r, c) = qkv.at(r, c);
        k.at(r, c) = qkv.at(r, C + c);
        v.at(r, c) = qkv.at(r, 2 * C + c);
      }
    }
    return linear(attention(q, k, v, heads, causal, padding), "attn.proj");
  }

  Mat cross_attention(const Mat& x, const Mat& memory, int64_t heads) const {
    const Mat q = linear(x, "cross_attn.q");
    const Mat kv = linear(memory, "cross_attn.kv");
    const int64_t C = x.cols;
    Mat k(memory.rows, C), v(memory.rows, C);
    for (int64_t r = 0; r < memory.rows; ++r) {
      for (int64_t c = 0; c < C; ++c) {
        k.at(r, c) = kv.at(r, c);
        v.at(r, c) = kv.at(r, C + c);
      }
    }
    return linear(attention(q, k, v, heads, false, {}), "cross_attn.proj");
  }

  Mat ffn(const Mat& x) const {
    Mat h = linear(x, "ffn.fc1");
    for (double& a : h.v) a = 0.5 * a * (1 + std::tanh(std::sqrt(2 / M_PI) * (a + 0.044715 * a * a * a)));
    return linear(h, "ffn.fc2");
  }

 private:
  std::map<std::string, Var> params_;
};

Mat add(const Mat& a, const Mat& b) {
  Mat c = a;
  for (std::size_t i = 0; i < c.v.size(); ++i) c.v[i] += b.v[i];
  return c;
}

void expect_close(const Var& actual, const Mat& expected, int64_t offset) {
  for (std::size_t i = 0; i < expected.v.size(); ++i) {
    EXPECT_NEAR(actual.data()[offset + i], expected.v[i], 2e-5 * (1 + std::abs(expected.v[i]))) << i;
  }
}

TEST(BlockReference, GptBlockPreAndPostNormMatchTheirDefinitions) {
  for (bool pre_ln : {true, false}) {
    SCOPED_TRACE(pre_ln ? "pre-LN" : "post-LN");
    TransformerConfig cfg = tiny_config();
    cfg.pre_ln = pre_ln;
    LayerFixture fx(cfg);
    DecoderLayer block(cfg, fx.context, /*cross_attention=*/false);
    randomize_parameters(block, 4);
    const int64_t B = 2, T = 5, C = 8;
    const Var x(random_tensor({B, T, C}, 1));
    const Var y = block.forward(x);
    const Reference ref(block);
    for (int64_t b = 0; b < B; ++b) {
      const Mat xb = from(x.data() + b * T * C, T, C);
      Mat expected(T, C);
      if (pre_ln) {
        const Mat h = add(xb, ref.self_attention(ref.layernorm(xb, "ln1"), 2, true, {}));
        expected = add(h, ref.ffn(ref.layernorm(h, "ln2")));
      } else {
        const Mat h = ref.layernorm(add(xb, ref.self_attention(xb, 2, true, {})), "ln1");
        expected = ref.layernorm(add(h, ref.ffn(h)), "ln2");
      }
      expect_close(y, expected, b * T * C);
    }
  }
}

TEST(BlockReference, EncoderBlockWithPaddingMatchesItsDefinition) {
  TransformerConfig cfg = tiny_config();
  cfg.pre_ln = false;
  LayerFixture fx(cfg);
  EncoderLayer block(cfg, fx.context);
  randomize_parameters(block, 5);
  const int64_t T = 4, C = 8;
  const Var x(random_tensor({1, T, C}, 2));
  const std::vector<uint8_t> padding = {1, 1, 0, 1};
  const Var y = block.forward(x, padding);
  const Reference ref(block);
  const Mat xb = from(x.data(), T, C);
  const Mat h = ref.layernorm(add(xb, ref.self_attention(xb, 2, false, padding)), "ln1");
  expect_close(y, ref.layernorm(add(h, ref.ffn(h)), "ln2"), 0);
}

TEST(BlockReference, DecoderBlockWithCrossAttentionMatchesItsDefinition) {
  TransformerConfig cfg = tiny_config();
  LayerFixture fx(cfg);
  DecoderLayer block(cfg, fx.context);
  randomize_parameters(block, 6);
  const int64_t T = 3, S = 4, C = 8;
  const Var x(random_tensor({1, T, C}, 3));
  const Var memory(random_tensor({1, S, C}, 4));
  const Var y = block.forward(x, memory);
  const Reference ref(block);
  const Mat xb = from(x.data(), T, C);
  const Mat mem = from(memory.data(), S, C);
  const Mat h1 = add(xb, ref.self_attention(ref.layernorm(xb, "ln1"), 2, true, {}));
  const Mat h2 = add(h1, ref.cross_attention(ref.layernorm(h1, "ln_cross"), mem, 2));
  expect_close(y, add(h2, ref.ffn(ref.layernorm(h2, "ln2"))), 0);
}

}  // namespace
}  // namespace tapelm
