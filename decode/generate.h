// Decoding a GPT: text generation (the next token drawn per DecodingOptions, the window
// sliding over long outputs), used by `tapelm generate` and by the trainer's samples at each
// evaluation; and greedy completion with scores, used by the completion task. Both run in
// eval mode (the model's mode is restored afterwards) and without recording a tape.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <tapelm/data/tokenizer.h>
#include <tapelm/decode/decoded_sequence.h>
#include <tapelm/decode/token_choice.h>
#include <tapelm/nn/gpt.h>

namespace tapelm {

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
Generation generate(GPT& model, const std::vector<int32_t>& context, const DecodingOptions& options, int32_t eos_id,
                    bool use_cache = true);

// <bos> + prompt, generated with the tokenizer's <eos> as the stop token; returns the prompt
// followed by the continuation, decoded together.
std::string generate_text(GPT& model, const Tokenizer& tokenizer, const std::string& prompt,
                          const DecodingOptions& options);

// Greedy continuation of `prompt` (at least one id, e.g. <bos> + prompt tokens) with a
// KVCache: stops at `eos_id`, after max_new_tokens, or when the context window is full
// (the window does not slide; generate() does that).
DecodedSequence greedy_complete(GPT& model, const std::vector<int32_t>& prompt, int64_t max_new_tokens,
                                int32_t eos_id);

}  // namespace tapelm
