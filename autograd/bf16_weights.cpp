// The bf16 copies of weights, checked against their storage's version at every product.
#include <tapelm/autograd/bf16_weights.h>

#include <atomic>
#include <memory>
#include <mutex>

#include <tapelm/autograd/bf16_matmul.h>
#include <tapelm/autograd/buffer_pool.h>
#include <tapelm/autograd/gemm_backend.h>
#include <tapelm/autograd/kernels/gemm.h>

namespace tapelm {
namespace {

std::atomic<bool> g_copies_on{true};
std::atomic<uint64_t> g_roundings{0};
// Products may run on several threads at once (one sequence each); a weight's copy is made by
// one of them, under this lock.
std::mutex g_fill;

bool copies_used(const Tensor& t, int64_t rows) {
  return t.defined() && rows > kernels::kGemvMaxRows && gemm_precision() == GemmPrecision::Bf16 &&
         g_copies_on.load(std::memory_order_relaxed);
}

}  // namespace

Bf16Copy::Bf16Copy(int64_t count)
    : floats_((static_cast<std::size_t>(count) + 1) / 2), buffer_(BufferPool::instance().acquire(floats_)) {}

Bf16Copy::~Bf16Copy() { BufferPool::instance().release(buffer_, floats_); }

const uint16_t* bf16_weight(const Tensor& w, int64_t rows) {
  if (!copies_used(w, rows)) return nullptr;
  const Storage& storage = *w.storage();
  const std::lock_guard<std::mutex> lock(g_fill);
  std::unique_ptr<Bf16Copy>& copy = storage.bf16_copy();
  // Read before the contents: a change after this point leaves the copy's version behind.
  const uint64_t version = storage.version();
  if (!copy || copy->version != version) {
    const int64_t n = storage.count();
    if (!copy) copy = std::make_unique<Bf16Copy>(n);
    uint16_t* dst = copy->values();
    const float* src = storage.data();
    // On this thread, without a fork/join of its own per weight and step: still less work
    // than before the copies, when every thread of a row-split product rounded all of the
    // weight, in the forward and again in the input gradient.
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) dst[i] = kernels::detail::to_bf16(src[i]);
    copy->version = version;
    g_roundings.fetch_add(1, std::memory_order_relaxed);
  }
  return copy->values();
}

Bf16Activation bf16_activation(const Tensor& x, int64_t rows, bool keep) {
  if (!copies_used(x, rows)) return {nullptr, false, 0};
  const Storage& storage = *x.storage();
  const std::lock_guard<std::mutex> lock(g_fill);
  std::unique_ptr<Bf16Copy>& copy = storage.bf16_copy();
  const uint64_t version = storage.version();
  if (copy && copy->version == version) return {copy->values(), true, version};
  if (!keep) return {nullptr, false, 0};
  if (!copy) copy = std::make_unique<Bf16Copy>(storage.count());
  copy->version = Bf16Copy::kUnfilled;  // not current while the product rewrites it
  return {copy->values(), false, version};
}

void keep_bf16_copy(const Tensor& x, uint64_t version) {
  const Storage& storage = *x.storage();
  const std::lock_guard<std::mutex> lock(g_fill);
  if (storage.bf16_copy()) storage.bf16_copy()->version = version;
}

const uint16_t* current_bf16_copy(const Tensor& x) {
  if (!x.defined()) return nullptr;
  const Storage& storage = *x.storage();
  const std::lock_guard<std::mutex> lock(g_fill);
  const std::unique_ptr<Bf16Copy>& copy = storage.bf16_copy();
  return copy && copy->version == storage.version() ? copy->values() : nullptr;
}

void set_bf16_weight_copies(bool on) { g_copies_on.store(on, std::memory_order_relaxed); }

uint64_t bf16_weight_roundings() { return g_roundings.load(std::memory_order_relaxed); }

}  // namespace tapelm
