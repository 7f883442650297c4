// Next-token sampling and the generation loop.
#include "train/sampling.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <string>

#include "autograd/tape.h"
#include "train/evaluation.h"

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

// Where the model's window starts: the last ctx_len tokens of the initial context, then a
// restart from the last ctx_len / 2 tokens whenever the window would overflow. Both decoding
// modes use this, so they feed the model the same windows.
int64_t window_start(int64_t current_start, int64_t total, int64_t ctx_len, bool first_step) {
  if (total - current_start <= ctx_len) return current_start;
  return total - (first_step ? ctx_len : std::max<int64_t>(1, ctx_len / 2));
}

}  // namespace

void validate(const SamplingOptions& o) {
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

std::vector<double> next_token_distribution(const float* logits, int64_t vocab, const SamplingOptions& options) {
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

int32_t sample_next_token(const float* logits, int64_t vocab, const SamplingOptions& options, Rng& rng) {
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

Generation generate(GPT& model, const std::vector<int32_t>& context, const SamplingOptions& options, int32_t eos_id,
                    bool use_cache) {
  validate(options);
  if (context.empty()) throw std::invalid_argument("generate: the context must hold at least one token (e.g. <bos>)");
  const EvalMode eval(model);
  const NoGradGuard no_grad;
  const int64_t ctx_len = model.config().ctx_len;
  const int64_t vocab = model.config().vocab_size;
  std::vector<int32_t> tokens = context;
  Generation result;
  KVCache cache;
  Rng rng(options.seed);
  int64_t start = 0;
  for (int64_t i = 0; i < options.max_new_tokens; ++i) {
    const int64_t total = static_cast<int64_t>(tokens.size());
    const int64_t new_start = window_start(start, total, ctx_len, i == 0);
    if (new_start != start) cache.clear();
    start = new_start;
    const int64_t first = use_cache ? start + cache.length() : start;
    const std::vector<int32_t> feed(tokens.begin() + first, tokens.end());
    const int64_t T = static_cast<int64_t>(feed.size());
    const Var logits = model.forward(feed, 1, T, {}, use_cache ? &cache : nullptr);
    const int32_t next = sample_next_token(logits.data() + (T - 1) * vocab, vocab, options, rng);
    if (next == eos_id) {
      result.stop = StopReason::kEndOfText;
      return result;
    }
    tokens.push_back(next);
    result.tokens.push_back(next);
  }
  return result;
}

std::string generate_text(GPT& model, const Tokenizer& tokenizer, const std::string& prompt,
                          const SamplingOptions& options) {
  std::vector<int32_t> context{tokenizer.bos_id()};
  tokenizer.encode_append(prompt, context);
  const Generation generated = generate(model, context, options, tokenizer.eos_id());
  context.insert(context.end(), generated.tokens.begin(), generated.tokens.end());
  return tokenizer.decode(context);
}

}  // namespace tapelm
