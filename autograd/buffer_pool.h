// A process-wide pool of 64-byte-aligned float buffers, bucketed by size class.
// A training step allocates the same activation and gradient shapes every step, so
// returning buffers here on release lets the next step reuse them instead of calling
// the allocator: resident memory stays flat across steps. Where shapes vary (fine-tuning
// batches padded to their longest example, beams that finish), what the pool holds, live and
// cached, stays within 1.25 times the live peak since the last trim(): a request no cached
// buffer fits first gives back cached buffers of other sizes.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tapelm {

class BufferPool {
 public:
  static BufferPool& instance();

  // Returns an uninitialised buffer of at least `count` floats, 64-byte aligned.
  float* acquire(std::size_t count);
  // Never throws: it runs in Storage's destructor. A buffer that cannot be cached for lack
  // of memory is freed.
  void release(float* data, std::size_t count) noexcept;

  // Frees every cached buffer, returns the freed memory to the system (memory held by live
  // tensors is untouched) and starts a new phase: the cache is bounded by the live peak from
  // here on. Called between phases whose shapes differ (training, evaluation), so one phase
  // neither caches up to the other's peak nor carves up its buffers, which fragments the heap.
  void trim();

  std::size_t cached_bytes() const;
  std::size_t live_bytes() const;
  std::size_t peak_live_bytes() const;  // since the process started

 private:
  BufferPool() = default;
  ~BufferPool();
  struct Impl;
  Impl* impl();
  Impl* impl_ = nullptr;
};

}  // namespace tapelm
