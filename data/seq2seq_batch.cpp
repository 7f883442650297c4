// Laying out (source, target) id rows as a teacher-forced encoder-decoder batch.
#include <tapelm/data/seq2seq_batch.h>

#include <algorithm>
#include <stdexcept>
#include <string>

namespace tapelm {

Seq2SeqBatch make_seq2seq_batch(const std::vector<std::vector<int32_t>>& sources,
                                const std::vector<std::vector<int32_t>>& targets, int32_t ignore_index, int32_t pad_id,
                                int32_t bos_id, int32_t eos_id, int32_t unk_id, int64_t max_source_len,
                                int64_t max_target_len) {
  if (sources.empty() || sources.size() != targets.size()) {
    throw std::invalid_argument("make_seq2seq_batch: need as many targets as sources (at least one), got " +
                                std::to_string(sources.size()) + " sources and " + std::to_string(targets.size()) +
                                " targets");
  }
  if (max_source_len < 1 || max_target_len < 1) {
    throw std::invalid_argument("make_seq2seq_batch: max_source_len and max_target_len must be >= 1, got " +
                                std::to_string(max_source_len) + " and " + std::to_string(max_target_len));
  }
  Seq2SeqBatch b;
  b.B = int64_t(sources.size());
  for (size_t r = 0; r < sources.size(); ++r) {
    b.S = std::max(b.S, std::clamp<int64_t>(int64_t(sources[r].size()), 1, max_source_len));
    b.T = std::min(max_target_len, std::max(b.T, int64_t(targets[r].size()) + 1));
  }
  b.src.assign(size_t(b.B * b.S), pad_id);
  b.src_padding.assign(size_t(b.B * b.S), 0);
  b.tgt.assign(size_t(b.B * b.T), pad_id);
  b.tgt_padding.assign(size_t(b.B * b.T), 0);
  b.labels.assign(size_t(b.B * b.T), ignore_index);
  for (int64_t r = 0; r < b.B; ++r) {
    const std::vector<int32_t>& source = sources[size_t(r)];
    const int64_t s_len = std::min<int64_t>(int64_t(source.size()), max_source_len);
    int32_t* src = b.src.data() + r * b.S;
    if (s_len == 0) {
      src[0] = unk_id;
    } else {
      std::copy_n(source.begin(), s_len, src);
    }
    std::fill_n(b.src_padding.begin() + r * b.S, std::max<int64_t>(s_len, 1), uint8_t(1));

    // labels = (target + <eos>)[:len]; decoder input = <bos> + labels[:len - 1].
    const std::vector<int32_t>& target = targets[size_t(r)];
    const int64_t len = std::min<int64_t>(int64_t(target.size()) + 1, max_target_len);
    int32_t* labels = b.labels.data() + r * b.T;
    int32_t* tgt = b.tgt.data() + r * b.T;
    for (int64_t t = 0; t < len; ++t) labels[t] = t < int64_t(target.size()) ? target[size_t(t)] : eos_id;
    tgt[0] = bos_id;
    std::copy_n(labels, len - 1, tgt + 1);
    std::fill_n(b.tgt_padding.begin() + r * b.T, len, uint8_t(1));
  }
  return b;
}

}  // namespace tapelm
