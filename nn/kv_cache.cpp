// KV cache bookkeeping: growth in place, reordering, the padding mask.
#include <tapelm/nn/kv_cache.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>

#include <tapelm/autograd/errors.h>
#include <tapelm/autograd/shape_ops.h>
#include <tapelm/autograd/tape.h>

namespace tapelm {
namespace {

// The smallest buffer a layer starts with, in positions: a short prompt plus the first
// steps of generation fit without regrowing.
constexpr int64_t kMinCapacity = 64;

// Copies positions [0, count) of each of the `heads` rows of src ([heads, src_cap, D]) into
// dst ([heads, dst_cap, D]) starting at position `at`.
void copy_positions(float* dst, int64_t dst_cap, int64_t at, const float* src, int64_t src_cap, int64_t count,
                    int64_t heads, int64_t D) {
  for (int64_t h = 0; h < heads; ++h) {
    std::memcpy(dst + (h * dst_cap + at) * D, src + h * src_cap * D, sizeof(float) * count * D);
  }
}

// The filled prefix [B, H, length, D] of a cache buffer (the buffer itself when full).
Var filled(const Var& buffer, int64_t length) {
  return buffer.size(2) == length ? buffer : slice(buffer, 2, 0, length);
}

// Stores new positions in the buffer in place, reallocating it at twice its size (at least
// kMinCapacity, at most max_length when bounded, always the needed size) when it is full.
void append_in_place(Var& buffer, int64_t length, const Var& added, int64_t max_length) {
  const int64_t B = added.size(0), H = added.size(1), T = added.size(2), D = added.size(3);
  const int64_t needed = length + T;
  if (!buffer.defined() || buffer.size(2) < needed) {
    int64_t capacity = std::max(kMinCapacity, buffer.defined() ? 2 * buffer.size(2) : int64_t(0));
    if (max_length > 0) capacity = std::min(capacity, max_length);
    capacity = std::max(capacity, needed);
    Tensor grown({B, H, capacity, D});
    if (length > 0) copy_positions(grown.data(), capacity, 0, buffer.data(), buffer.size(2), length, B * H, D);
    buffer = Var(grown);
  }
  copy_positions(buffer.data(), buffer.size(2), length, added.data(), T, T, B * H, D);
}

void check_append(const Var& cached, int64_t length, const Var& added, const char* name) {
  if (added.dim() != 4) {
    throw ShapeError(std::string("LayerKV::append: new ") + name + " must be [B, H, T, D], got " +
                     shape_str(added.shape()));
  }
  if (length > 0 && (cached.size(0) != added.size(0) || cached.size(1) != added.size(1) ||
                     cached.size(3) != added.size(3))) {
    throw ShapeError(std::string("LayerKV::append: new ") + name + " " + shape_str(added.shape()) +
                     " does not match the cached [B, H, capacity, D] = " + shape_str(cached.shape()));
  }
}

// Rows `rows` of x along dim 0, or x itself when undefined.
Var gather_rows(const Var& x, const std::vector<int32_t>& rows) {
  return x.defined() ? index_select(x, 0, rows) : x;
}

// Rows `rows` of a [B, H, capacity, D] buffer of which the first `length` positions are
// filled. Outside a tape only those positions are copied: the rest is room for later
// appends, and at the start of a beam search most of it.
Var gather_filled(const Var& buffer, int64_t length, const std::vector<int32_t>& rows) {
  if (!buffer.defined() || grad_enabled()) return gather_rows(buffer, rows);
  const int64_t H = buffer.size(1), capacity = buffer.size(2), D = buffer.size(3);
  const int64_t row = H * capacity * D;
  Tensor out({static_cast<int64_t>(rows.size()), H, capacity, D});
  for (size_t r = 0; r < rows.size(); ++r) {
    copy_positions(out.data() + static_cast<int64_t>(r) * row, capacity, 0, buffer.data() + rows[r] * row, capacity,
                   length, H, D);
  }
  return Var(out);
}

}  // namespace

void LayerKV::append(const Var& new_k, const Var& new_v) {
  check_append(k, length, new_k, "keys");
  check_append(v, length, new_v, "values");
  if (new_k.shape() != new_v.shape()) {
    throw ShapeError("LayerKV::append: keys " + shape_str(new_k.shape()) + " and values " +
                     shape_str(new_v.shape()) + " differ in shape");
  }
  const int64_t T = new_k.size(2);
  if (grad_enabled()) {
    // Recorded ops, so the tape reaches the earlier steps' keys and values.
    k = length > 0 ? concat({filled(k, length), new_k}, 2) : new_k;
    v = length > 0 ? concat({filled(v, length), new_v}, 2) : new_v;
  } else {
    append_in_place(k, length, new_k, max_length);
    append_in_place(v, length, new_v, max_length);
  }
  length += T;
}

void KVCache::clear() {
  layers_.clear();
  key_padding_.clear();
  length_ = 0;
  batch_ = 0;
}

LayerKV& KVCache::layer(int64_t i) {
  if (i < 0) throw std::invalid_argument("KVCache::layer: negative index " + std::to_string(i));
  if (static_cast<std::size_t>(i) >= layers_.size()) {
    layers_.resize(static_cast<std::size_t>(i) + 1);
    for (LayerKV& layer : layers_) layer.max_length = max_length_;
  }
  return layers_[static_cast<std::size_t>(i)];
}

std::vector<uint8_t> KVCache::extend_padding(const std::vector<uint8_t>& padding, int64_t B, int64_t T) {
  if (length_ > 0 && B != batch_) {
    throw ShapeError("KVCache: batch of " + std::to_string(B) + " rows, but the cache holds " +
                     std::to_string(batch_) + " rows (call clear() to start a new batch)");
  }
  if (!padding.empty() && static_cast<int64_t>(padding.size()) != B * T) {
    throw ShapeError("KVCache: padding mask of " + std::to_string(padding.size()) +
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

void KVCache::reorder(const std::vector<int32_t>& rows, bool same_memory) {
  if (same_memory && static_cast<int64_t>(rows.size()) != batch_) {
    throw ShapeError("KVCache::reorder: " + std::to_string(rows.size()) + " rows cannot keep the " +
                     std::to_string(batch_) + " rows of cross-attention entries");
  }
  for (const int32_t r : rows) {
    if (r < 0 || r >= batch_) {
      throw IndexError("KVCache::reorder: row " + std::to_string(r) + " outside the cached batch of " +
                       std::to_string(batch_) + " rows");
    }
  }
  for (LayerKV& layer : layers_) {
    layer.k = gather_filled(layer.k, layer.length, rows);
    layer.v = gather_filled(layer.v, layer.length, rows);
    if (!same_memory) {
      layer.cross_k = gather_rows(layer.cross_k, rows);
      layer.cross_v = gather_rows(layer.cross_v, rows);
    }
  }
  if (!key_padding_.empty()) {
    std::vector<uint8_t> mask;
    mask.reserve(rows.size() * static_cast<std::size_t>(length_));
    for (const int32_t r : rows) {
      mask.insert(mask.end(), key_padding_.begin() + r * length_, key_padding_.begin() + (r + 1) * length_);
    }
    key_padding_ = std::move(mask);
  }
  batch_ = static_cast<int64_t>(rows.size());
}

}  // namespace tapelm
