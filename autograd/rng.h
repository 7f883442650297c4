// Counter-based random numbers (SplitMix64 over (seed, counter)): the n-th draw depends
// only on the seed and n, so parallel kernels can draw their own slice deterministically,
// and the whole state is two integers to save in a checkpoint.
#pragma once

#include <cstdint>

namespace tapelm {

class Rng {
 public:
  explicit Rng(uint64_t seed = 0) : seed_(seed) {}

  // A 64-bit hash of (key, value): SplitMix64's finaliser. Chaining it hashes a tuple one
  // coordinate at a time (dropout masks, autograd/dropout.h).
  static uint64_t mix(uint64_t key, uint64_t value) {
    uint64_t z = key * 0x9E3779B97F4A7C15ull + (value + 1) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }

  // The value of draw number `index` of this stream (does not advance).
  uint64_t at(uint64_t index) const { return mix(seed_, index); }
  // Uniform float in [0, 1) from draw `index`: the top 24 bits, exactly representable.
  static float to_unit(uint64_t bits) { return static_cast<float>(bits >> 40) * (1.0f / 16777216.0f); }

  uint64_t next_u64() { return at(counter_++); }
  float uniform() { return to_unit(next_u64()); }
  // Standard normal via Box-Muller (two draws per value; the second is not cached so the
  // state stays two integers).
  float normal();
  // Uniform integer in [0, n).
  uint64_t below(uint64_t n) { return next_u64() % n; }

  // Reserves `count` draws for a parallel kernel; returns the first index.
  uint64_t skip(uint64_t count) {
    const uint64_t first = counter_;
    counter_ += count;
    return first;
  }

  uint64_t seed() const { return seed_; }
  uint64_t counter() const { return counter_; }
  void set_state(uint64_t seed, uint64_t counter) { seed_ = seed; counter_ = counter; }

 private:
  uint64_t seed_;
  uint64_t counter_ = 0;
};

}  // namespace tapelm
