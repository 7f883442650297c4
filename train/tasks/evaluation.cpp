// Held-out loss over validation windows or a token stream.
#include <tapelm/train/tasks/evaluation.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include <tapelm/autograd/tape.h>

namespace tapelm {
namespace {

// Adds the summed loss of one [rows, T] batch.
void add_batch(GPT& model, const std::vector<int32_t>& x, const std::vector<int32_t>& y, int64_t rows, int64_t T,
               LossTotal& total) {
  const Var loss = model.loss(x, y, rows, T);
  total.sum += double(loss.item()) * double(rows * T);
  total.tokens += rows * T;
}

}  // namespace

double LossTotal::mean() const {
  return tokens > 0 ? sum / double(tokens) : std::numeric_limits<double>::quiet_NaN();
}

double LossTotal::perplexity() const { return std::exp(mean()); }

LossTotal evaluate_windows(GPT& model, SequentialSampler& sampler, const std::vector<uint64_t>& windows,
                           int64_t batch) {
  if (batch < 1) throw std::invalid_argument("evaluate_windows: batch must be >= 1, got " + std::to_string(batch));
  const EvalMode eval(model);
  const NoGradGuard no_grad;
  const size_t T = size_t(sampler.context());
  LossTotal total;
  std::vector<int32_t> x, y, window_x, window_y;
  for (size_t first = 0; first < windows.size(); first += size_t(batch)) {
    const size_t rows = std::min(size_t(batch), windows.size() - first);
    x.resize(rows * T);
    y.resize(rows * T);
    for (size_t r = 0; r < rows; ++r) {
      sampler.set_position(windows[first + r]);
      sampler.next(1, window_x, window_y);
      std::copy(window_x.begin(), window_x.end(), x.begin() + long(r * T));
      std::copy(window_y.begin(), window_y.end(), y.begin() + long(r * T));
    }
    add_batch(model, x, y, int64_t(rows), int64_t(T), total);
  }
  return total;
}

LossTotal evaluate_stream(GPT& model, uint64_t total, const TokenReader& read, int64_t batch) {
  if (batch < 1) throw std::invalid_argument("evaluate_stream: batch must be >= 1, got " + std::to_string(batch));
  if (total < 2) {
    throw std::invalid_argument("evaluate_stream: " + std::to_string(total) + " tokens; at least 2 are needed to predict one");
  }
  const EvalMode eval(model);
  const NoGradGuard no_grad;
  const uint64_t T = static_cast<uint64_t>(model.config().ctx_len);
  const uint64_t predictions = total - 1;
  LossTotal result;
  std::vector<int32_t> window, x, y;
  // Window w predicts tokens w·T + 1 ... w·T + len from the tokens before them in the window.
  for (uint64_t first = 0; first < predictions;) {
    const uint64_t len = std::min(T, predictions - first);
    const uint64_t full = len == T ? std::min<uint64_t>(uint64_t(batch), (predictions - first) / T) : 1;
    x.resize(full * len);
    y.resize(full * len);
    window.resize(len + 1);
    for (uint64_t row = 0; row < full; ++row) {
      read(first + row * len, len + 1, window.data());
      std::copy(window.begin(), window.end() - 1, x.begin() + row * len);
      std::copy(window.begin() + 1, window.end(), y.begin() + row * len);
    }
    add_batch(model, x, y, int64_t(full), int64_t(len), result);
    first += full * len;
  }
  return result;
}

}  // namespace tapelm
