// Tensor: float32, row-major, contiguous, 64-byte-aligned storage from the buffer pool.
// Copies share storage (like torch.Tensor); `clone` makes an independent copy.
// reshape shares storage; transpose/permute are ops that materialise (autograd/ops.h).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace tapelm {

using Shape = std::vector<int64_t>;

std::string shape_str(const Shape& shape);
// The element count; throws ShapeError (autograd/errors.h) naming the shape for a negative dimension
// or a count whose bytes would overflow (so a wrapped product never reaches the allocator).
int64_t shape_numel(const Shape& shape);

class Storage {
 public:
  explicit Storage(int64_t count);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  float* data() { return data_; }
  int64_t count() const { return count_; }

 private:
  float* data_;
  int64_t count_;
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
  const float* data() const { return storage_ ? storage_->data() : nullptr; }
  float item() const;  // the single element of a one-element tensor
  std::vector<float> to_vector() const;

  // Same storage, new shape; one dimension may be -1.
  Tensor reshape(Shape shape) const;
  Tensor clone() const;
  void fill(float value);
  void zero() { fill(0.0f); }
  // Shares storage with `other`.
  bool same_storage(const Tensor& other) const { return storage_ == other.storage_; }

 private:
  std::shared_ptr<Storage> storage_;
  Shape shape_;
  int64_t numel_ = 0;
};

// Normalises a possibly negative axis for a tensor of rank `rank`; throws naming `op`.
int64_t normalize_axis(int64_t axis, int64_t rank, const char* op);

}  // namespace tapelm
