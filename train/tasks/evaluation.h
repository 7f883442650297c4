// Held-out loss of a GPT: mean next-token cross-entropy (and perplexity) over validation
// batches during training, or over a whole token stream for `tapelm eval`. Always in eval
// mode (no dropout) and without a tape.
#pragma once

#include <cstdint>
#include <functional>

#include <tapelm/data/sampler.h>
#include <tapelm/nn/gpt.h>

namespace tapelm {

struct LossTotal {
  double sum = 0.0;    // summed per-token cross-entropy (nats)
  int64_t tokens = 0;  // predicted tokens

  double mean() const;        // sum / tokens (NaN when there are none)
  double perplexity() const;  // exp(mean())
};

// The sampler's windows with the given indices (each < num_windows()), `batch` windows per
// forward pass. Ranks evaluate their shares of the validation windows this way and sum the
// totals.
LossTotal evaluate_windows(GPT& model, SequentialSampler& sampler, const std::vector<uint64_t>& windows,
                           int64_t batch);

// Reads tokens [start, start + count) of a stream into `out`.
using TokenReader = std::function<void(uint64_t start, size_t count, int32_t* out)>;

// Every token of a stream of `total` tokens except the first is predicted exactly once:
// non-overlapping windows of ctx_len predictions (each seeing only its own window), `batch`
// windows per forward pass, and a shorter last window for the remainder. Needs total >= 2.
LossTotal evaluate_stream(GPT& model, uint64_t total, const TokenReader& read, int64_t batch);

}  // namespace tapelm
