// Fitting variable-length token sequences into a batch: truncation of long sequences (keep
// the head, the tail, or both ends as in Sun et al. 2019, "How to Fine-Tune BERT for Text
// Classification") and right-padding with a mask (1 = real token), the layout the models
// take as `padding`.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <tapelm/data/enum_names.h>

namespace tapelm {

enum class Truncation {
  kHead,      // keep the first max_len tokens
  kTail,      // keep the last max_len tokens
  kHeadTail,  // keep the first max_len/4 and the last max_len - max_len/4
};

// head | tail | head_tail.
template <>
const EnumNames<Truncation>& enum_names<Truncation>();

// How many of the max_len tokens a cut keeps from the head (the rest come from the tail).
int64_t truncation_head(int64_t max_len, Truncation mode);

// `ids` cut to at most max_len tokens (max_len >= 1, else std::invalid_argument).
std::vector<int32_t> truncate_ids(const std::vector<int32_t>& ids, int64_t max_len, Truncation mode);

struct PaddedBatch {
  std::vector<int32_t> ids;      // [B·T], row-major; pad_id after each row's tokens
  std::vector<uint8_t> padding;  // [B·T], 1 = real token, 0 = padding
  std::vector<int64_t> lengths;  // real tokens per row
  int64_t B = 0;
  int64_t T = 0;  // the longest row after truncation
};

// Truncates each sequence to max_len and right-pads to the longest. Throws
// std::invalid_argument for no sequences, max_len < 1, or only empty sequences.
PaddedBatch pad_batch(const std::vector<std::vector<int32_t>>& sequences, int32_t pad_id, int64_t max_len,
                      Truncation mode = Truncation::kHead);

}  // namespace tapelm
