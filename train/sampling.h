// Text generation from a GPT: the next-token sampler (temperature, top-k, nucleus top-p,
// greedy at temperature 0) and the decoding loop over the KV cache. Used by
// `tapelm generate` and by the trainer's samples at each evaluation.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "autograd/rng.h"
#include "data/tokenizer.h"
#include "nn/gpt.h"

namespace tapelm {

struct SamplingOptions {
  int64_t max_new_tokens = 100;
  double temperature = 1.0;  // 0 = greedy: the most likely token (the lowest id on ties)
  int64_t top_k = 0;         // keep the k most likely tokens; 0 = off
  double top_p = 1.0;        // then the smallest set holding this much probability; 1 = off
  uint64_t seed = 0;         // the draws are a pure function of the seed and the logits
};

// Throws std::invalid_argument naming the field: max_new_tokens >= 0, temperature finite and
// >= 0, top_k >= 0, top_p in (0, 1].
void validate(const SamplingOptions& options);

// The distribution the next token is drawn from, over the whole vocabulary: softmax of
// logits / temperature, restricted to the top_k most likely tokens, then to the smallest
// most-likely-first prefix whose mass reaches top_p (computed on the top-k renormalised
// probabilities, as Hugging Face does), renormalised; filtered tokens get 0. Ties in
// probability rank by lower id. Temperature 0 gives the one-hot argmax.
std::vector<double> next_token_distribution(const float* logits, int64_t vocab, const SamplingOptions& options);

// One token from next_token_distribution, using one draw of `rng` (none when greedy).
int32_t sample_next_token(const float* logits, int64_t vocab, const SamplingOptions& options, Rng& rng);

enum class StopReason { kMaxTokens, kEndOfText };

struct Generation {
  std::vector<int32_t> tokens;  // the new tokens (without the <eos> that ended generation)
  StopReason stop = StopReason::kMaxTokens;
};

// Continues `context` (at least one id, e.g. <bos> + prompt) until `eos_id` is drawn or
// max_new_tokens are generated, in eval mode and without recording a tape (the model's
// train/eval mode is restored afterwards). The model sees at most ctx_len tokens: the last
// ctx_len of the context to start with; when the window is full it slides, restarting from
// the last ctx_len / 2 tokens (with the cache, they are re-encoded once per slide rather than
// at every token). `use_cache` = false recomputes the whole window for every token: the
// same tokens, much slower; it exists to check the cache.
Generation generate(GPT& model, const std::vector<int32_t>& context, const SamplingOptions& options, int32_t eos_id,
                    bool use_cache = true);

// <bos> + prompt, generated with the tokenizer's <eos> as the stop token; returns the prompt
// followed by the continuation, decoded together.
std::string generate_text(GPT& model, const Tokenizer& tokenizer, const std::string& prompt,
                          const SamplingOptions& options);

}  // namespace tapelm
