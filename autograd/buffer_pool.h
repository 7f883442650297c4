// A process-wide pool of 64-byte-aligned float buffers, bucketed by size class.
// A training step allocates the same activation and gradient shapes every step, so
// returning buffers here on release lets the next step reuse them instead of calling
// the allocator: resident memory stays flat across steps. Where shapes vary (fine-tuning
// batches padded to their longest example, beams that finish), what the pool holds, live and
// cached, stays within 1.25 times the live peak: a request no cached buffer fits first gives
// back cached buffers of other sizes.
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

  // Frees every cached buffer (memory held by live tensors is untouched).
  void trim();

  std::size_t cached_bytes() const;
  std::size_t live_bytes() const;
  std::size_t peak_live_bytes() const;

 private:
  BufferPool() = default;
  ~BufferPool();
  struct Impl;
  Impl* impl();
  Impl* impl_ = nullptr;
};

}  // namespace tapelm
