// The GPT generation loop over the KV cache, and greedy completion.
#include <tapelm/decode/generate.h>

#include <algorithm>
#include <stdexcept>
#include <string>

#include <tapelm/autograd/tape.h>

namespace tapelm {
namespace {

// Where the model's window starts: the last ctx_len tokens of the initial context, then a
// restart from the last ctx_len / 2 tokens whenever the window would overflow. Both decoding
// modes use this, so they feed the model the same windows.
int64_t window_start(int64_t current_start, int64_t total, int64_t ctx_len, bool first_step) {
  if (total - current_start <= ctx_len) return current_start;
  return total - (first_step ? ctx_len : std::max<int64_t>(1, ctx_len / 2));
}

}  // namespace

Generation generate(GPT& model, const std::vector<int32_t>& context, const DecodingOptions& options, int32_t eos_id,
                    bool use_cache) {
  validate(options);
  if (context.empty()) throw std::invalid_argument("generate: the context must hold at least one token (e.g. <bos>)");
  const EvalMode eval(model);
  const NoGradGuard no_grad;
  const int64_t ctx_len = model.config().ctx_len;
  const int64_t vocab = model.config().vocab_size;
  std::vector<int32_t> tokens = context;
  Generation result;
  KVCache cache(ctx_len);
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
    const int32_t next = choose_token(logits.data() + (T - 1) * vocab, vocab, options, rng);
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
                          const DecodingOptions& options) {
  std::vector<int32_t> context{tokenizer.bos_id()};
  tokenizer.encode_append(prompt, context);
  const Generation generated = generate(model, context, options, tokenizer.eos_id());
  context.insert(context.end(), generated.tokens.begin(), generated.tokens.end());
  return tokenizer.decode(context);
}

DecodedSequence greedy_complete(GPT& model, const std::vector<int32_t>& prompt, int64_t max_new_tokens,
                                int32_t eos_id) {
  const int64_t ctx_len = model.config().ctx_len;
  const int64_t vocab = model.config().vocab_size;
  if (prompt.empty()) throw std::invalid_argument("greedy_complete: the prompt must hold at least one token (e.g. <bos>)");
  if (static_cast<int64_t>(prompt.size()) > ctx_len) {
    throw std::invalid_argument("greedy_complete: prompt of " + std::to_string(prompt.size()) +
                                " tokens does not fit the context window of " + std::to_string(ctx_len));
  }
  if (max_new_tokens < 0) {
    throw std::invalid_argument("greedy_complete: max_new_tokens must be >= 0, got " + std::to_string(max_new_tokens));
  }
  const EvalMode eval(model);
  const NoGradGuard no_grad;
  KVCache cache(model.config().ctx_len);
  DecodedSequence out;
  std::vector<int32_t> feed = prompt;
  for (int64_t i = 0; i < max_new_tokens; ++i) {
    const int64_t T = static_cast<int64_t>(feed.size());
    const Var logits = model.forward(feed, 1, T, {}, &cache);
    const std::vector<double> lp = log_probabilities(logits.data() + (T - 1) * vocab, vocab);
    const int32_t next = most_likely(lp);
    out.score += lp[static_cast<size_t>(next)];
    if (next == eos_id) {
      out.finished = true;
      break;
    }
    out.tokens.push_back(next);
    if (cache.length() + 1 > ctx_len) break;  // the next token would not fit the window
    feed.assign(1, next);
  }
  return out;
}

}  // namespace tapelm
