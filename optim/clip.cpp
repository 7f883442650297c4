// Gradient norm and clipping over fixed chunks, so the sum order never depends on threads.
#include <tapelm/optim/clip.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

namespace tapelm {

namespace {

constexpr int64_t kChunk = 1 << 15;

struct Chunk {
  float* data;
  int64_t size;
};

struct Chunks {
  std::vector<Chunk> list;
  int64_t elements = 0;
  // Fork/join costs more than a few small chunks take; chunking is the same either way.
  bool parallel() const { return list.size() > 1 && elements >= 4 * kChunk; }
};

// Every gradient cut into chunks of at most kChunk elements, in parameter order.
Chunks gradient_chunks(const NamedParameters& params) {
  Chunks chunks;
  for (const auto& [name, var] : params) {
    if (!var.has_grad()) continue;
    Tensor grad = var.grad();
    const int64_t n = grad.numel();
    for (int64_t begin = 0; begin < n; begin += kChunk) {
      chunks.list.push_back({grad.data() + begin, std::min(kChunk, n - begin)});
    }
    chunks.elements += n;
  }
  return chunks;
}

// Eight interleaved accumulators (a fixed order, so still reproducible) let the loop
// vectorise; one running sum would serialise on the add latency.
double sum_of_squares(const Chunk& chunk) {
  constexpr int kLanes = 8;
  double lanes[kLanes] = {};
  const float* g = chunk.data;
  int64_t i = 0;
  for (; i + kLanes <= chunk.size; i += kLanes) {
    for (int l = 0; l < kLanes; ++l) lanes[l] += double(g[i + l]) * double(g[i + l]);
  }
  for (; i < chunk.size; ++i) lanes[0] += double(g[i]) * double(g[i]);
  double s = 0.0;
  for (double lane : lanes) s += lane;
  return s;
}

}  // namespace

double grad_norm(const NamedParameters& params) {
  const Chunks chunks = gradient_chunks(params);
  const int64_t count = static_cast<int64_t>(chunks.list.size());
  std::vector<double> partial(chunks.list.size(), 0.0);
#pragma omp parallel for schedule(static) if (chunks.parallel())
  for (int64_t c = 0; c < count; ++c) partial[c] = sum_of_squares(chunks.list[c]);
  double total = 0.0;
  for (double s : partial) total += s;
  return std::sqrt(total);
}

double clip_grad_norm(const NamedParameters& params, double max_norm) {
  if (!std::isfinite(max_norm) || max_norm <= 0) {
    throw std::invalid_argument("clip_grad_norm: max_norm must be finite and > 0, got " + std::to_string(max_norm));
  }
  const double norm = grad_norm(params);
  if (!std::isfinite(norm) || norm <= max_norm) return norm;
  const float scale = static_cast<float>(max_norm / (norm + 1e-6));
  const Chunks chunks = gradient_chunks(params);
  const int64_t count = static_cast<int64_t>(chunks.list.size());
#pragma omp parallel for schedule(static) if (chunks.parallel())
  for (int64_t c = 0; c < count; ++c) {
    float* g = chunks.list[c].data;
    for (int64_t i = 0; i < chunks.list[c].size; ++i) g[i] *= scale;
  }
  return norm;
}

}  // namespace tapelm
