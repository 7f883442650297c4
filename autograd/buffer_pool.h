// A process-wide pool of 64-byte-aligned float buffers, bucketed by exact size.
// A training step allocates the same activation and gradient shapes every step, so
// returning buffers here on release lets the next step reuse them instead of calling
// the allocator: resident memory stays flat across steps.
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
  // trim() when the cache holds more than twice the peak live bytes. A loop whose shapes
  // repeat never gets there; one whose shapes vary from step to step (fine-tuning batches
  // padded to their longest example) would otherwise keep a buffer of every size it ever
  // saw. Returns whether it trimmed.
  bool trim_if_oversized();

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
