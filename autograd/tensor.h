// Tensor: float32, row-major, contiguous, 64-byte-aligned storage from the buffer pool.
// Copies share storage (like torch.Tensor); `clone` makes an independent copy.
// reshape shares storage; transpose/permute are ops that materialise (autograd/ops.h).
// A storage counts the mutable accesses to it (its version), so that a copy derived from its
// contents (the bf16 rounding of a weight, autograd/bf16_weights.h) knows when it is stale.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace tapelm {

using Shape = std::vector<int64_t>;

std::string shape_str(const Shape& shape);
// The element count; throws ShapeError (autograd/errors.h) naming the shape for a negative dimension
// or a count whose bytes would overflow (so a wrapped product never reaches the allocator).
int64_t shape_numel(const Shape& shape);

struct Bf16Copy;  // autograd/bf16_weights.h

class Storage {
 public:
  explicit Storage(int64_t count);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  // Every mutable access counts as a write, whether or not the caller then writes: a pointer
  // handed out here may change the contents at any time until the next reader looks, which
  // is why one must not be kept across a product that reads this storage (see
  // autograd/bf16_weights.h).
  float* data() {
    version_.fetch_add(1, std::memory_order_relaxed);
    return data_;
  }
  const float* data() const { return data_; }
  int64_t count() const { return count_; }
  // How many mutable accesses there were so far.
  uint64_t version() const { return version_.load(std::memory_order_relaxed); }
  // The bf16 rounding of the contents, made by autograd/bf16_weights.h on first use; kept
  // here so that it dies with the storage (a new storage at the same address starts empty).
  std::unique_ptr<Bf16Copy>& bf16_copy() const { return bf16_copy_; }

 private:
  float* data_;
  int64_t count_;
  std::atomic<uint64_t> version_{0};
  mutable std::unique_ptr<Bf16Copy> bf16_copy_;
};

class Tensor {
 public:
  Tensor() = default;  // undefined: no storage
  explicit Tensor(Shape shape);  // uninitialised contents

  static Tensor empty(Shape shape) { return Tensor(std::move(shape)); }
  static Tensor zeros(Shape shape);
  static Tensor full(Shape shape, float value);
  static Tensor from_vector(Shape shape, const std::vector<float>& values);
  static Tensor scalar(float value) { return full({}, value); }

  bool defined() const { return storage_ != nullptr; }
  const Shape& shape() const { return shape_; }
  int64_t dim() const { return static_cast<int64_t>(shape_.size()); }
  // Size of dimension d; negative d counts from the end.
  int64_t size(int64_t d) const;
  int64_t numel() const { return numel_; }

  float* data() { return storage_ ? storage_->data() : nullptr; }
  // Through a const Storage: a read must not count as a write (shared_ptr keeps no constness).
  const float* data() const { return storage_ ? std::as_const(*storage_).data() : nullptr; }
  float item() const;  // the single element of a one-element tensor
  std::vector<float> to_vector() const;

  // Same storage, new shape; one dimension may be -1.
  Tensor reshape(Shape shape) const;
  Tensor clone() const;
  void fill(float value);
  void zero() { fill(0.0f); }
  // Shares storage with `other`.
  bool same_storage(const Tensor& other) const { return storage_ == other.storage_; }
  // Read-only: its data() is const, so reaching the storage through here writes nothing.
  const Storage* storage() const { return storage_.get(); }

 private:
  std::shared_ptr<Storage> storage_;
  Shape shape_;
  int64_t numel_ = 0;
};

// Normalises a possibly negative axis for a tensor of rank `rank`; throws naming `op`.
int64_t normalize_axis(int64_t axis, int64_t rank, const char* op);

}  // namespace tapelm
