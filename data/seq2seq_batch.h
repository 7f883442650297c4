// The layout of one teacher-forced encoder-decoder batch: source and target id rows,
// right-padded with masks, the decoder's input shifted by <bos>, and the labels it predicts.
#pragma once

#include <cstdint>
#include <vector>

namespace tapelm {

// One teacher-forced batch, rows right-padded (padding: 1 = real token).
struct Seq2SeqBatch {
  int64_t B = 0, S = 0, T = 0;
  std::vector<int32_t> src;          // [B·S] source ids, pad_id after each row
  std::vector<uint8_t> src_padding;  // [B·S]
  std::vector<int32_t> tgt;          // [B·T] decoder input: <bos> target..., pad_id after
  std::vector<uint8_t> tgt_padding;  // [B·T]
  std::vector<int32_t> labels;       // [B·T] target... <eos>, ignore_index at padding
};

// Lays out (source, target) id rows. Sources longer than max_source_len keep their head;
// target + <eos> longer than max_target_len keeps its first max_target_len tokens (so the
// decoder input, <bos> + all but the last of them, is as long). An empty source becomes
// [unk_id] so no row is all padding. Throws std::invalid_argument for no rows, rows of
// different counts, or lengths below 1. `ignore_index` marks the labels the loss skips
// (autograd/loss.h kIgnoreIndex).
Seq2SeqBatch make_seq2seq_batch(const std::vector<std::vector<int32_t>>& sources,
                                const std::vector<std::vector<int32_t>>& targets, int32_t ignore_index, int32_t pad_id,
                                int32_t bos_id, int32_t eos_id, int32_t unk_id, int64_t max_source_len,
                                int64_t max_target_len);

}  // namespace tapelm
