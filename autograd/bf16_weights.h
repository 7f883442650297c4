// Weights rounded to bfloat16 once per change instead of once per product. With
// train.precision: bf16 every product rounds its fp32 operands (autograd/bf16_matmul.h); a
// weight is read by many products between two optimizer steps (the forward x·Wᵀ and the
// input gradient dy·W, and every thread's block of each), so linear (autograd/matmul.h) asks
// here for its weight's bf16 copy, made by the first product after the weight changed and
// passed to oneDNN as it is by every later one. The fp32 master weights stay what the
// optimizer updates. Rounding is deterministic, so the copy holds exactly the bits each
// product would have rounded itself: a bf16 run's losses are the same with and without it
// (tests/models/bf16_training_test.cpp).
//
// Activations get copies the same way, made by the product that first reads them rather
// than on one thread beforehand: linear's forward rounds its input x into x's copy (each
// thread its rows, or one thread all of x when the product splits by columns), which the
// weight gradient dyᵀ·x reads in the backward instead of every thread rounding all of x
// again; the input gradient dy·W rounds dy into dy's copy, which the weight gradient reads
// too. Where x was rounded up to three times per step and dy twice, the weight gradient now
// rounds neither.
//
// Staleness. The copy records the version of the weight's storage (autograd/tensor.h), which
// every mutable access (non-const Tensor::data(), so Var::data() on a non-const Var too)
// bumps, and it is made again whenever the versions differ. Weights change through the
// optimizer's step, checkpoint and safetensors loads, EMA's update and swap, init and
// init_from, the data-parallel broadcast, and tests that write a parameter directly; every one
// of them, and any writer added later, takes its pointer from data(). A generation bumped by
// each writer (or by the optimizer alone) would go stale the day one writer forgets, so the
// version is counted where no writer can avoid it, for the price of one relaxed atomic
// increment per mutable access. What it cannot see is a write through a mutable pointer taken
// before the copy was made, so such a pointer must not be kept across a product that reads the
// tensor (gradcheck_parameters takes its pointer at each write for that reason). The copy
// lives on the storage and dies with it.
//
// Memory: each weight used by a bf16 product of more than kernels::kGemvMaxRows rows keeps a
// copy of 2 bytes per element (half its fp32 size) for as long as it lives, and so does each
// input of a linear whose weight gradient will read it (until the tape drops it); both come
// from the buffer pool.
#pragma once

#include <cstdint>
#include <cstddef>

#include <tapelm/autograd/tensor.h>

namespace tapelm {

// A storage's contents rounded to bfloat16, as they were at version `version` of it.
// Its memory comes from the buffer pool, as the storage's does: activations get a copy every
// step, and fresh allocations of that size cost page faults each time. Uninitialised (no zero
// fill): whoever makes the copy writes all of it.
class Bf16Copy {
 public:
  explicit Bf16Copy(int64_t count);
  ~Bf16Copy();
  Bf16Copy(const Bf16Copy&) = delete;
  Bf16Copy& operator=(const Bf16Copy&) = delete;
  uint16_t* values() const { return reinterpret_cast<uint16_t*>(buffer_); }

  // The storage's version the values hold; kUnfilled until a rounding of it is complete.
  static constexpr uint64_t kUnfilled = ~uint64_t(0);
  uint64_t version = kUnfilled;

 private:
  std::size_t floats_;  // two bf16 values per pooled float
  float* buffer_;
};

// The weight w rounded to bfloat16 (nearest even), in w's own layout, for a product of `rows`
// rows by it: made again if w changed since the last call, else the same copy. nullptr when
// that product does not run in bf16 (fp32 precision, or at most kernels::kGemvMaxRows rows),
// or when copies are off. Good until w's next change; call it for each product.
const uint16_t* bf16_weight(const Tensor& w, int64_t rows);

// Where a bf16 product of `rows` rows that reads activation x as its (untransposed) a
// operand finds x rounded: `current` when x's copy holds x's present contents (read it), else
// when `keep` (a later product will read x), the copy to round x into (Bf16Operands::keep_a),
// else null: no copy is made for nobody to read. Such a copy counts as current only once
// keep_bf16_copy(x, version) records that the product filled it, so a product that returns
// early or throws leaves no half-written copy behind. data is null when that product does not
// run in bf16 or copies are off. Copies are made and read on the thread that runs the tape;
// one activation is not shared between threads' products.
struct Bf16Activation {
  uint16_t* data;
  bool current;
  uint64_t version;  // x's version when asked, for keep_bf16_copy
};
Bf16Activation bf16_activation(const Tensor& x, int64_t rows, bool keep);
void keep_bf16_copy(const Tensor& x, uint64_t version);

// x's copy when it holds x's present contents, else nullptr (the product rounds x itself).
const uint16_t* current_bf16_copy(const Tensor& x);

// On by default. Off: every bf16 product rounds its operands itself, as before the copies (for
// the test that shows both give the same bits, and for benchmarks).
void set_bf16_weight_copies(bool on);

// How many weight copies were made (rounded) so far in this process.
uint64_t bf16_weight_roundings();

}  // namespace tapelm
