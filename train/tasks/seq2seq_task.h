// task: seq2seq — the encoder-decoder Transformer trained from scratch on source -> target
// pairs, e.g. grapheme-to-phoneme conversion (a word's letters -> its ARPAbet phonemes).
// Source and target have their own tokenizers (`tokenizer`, `target_tokenizer` sections;
// char and word models suit g2p), both kept in the checkpoint. Training is teacher-forced:
// the decoder reads <bos> + target and predicts target + <eos>. Evaluation decodes batches
// of inputs greedily or by beam search (decode.beam_size > 1) and scores the predictions against
// every reference of the same input, so a word with alternate pronunciations counts as
// right when the prediction matches any of them. Metrics: wer (1 - exact match, over
// distinct inputs), per (edit distance to the closest reference / that reference's length,
// over whitespace-separated target units, e.g. phonemes) and the teacher-forced loss.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <tapelm/data/seq2seq_batch.h>
#include <tapelm/train/tasks/finetune_task.h>

namespace tapelm {

// Scores for sequence outputs with possibly several acceptable references per input (the
// alternate pronunciations of a word): a prediction is exact when it equals any reference;
// its edits are the distance to the closest reference (the first on ties), whose length
// is what it is measured against.
struct MultiReferenceScores {
  int64_t inputs = 0;
  int64_t exact = 0;
  int64_t edits = 0;
  int64_t reference_tokens = 0;

  // Throws std::invalid_argument when `references` is empty.
  void add(const std::vector<std::vector<std::string>>& references, const std::vector<std::string>& prediction);
  double sequence_error_rate() const;  // 1 - exact / inputs (the g2p word error rate)
  double token_error_rate() const;     // edits / reference_tokens (the g2p phoneme error rate)
};

// The whitespace-separated units of `text` ("HH AH0 L OW1" -> {"HH", "AH0", "L", "OW1"}).
std::vector<std::string> split_units(const std::string& text);

// Builds the task (see finetune_task.h for what `setup` holds). Throws ConfigError for
// init_from (pretrained encoder-decoders are not supported), for data.max_len above
// model.ctx_len, and for tokenizers without <bos>/<eos>.
std::unique_ptr<FinetuneTask> make_seq2seq_task(const TaskSetup& setup);

// The target tokenizer's file in a seq2seq checkpoint; the source tokenizer is the common
// tokenizer.model (train/checkpoint/training_checkpoint.h), so tools reading a checkpoint's tokenizer
// find the source side.
inline constexpr const char* kTargetTokenizerFile = "target_tokenizer.model";

}  // namespace tapelm
