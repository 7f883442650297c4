// KV cache bookkeeping.
#include "nn/kv_cache.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace tapelm {

void KVCache::clear() {
  layers_.clear();
  key_padding_.clear();
  length_ = 0;
  batch_ = 0;
}

LayerKV& KVCache::layer(int64_t i) {
  if (i < 0) throw std::invalid_argument("KVCache::layer: negative index " + std::to_string(i));
  if (static_cast<std::size_t>(i) >= layers_.size()) layers_.resize(static_cast<std::size_t>(i) + 1);
  return layers_[static_cast<std::size_t>(i)];
}

std::vector<uint8_t> KVCache::extend_padding(const std::vector<uint8_t>& padding, int64_t B, int64_t T) {
  if (length_ > 0 && B != batch_) {
    throw std::invalid_argument("KVCache: batch of " + std::to_string(B) + " rows, but the cache holds " +
                                std::to_string(batch_) + " rows (call clear() to start a new batch)");
  }
  if (!padding.empty() && static_cast<int64_t>(padding.size()) != B * T) {
    throw std::invalid_argument("KVCache: padding mask of " + std::to_string(padding.size()) +
                                " entries for B·T = " + std::to_string(B * T));
  }
  batch_ = B;
  if (padding.empty() && key_padding_.empty()) return {};
  const int64_t past = length_;
  const int64_t total = past + T;
  std::vector<uint8_t> mask(static_cast<std::size_t>(B * total), 1);
  for (int64_t b = 0; b < B; ++b) {
    uint8_t* row = mask.data() + b * total;
    if (!key_padding_.empty()) std::copy_n(key_padding_.begin() + b * past, past, row);
    if (!padding.empty()) std::copy_n(padding.begin() + b * T, T, row + past);
  }
  key_padding_ = mask;
  return mask;
}

}  // namespace tapelm
