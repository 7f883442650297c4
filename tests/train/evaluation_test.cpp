// Held-out evaluation of a GPT over a token stream.
#include <tapelm/train/tasks/evaluation.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include <tapelm/autograd/tape.h>
#include "tiny_gpt.h"

namespace tapelm {
namespace {

using testing::tiny_gpt;

TEST(Evaluation, StreamPredictsEveryTokenOnceInNonOverlappingWindows) {
  GPT model(tiny_gpt(4));
  std::vector<int32_t> tokens;
  for (int i = 0; i < 12; ++i) tokens.push_back((i * 13 + 5) % 40);
  const TokenReader read = [&](uint64_t start, size_t count, int32_t* out) {
    std::copy_n(tokens.begin() + start, count, out);
  };
  // 11 predictions: windows [0..4], [4..8], [8..11] predict 4 + 4 + 3 tokens.
  double expected = 0;
  {
    const EvalMode eval(model);
    const NoGradGuard no_grad;
    for (const auto& [start, len] : std::vector<std::pair<int, int>>{{0, 4}, {4, 4}, {8, 3}}) {
      const std::vector<int32_t> x(tokens.begin() + start, tokens.begin() + start + len);
      const std::vector<int32_t> y(tokens.begin() + start + 1, tokens.begin() + start + len + 1);
      expected += model.loss(x, y, 1, len).item() * len;
    }
  }
  for (int64_t batch : {1, 2, 8}) {
    const LossTotal total = evaluate_stream(model, tokens.size(), read, batch);
    EXPECT_EQ(total.tokens, 11) << batch;
    EXPECT_NEAR(total.sum, expected, 1e-4) << batch;
    EXPECT_NEAR(total.perplexity(), std::exp(expected / 11), 1e-3) << batch;
  }
  EXPECT_TRUE(model.is_training());
}

}  // namespace
}  // namespace tapelm
