// BufferPool::release runs in Storage's destructor, often while a std::bad_alloc unwinds:
// it must neither throw nor need memory. This binary replaces the global operator new so a
// test can make every allocation fail for a moment.
#include <gtest/gtest.h>

#include <cstdlib>
#include <new>

#include <tapelm/autograd/buffer_pool.h>

namespace {
bool g_fail_allocations = false;
}  // namespace

void* operator new(std::size_t size) {
  if (g_fail_allocations) throw std::bad_alloc();
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace tapelm {
namespace {

TEST(BufferPool, ReleaseWhenCachingCannotAllocateFreesTheBufferInsteadOfThrowing) {
  BufferPool& pool = BufferPool::instance();
  const std::size_t count = 12391;  // a size no other test uses: caching it needs a new free list
  float* data = pool.acquire(count);
  const std::size_t cached = pool.cached_bytes(), live = pool.live_bytes();
  g_fail_allocations = true;
  pool.release(data, count);  // noexcept: were caching to throw, the test binary would terminate
  g_fail_allocations = false;
  EXPECT_EQ(pool.cached_bytes(), cached);
  EXPECT_LT(pool.live_bytes(), live);
}

}  // namespace
}  // namespace tapelm
