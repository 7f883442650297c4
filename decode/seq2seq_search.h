// Decoding the encoder-decoder: greedy and beam search (source ids -> target ids, from <bos>
// until <eos> or max_len). Scores are sums of natural-log probabilities of the emitted
// tokens, the <eos> included when it was emitted. Every function runs in eval mode
// (restoring the model's mode afterwards) and without recording a tape.
//
// Steps run through a KVCache by default: each step feeds only the newest
// token of every row (beam search reorders the cache to the surviving hypotheses), and the
// encoder output's cross-attention keys and values are projected once. kv_cache = false
// re-runs the decoder over the whole prefix each step (O(max_len²) decoder positions); both
// choose the same tokens, the logits agreeing to float rounding.
#pragma once

#include <cstdint>
#include <vector>

#include <tapelm/decode/decoded_sequence.h>
#include <tapelm/nn/encoder_decoder.h>

namespace tapelm {

struct Seq2SeqDecodeOptions {
  int32_t bos_id = 1;
  int32_t eos_id = 2;
  int64_t max_len = 64;  // most tokens to emit, <eos> included; at most the model's ctx_len
  bool kv_cache = true;  // false: recompute the whole prefix every step
};

// Greedy decoding of B sources at once: src is B·S ids with src_padding [B·S] (1 = real) or
// empty. At each step every unfinished row takes its most likely token (the lowest id on
// ties). Returns one sequence per row.
std::vector<DecodedSequence> greedy_decode(EncoderDecoder& model, const std::vector<int32_t>& src, int64_t B, int64_t S,
                                           const std::vector<uint8_t>& src_padding,
                                           const Seq2SeqDecodeOptions& options);

struct BeamSearchOptions : Seq2SeqDecodeOptions {
  int64_t beam_size = 4;
  // GNMT length normalisation for the final choice: score / ((5 + length) / 6)^length_penalty,
  // length counting the <eos>. 0 = plain sum of log-probabilities.
  double length_penalty = 0.0;
};

struct BeamResult {
  DecodedSequence best;
  double normalized_score = 0;  // the score `best` won with (= best.score when length_penalty is 0)
};

// Beam search for one source (S ids, src_padding [S] or empty). Each step extends every live
// hypothesis by every token and keeps the beam_size highest sums of log-probabilities
// (ties: earlier hypothesis, then lower token id); a kept candidate ending in <eos> leaves
// the beam as finished. Stops when the beam is empty or max_len tokens were emitted; the
// answer is the best finished or still-live hypothesis by normalised score. beam_size 1 is
// greedy decoding; a beam as wide as all sequences up to max_len is exhaustive search.
BeamResult beam_search(EncoderDecoder& model, const std::vector<int32_t>& src, int64_t S,
                       const std::vector<uint8_t>& src_padding, const BeamSearchOptions& options);

// Beam search for B ≥ 1 sources at once (src B·S ids, src_padding [B·S] or empty): one result
// per source, in order, each from its own beam searched as above; every step runs one decoder
// pass over all live hypotheses. Scores agree with one source at a time to float rounding
// (the batch changes the products' shapes), so a near-tie may resolve differently.
std::vector<BeamResult> beam_search(EncoderDecoder& model, const std::vector<int32_t>& src, int64_t B, int64_t S,
                                    const std::vector<uint8_t>& src_padding, const BeamSearchOptions& options);

}  // namespace tapelm
