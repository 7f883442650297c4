// Checks on model inputs (token ids, padding masks, positions) whose messages name the
// model, and for a bad id its value and (batch, position).
#pragma once

#include <cstdint>
#include <vector>

namespace tapelm {

// ids: B·T values, each in [0, vocab_size).
void check_token_ids(const char* who, const std::vector<int32_t>& ids, int64_t B, int64_t T, int64_t vocab_size);
// mask: empty, or B·T values each 0 (padding) or 1 (real token).
void check_padding_mask(const char* who, const std::vector<uint8_t>& mask, int64_t B, int64_t T);
// Positions start .. start+T-1 must fit in ctx_len.
void check_positions(const char* who, int64_t start, int64_t T, int64_t ctx_len);

}  // namespace tapelm
