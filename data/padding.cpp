// Truncation and padded batches.
#include <tapelm/data/padding.h>

#include <algorithm>
#include <stdexcept>

namespace tapelm {
namespace {

void check_max_len(const char* who, int64_t max_len) {
  if (max_len < 1) throw std::invalid_argument(std::string(who) + ": max_len must be >= 1, got " + std::to_string(max_len));
}

// Copies the kept tokens of `ids` to `out` (at most max_len of them); returns how many.
int64_t copy_truncated(const std::vector<int32_t>& ids, int64_t max_len, Truncation mode, int32_t* out) {
  const int64_t n = static_cast<int64_t>(ids.size());
  if (n <= max_len) {
    std::copy(ids.begin(), ids.end(), out);
    return n;
  }
  const int64_t head = truncation_head(max_len, mode);
  const int64_t tail = max_len - head;
  std::copy(ids.begin(), ids.begin() + head, out);
  std::copy(ids.end() - tail, ids.end(), out + head);
  return max_len;
}

}  // namespace

int64_t truncation_head(int64_t max_len, Truncation mode) {
  return mode == Truncation::kHead ? max_len : mode == Truncation::kTail ? 0 : max_len / 4;
}

template <>
const EnumNames<Truncation>& enum_names<Truncation>() {
  static const EnumNames<Truncation> names(
      "truncation", {{Truncation::kHead, "head"}, {Truncation::kTail, "tail"}, {Truncation::kHeadTail, "head_tail"}});
  return names;
}

std::vector<int32_t> truncate_ids(const std::vector<int32_t>& ids, int64_t max_len, Truncation mode) {
  check_max_len("truncate_ids", max_len);
  std::vector<int32_t> out(std::min<size_t>(ids.size(), static_cast<size_t>(max_len)));
  copy_truncated(ids, max_len, mode, out.data());
  return out;
}

PaddedBatch pad_batch(const std::vector<std::vector<int32_t>>& sequences, int32_t pad_id, int64_t max_len,
                      Truncation mode) {
  check_max_len("pad_batch", max_len);
  if (sequences.empty()) throw std::invalid_argument("pad_batch: no sequences");
  PaddedBatch batch;
  batch.B = static_cast<int64_t>(sequences.size());
  for (const std::vector<int32_t>& seq : sequences) {
    batch.T = std::max(batch.T, std::min(static_cast<int64_t>(seq.size()), max_len));
  }
  if (batch.T == 0) throw std::invalid_argument("pad_batch: all " + std::to_string(batch.B) + " sequences are empty");
  batch.ids.assign(static_cast<size_t>(batch.B * batch.T), pad_id);
  batch.padding.assign(static_cast<size_t>(batch.B * batch.T), 0);
  batch.lengths.resize(static_cast<size_t>(batch.B));
  for (int64_t b = 0; b < batch.B; ++b) {
    const int64_t len = copy_truncated(sequences[static_cast<size_t>(b)], max_len, mode, batch.ids.data() + b * batch.T);
    std::fill_n(batch.padding.begin() + b * batch.T, len, uint8_t{1});
    batch.lengths[static_cast<size_t>(b)] = len;
  }
  return batch;
}

}  // namespace tapelm
