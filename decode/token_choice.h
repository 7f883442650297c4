// Choosing the next token from a model's logits: drawn from the distribution that
// temperature, top-k and nucleus top-p make of them (greedy at temperature 0), and the
// log-probabilities and argmax that greedy and beam search score with.
#pragma once

#include <cstdint>
#include <vector>

#include <tapelm/autograd/rng.h>

namespace tapelm {

struct DecodingOptions {
  int64_t max_new_tokens = 100;
  double temperature = 1.0;  // 0 = greedy: the most likely token (the lowest id on ties)
  int64_t top_k = 0;         // keep the k most likely tokens; 0 = off
  double top_p = 1.0;        // then the smallest set holding this much probability; 1 = off
  uint64_t seed = 0;         // the draws are a pure function of the seed and the logits
};

// Throws std::invalid_argument naming the field: max_new_tokens >= 0, temperature finite and
// >= 0, top_k >= 0, top_p in (0, 1].
void validate(const DecodingOptions& options);

// The distribution the next token is drawn from, over the whole vocabulary: softmax of
// logits / temperature, restricted to the top_k most likely tokens, then to the smallest
// most-likely-first prefix whose mass reaches top_p (computed on the top-k renormalised
// probabilities, as Hugging Face does), renormalised; filtered tokens get 0. Ties in
// probability rank by lower id. Temperature 0 gives the one-hot argmax.
std::vector<double> next_token_distribution(const float* logits, int64_t vocab, const DecodingOptions& options);

// One token drawn from next_token_distribution, using one draw of `rng` (none when greedy).
int32_t choose_token(const float* logits, int64_t vocab, const DecodingOptions& options, Rng& rng);

// log softmax of `vocab` logits, in double so that sums over long sequences compare reliably.
std::vector<double> log_probabilities(const float* logits, int64_t vocab);

// The index of the largest value, the lowest on ties.
int32_t most_likely(const std::vector<double>& values);

}  // namespace tapelm
