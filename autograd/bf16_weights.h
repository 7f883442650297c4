// Weights rounded to bfloat16 once per change instead of once per product. With
// train.precision: bf16 every product rounds its fp32 operands (autograd/bf16_matmul.h); a
// weight is read by many products between two optimizer steps (the forward x·Wᵀ and the
// input gradient dy·W, and every thread's block of each), so linear (autograd/matmul.h) asks
// here for its weight's bf16 copy, made by the first product after the weight changed and
// passed to oneDNN as it is by every later one. Activations are still rounded per call, and
// the fp32 master weights stay what the optimizer updates. Rounding is deterministic, so the
// copy holds exactly the bits each product would have rounded itself: a bf16 run's losses are
// the same with and without it (tests/models/bf16_training_test.cpp).
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
// copy of 2 bytes per element (half its fp32 size) for as long as it lives, outside the buffer
// pool.
#pragma once

#include <cstdint>
#include <vector>

#include <tapelm/autograd/tensor.h>

namespace tapelm {

// A storage's contents rounded to bfloat16, as they were at version `version` of it.
struct Bf16Copy {
  uint64_t version = 0;
  std::vector<uint16_t> values;
};

// The weight w rounded to bfloat16 (nearest even), in w's own layout, for a product of `rows`
// rows by it: made again if w changed since the last call, else the same copy. nullptr when
// that product does not run in bf16 (fp32 precision, or at most kernels::kGemvMaxRows rows),
// or when copies are off. Good until w's next change; call it for each product.
const uint16_t* bf16_weight(const Tensor& w, int64_t rows);

// On by default. Off: every bf16 product rounds its weight itself, as before the copies (for
// the test that shows both give the same bits, and for benchmarks).
void set_bf16_weight_copies(bool on);

// How many weight copies were made (rounded) so far in this process.
uint64_t bf16_weight_roundings();

}  // namespace tapelm
