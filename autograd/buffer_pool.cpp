// Size-bucketed free lists behind a mutex; see buffer_pool.h for why.
#include <tapelm/autograd/buffer_pool.h>

#include <cstdlib>
#include <iterator>
#include <limits>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

#ifdef __GLIBC__
#include <malloc.h>
#endif

namespace tapelm {

namespace {
constexpr std::size_t kAlignment = 64;

// Size classes: multiples of 64 bytes up to 4 KiB, then 8 classes per doubling (a buffer is at
// most 12.5% larger than asked for). Fine-tuning pads each batch to its longest example, so its
// activation sizes change from step to step; with classes a buffer freed by one step serves a
// slightly different size in the next.
std::size_t rounded_bytes(std::size_t count) {
  const std::size_t bytes = (count * sizeof(float) + kAlignment - 1) / kAlignment * kAlignment;
  if (bytes <= 4096) return bytes;
  const int octave = 63 - __builtin_clzll(static_cast<unsigned long long>(bytes));
  const std::size_t step = std::size_t(1) << (octave - 3);
  return (bytes + step - 1) / step * step;
}
}  // namespace

struct BufferPool::Impl {
  std::mutex mutex;
  std::unordered_map<std::size_t, std::vector<float*>> free_lists;  // key: rounded bytes
  std::size_t cached = 0;
  std::size_t live = 0;
  std::size_t peak = 0;
  std::size_t phase_peak = 0;  // the live peak since the last trim(), which bounds the cache

  // Frees cached buffers until live + cached <= limit, so that what the pool holds stays
  // near the live peak when shapes vary: a miss allocates only after giving back buffers of
  // sizes not wanted now. The caller holds the mutex.
  void evict_beyond(std::size_t limit) {
    for (auto it = free_lists.begin(); it != free_lists.end() && live + cached > limit;) {
      std::vector<float*>& list = it->second;
      while (!list.empty() && live + cached > limit) {
        std::free(list.back());
        list.pop_back();
        cached -= it->first;
      }
      it = list.empty() ? free_lists.erase(it) : std::next(it);
    }
  }
};

BufferPool& BufferPool::instance() {
  // Leaked on purpose: tensors with static storage duration may release into the pool
  // during program exit, after a function-local static would have been destroyed.
  static BufferPool* pool = new BufferPool();
  return *pool;
}

BufferPool::~BufferPool() { trim(); delete impl_; }

BufferPool::Impl* BufferPool::impl() {
  if (!impl_) impl_ = new Impl();
  return impl_;
}

float* BufferPool::acquire(std::size_t count) {
  if (count > (std::numeric_limits<std::size_t>::max() - kAlignment) / sizeof(float)) throw std::bad_alloc();
  const std::size_t bytes = rounded_bytes(count == 0 ? 1 : count);
  Impl* p = impl();
  {
    std::lock_guard<std::mutex> lock(p->mutex);
    p->live += bytes;
    if (p->live > p->peak) p->peak = p->live;
    if (p->live > p->phase_peak) p->phase_peak = p->live;
    auto it = p->free_lists.find(bytes);
    if (it != p->free_lists.end() && !it->second.empty()) {
      float* data = it->second.back();
      it->second.pop_back();
      p->cached -= bytes;
      return data;
    }
    p->evict_beyond(p->phase_peak + p->phase_peak / 4);  // see buffer_pool.h
  }
  void* data = std::aligned_alloc(kAlignment, bytes);
  if (!data) {
    std::lock_guard<std::mutex> lock(p->mutex);
    p->live -= bytes;
    throw std::bad_alloc();
  }
  return static_cast<float*>(data);
}

void BufferPool::release(float* data, std::size_t count) noexcept {
  if (!data) return;
  const std::size_t bytes = rounded_bytes(count == 0 ? 1 : count);
  Impl* p = impl_;  // acquire() created it
  std::lock_guard<std::mutex> lock(p->mutex);
  p->live -= bytes;
  try {
    p->free_lists[bytes].push_back(data);
    p->cached += bytes;
  } catch (const std::bad_alloc&) {
    // Caching needs memory that is not there (this runs in destructors, often while a
    // bad_alloc unwinds): give the buffer back instead.
    std::free(data);
  }
}

void BufferPool::trim() {
  Impl* p = impl();
  std::lock_guard<std::mutex> lock(p->mutex);
  for (auto& [bytes, list] : p->free_lists) {
    for (float* data : list) std::free(data);
  }
  p->free_lists.clear();
  p->cached = 0;
  p->phase_peak = p->live;
#ifdef __GLIBC__
  // glibc keeps freed blocks resident when live ones surround them; give their pages back.
  malloc_trim(0);
#endif
}

std::size_t BufferPool::cached_bytes() const { return impl_ ? impl_->cached : 0; }
std::size_t BufferPool::live_bytes() const { return impl_ ? impl_->live : 0; }
std::size_t BufferPool::peak_live_bytes() const { return impl_ ? impl_->peak : 0; }

}  // namespace tapelm
