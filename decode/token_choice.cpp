// Token choice: the filtered next-token distribution, draws from it, and log-probabilities.
#include <tapelm/decode/token_choice.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>

namespace tapelm {
namespace {

int32_t argmax(const float* logits, int64_t vocab) {
  return static_cast<int32_t>(std::max_element(logits, logits + vocab) - logits);  // first of equal maxima
}

// Ids sorted most likely first, ties by lower id.
std::vector<int32_t> ranked_ids(const std::vector<double>& probs) {
  std::vector<int32_t> order(probs.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return probs[a] > probs[b]; });
  return order;
}

// Zeroes every probability outside `keep` (ids) and renormalises the rest.
void restrict_to(std::vector<double>& probs, const std::vector<int32_t>& keep) {
  std::vector<double> kept(probs.size(), 0.0);
  double mass = 0.0;
  for (int32_t id : keep) mass += probs[id];
  for (int32_t id : keep) kept[id] = probs[id] / mass;
  probs.swap(kept);
}

}  // namespace

void validate(const DecodingOptions& o) {
  if (o.max_new_tokens < 0) {
    throw std::invalid_argument("sampling: max_new_tokens must be >= 0, got " + std::to_string(o.max_new_tokens));
  }
  if (!std::isfinite(o.temperature) || o.temperature < 0) {
    throw std::invalid_argument("sampling: temperature must be finite and >= 0, got " + std::to_string(o.temperature));
  }
  if (o.top_k < 0) throw std::invalid_argument("sampling: top_k must be >= 0, got " + std::to_string(o.top_k));
  if (!(o.top_p > 0 && o.top_p <= 1)) {
    throw std::invalid_argument("sampling: top_p must be in (0, 1], got " + std::to_string(o.top_p));
  }
}

std::vector<double> next_token_distribution(const float* logits, int64_t vocab, const DecodingOptions& options) {
  validate(options);
  if (vocab < 1) throw std::invalid_argument("sampling: vocabulary of " + std::to_string(vocab) + " tokens");
  std::vector<double> probs(static_cast<size_t>(vocab), 0.0);
  if (options.temperature == 0.0) {
    probs[argmax(logits, vocab)] = 1.0;
    return probs;
  }
  // -inf is a legitimate "never"; NaN or +inf means the model produced garbage.
  const bool garbage = std::any_of(logits, logits + vocab, [](float l) { return std::isnan(l) || l == INFINITY; });
  const double top = *std::max_element(logits, logits + vocab);
  if (garbage || !std::isfinite(top)) throw std::invalid_argument("sampling: the logits are NaN or infinite");
  double sum = 0.0;
  for (int64_t i = 0; i < vocab; ++i) {
    probs[i] = std::exp((double(logits[i]) - top) / options.temperature);
    sum += probs[i];
  }
  for (double& p : probs) p /= sum;

  const bool top_k = options.top_k > 0 && options.top_k < vocab;
  if (!top_k && options.top_p >= 1.0) return probs;
  std::vector<int32_t> keep = ranked_ids(probs);
  if (top_k) {
    keep.resize(static_cast<size_t>(options.top_k));
    restrict_to(probs, keep);
  }
  if (options.top_p < 1.0) {
    double mass = 0.0;
    size_t n = 0;
    while (n < keep.size() && (n == 0 || mass < options.top_p)) mass += probs[keep[n++]];
    keep.resize(n);
    restrict_to(probs, keep);
  }
  return probs;
}

int32_t choose_token(const float* logits, int64_t vocab, const DecodingOptions& options, Rng& rng) {
  if (options.temperature == 0.0) {
    validate(options);
    return argmax(logits, vocab);
  }
  const std::vector<double> probs = next_token_distribution(logits, vocab, options);
  const double u = double(rng.next_u64() >> 11) * 0x1.0p-53;  // uniform in [0, 1), 53 bits
  double cumulative = 0.0;
  int32_t last = 0;
  for (int64_t i = 0; i < vocab; ++i) {
    if (probs[i] == 0.0) continue;
    cumulative += probs[i];
    last = static_cast<int32_t>(i);
    if (u < cumulative) return last;
  }
  return last;  // u beyond a cumulative sum that rounded below 1
}

std::vector<double> log_probabilities(const float* logits, int64_t vocab) {
  double max = -std::numeric_limits<double>::infinity();
  for (int64_t i = 0; i < vocab; ++i) max = std::max(max, static_cast<double>(logits[i]));
  double sum = 0;
  for (int64_t i = 0; i < vocab; ++i) sum += std::exp(static_cast<double>(logits[i]) - max);
  const double log_z = max + std::log(sum);
  std::vector<double> out(static_cast<size_t>(vocab));
  for (int64_t i = 0; i < vocab; ++i) out[static_cast<size_t>(i)] = static_cast<double>(logits[i]) - log_z;
  return out;
}

int32_t most_likely(const std::vector<double>& values) {
  return static_cast<int32_t>(std::max_element(values.begin(), values.end()) - values.begin());
}

}  // namespace tapelm
