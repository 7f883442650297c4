// Pieces shared by the tasks built on the decoder-only backbone (classification,
// completion): their single tokenizer (`tokenizer.model` in a checkpoint), encoding an input
// within a token budget, and reading a row of logits.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <tapelm/data/padding.h>
#include <tapelm/data/tokenizer.h>
#include <tapelm/train/tasks/finetune_task.h>

namespace tapelm {

// The tokenizer of a task with one: restored from setup.restore_from, the init_from
// checkpoint's, or trained from scratch on `training_texts()` with the config's tokenizer
// section. Logs which.
Tokenizer task_tokenizer(const TaskSetup& setup, const std::function<std::vector<std::string>()>& training_texts);

// The checkpoint file holding it.
CheckpointFile tokenizer_checkpoint_file(const Tokenizer& tokenizer);

// The ids of `text` cut to `max_tokens` by `mode`. Only a window of the text that surely
// holds the kept tokens is encoded (a piece spans at most 64 bytes), so a huge input costs
// no more than a long one.
std::vector<int32_t> encode_truncated(const Tokenizer& tokenizer, std::string_view text, int64_t max_tokens,
                                      Truncation mode);

// A document read in windows of `window_tokens` tokens: its tokens cut into consecutive
// windows, the last one possibly shorter. A document of more than `max_windows` windows keeps
// max_windows of them, chosen by `mode`: head the first ones; tail the last ones, counted from
// the document's end so that each is full; head_tail a quarter of them (at least one) from the
// head and the rest from the tail. With max_windows 1 the one window is encode_truncated's (a
// head_tail window holds both ends). A text of no tokens gives one empty window.
std::vector<std::vector<int32_t>> encode_windows(const Tokenizer& tokenizer, std::string_view text,
                                                 int64_t window_tokens, int64_t max_windows, Truncation mode);

// A pad id for batches (masked out anyway): the tokenizer's <pad>, else 0.
int32_t batch_pad_id(const Tokenizer& tokenizer);

// The examples' inputs (and targets when `with_targets`) at `indices`.
std::vector<std::string> example_texts(const std::vector<LabeledExample>& examples, const std::vector<size_t>& indices,
                                       bool with_targets);

// The index of the largest value (the first on ties).
int32_t argmax(const float* values, int64_t n);

// The tokenizer a `section` of a task's config asks for: its `model` file when given, else one
// trained on `texts` (the training split's inputs or targets, one each) with scratch files in
// `scratch_dir`. Throws ConfigError naming `section_name` when SentencePiece cannot train
// (e.g. vocab_size too large for so little text).
Tokenizer train_tokenizer_on_texts(const std::vector<std::string>& texts, const TokenizerSection& section,
                                   uint32_t seed, const std::filesystem::path& scratch_dir,
                                   const std::string& section_name = "tokenizer");

// Targets a loss counts: those other than kIgnoreIndex (padding).
int64_t counted_targets(const std::vector<int32_t>& targets);

}  // namespace tapelm
