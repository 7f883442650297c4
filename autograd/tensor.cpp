// Tensor storage, construction and reshape.
#include <tapelm/autograd/tensor.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <sstream>
#include <stdexcept>

#include <tapelm/autograd/bf16_weights.h>
#include <tapelm/autograd/buffer_pool.h>
#include <tapelm/autograd/errors.h>

namespace tapelm {
namespace {
// The most floats whose byte count (rounded up to the pool's alignment) fits in size_t.
constexpr int64_t kMaxNumel = std::numeric_limits<int64_t>::max() / int64_t(sizeof(float)) / 2;
}  // namespace

std::string shape_str(const Shape& shape) {
  std::ostringstream out;
  out << '[';
  for (std::size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
  out << ']';
  return out.str();
}

int64_t shape_numel(const Shape& shape) {
  bool empty = false;
  for (int64_t d : shape) {
    if (d < 0) throw ShapeError("negative dimension in shape " + shape_str(shape));
    empty = empty || d == 0;
  }
  if (empty) return 0;
  int64_t n = 1;
  for (int64_t d : shape) {
    // The byte count of the storage must fit too, so the limit is on numel × sizeof(float).
    if (__builtin_mul_overflow(n, d, &n) || n > kMaxNumel) {
      throw ShapeError("shape " + shape_str(shape) + " has more elements than memory can address");
    }
  }
  return n;
}

int64_t normalize_axis(int64_t axis, int64_t rank, const char* op) {
  const int64_t a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) {
    throw IndexError(std::string(op) + ": axis " + std::to_string(axis) +
                     " out of range for a tensor of rank " + std::to_string(rank));
  }
  return a;
}

Storage::Storage(int64_t count)
    : data_(BufferPool::instance().acquire(static_cast<std::size_t>(count))), count_(count) {}

Storage::~Storage() { BufferPool::instance().release(data_, static_cast<std::size_t>(count_)); }

Tensor::Tensor(Shape shape) : shape_(std::move(shape)), numel_(shape_numel(shape_)) {
  storage_ = std::make_shared<Storage>(numel_);
}

Tensor Tensor::zeros(Shape shape) { return full(std::move(shape), 0.0f); }

Tensor Tensor::full(Shape shape, float value) {
  Tensor t(std::move(shape));
  t.fill(value);
  return t;
}

Tensor Tensor::from_vector(Shape shape, const std::vector<float>& values) {
  Tensor t(std::move(shape));
  if (static_cast<int64_t>(values.size()) != t.numel()) {
    throw ShapeError("Tensor::from_vector: " + std::to_string(values.size()) +
                     " values for shape " + shape_str(t.shape()));
  }
  std::copy(values.begin(), values.end(), t.data());
  return t;
}

int64_t Tensor::size(int64_t d) const { return shape_[normalize_axis(d, dim(), "Tensor::size")]; }

float Tensor::item() const {
  if (numel_ != 1) {
    throw ShapeError("Tensor::item: tensor of shape " + shape_str(shape_) +
                     " has " + std::to_string(numel_) + " elements, expected 1");
  }
  return data()[0];
}

std::vector<float> Tensor::to_vector() const { return std::vector<float>(data(), data() + numel_); }

Tensor Tensor::reshape(Shape shape) const {
  int64_t known = 1;
  int inferred = -1;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      if (inferred >= 0) throw ShapeError("reshape: more than one -1 in " + shape_str(shape));
      inferred = static_cast<int>(i);
    } else {
      if (shape[i] < 0) throw ShapeError("reshape: negative dimension in " + shape_str(shape));
      if (__builtin_mul_overflow(known, shape[i], &known)) {
        throw ShapeError("reshape: cannot reshape " + shape_str(shape_) + " to " + shape_str(shape));
      }
    }
  }
  if (inferred >= 0) {
    if (known == 0 || numel_ % known != 0) {
      throw ShapeError("reshape: cannot reshape " + shape_str(shape_) + " to " + shape_str(shape));
    }
    shape[inferred] = numel_ / known;
    known *= shape[inferred];
  }
  if (known != numel_) {
    throw ShapeError("reshape: cannot reshape " + shape_str(shape_) + " (" +
                     std::to_string(numel_) + " elements) to " + shape_str(shape));
  }
  Tensor t = *this;
  t.shape_ = std::move(shape);
  return t;
}

Tensor Tensor::clone() const {
  if (!defined()) return Tensor();
  Tensor t(shape_);
  std::memcpy(t.data(), data(), sizeof(float) * static_cast<std::size_t>(numel_));
  return t;
}

void Tensor::fill(float value) {
  float* p = data();
  std::fill(p, p + numel_, value);
}

}  // namespace tapelm
