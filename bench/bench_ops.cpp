// Op microbenchmarks at GPT-small-ish sizes (B·T = 2048 tokens, C = 384, V = 8192,
// H = 6 heads of D = 64 over T = 256): forward and forward+backward through the tape,
// as a training step runs them. GEMM-heavy benchmarks report GFLOP/s ("flops" counter,
// formula beside each); the memory-bound ones report time only.
// Times are wall-clock (UseRealTime): the ops run on OpenMP threads, so the main thread's
// CPU time would understate them. Forward+backward reduces the output with sum_all (dL/dout = 1) and clears input
// gradients each iteration, so every iteration does the same work.
#include <benchmark/benchmark.h>

#include <vector>

#include <tapelm/autograd/ops.h>
#include <tapelm/autograd/rng.h>

namespace tapelm {
namespace {

constexpr int64_t kTokens = 2048;  // B·T
constexpr int64_t kChannels = 384;
constexpr int64_t kVocab = 8192;
constexpr int64_t kBatch = 8, kHeads = 6, kSeq = 256, kHeadDim = 64;

Var random_var(const Shape& shape, uint64_t seed, bool requires_grad, float scale = 1.0f) {
  Rng rng(seed);
  Tensor t(shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = scale * rng.normal();
  return Var(t, requires_grad);
}

void set_flops(benchmark::State& state, double flops_per_iteration) {
  state.counters["flops"] =
      benchmark::Counter(flops_per_iteration * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

void run_backward(const Var& out) {
  Var loss = out.numel() == 1 ? out : sum_all(out);
  backward(loss);
}

void zero_grads(const std::vector<Var>& vars) {
  for (const Var& v : vars) v.zero_grad();
}

// Linear [kTokens, kChannels] → [kTokens, out]; args: out features (4C: MLP up, V: LM head).
// FLOPs: forward 2·N·in·out; backward adds dX = dY·W and dW = dYᵀ·X, 4·N·in·out.
void BM_LinearForward(benchmark::State& state) {
  const int64_t out = state.range(0);
  const Var x = random_var({kTokens, kChannels}, 1, false);
  const Var w = random_var({out, kChannels}, 2, false, 0.02f);
  const Var b = random_var({out}, 3, false);
  for (auto _ : state) benchmark::DoNotOptimize(linear(x, w, b).data());
  set_flops(state, 2.0 * kTokens * kChannels * out);
}
BENCHMARK(BM_LinearForward)->Arg(4 * kChannels)->Arg(kVocab)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_LinearForwardBackward(benchmark::State& state) {
  const int64_t out = state.range(0);
  const Var x = random_var({kTokens, kChannels}, 1, true);
  const Var w = random_var({out, kChannels}, 2, true, 0.02f);
  const Var b = random_var({out}, 3, true);
  for (auto _ : state) {
    zero_grads({x, w, b});
    run_backward(linear(x, w, b));
  }
  set_flops(state, 6.0 * kTokens * kChannels * out);
}
BENCHMARK(BM_LinearForwardBackward)->Arg(4 * kChannels)->Arg(kVocab)->Unit(benchmark::kMillisecond)->UseRealTime();

// Decode-shaped linear: a few rows (the live hypotheses of one word's beam, or one
// sequence's next token) through a 192 → 576 projection, as the g2p model decodes.
// Args: rows. FLOPs: 2·rows·in·out.
void BM_LinearForwardFewRows(benchmark::State& state) {
  const int64_t rows = state.range(0), in = 192, out = 576;
  const Var x = random_var({rows, in}, 1, false);
  const Var w = random_var({out, in}, 2, false, 0.02f);
  const Var b = random_var({out}, 3, false);
  for (auto _ : state) benchmark::DoNotOptimize(linear(x, w, b).data());
  set_flops(state, 2.0 * double(rows) * in * out);
}
BENCHMARK(BM_LinearForwardFewRows)->Arg(1)->Arg(2)->Arg(4)->Arg(8)->Arg(16)->Arg(32)->UseRealTime();

// Per-head score product [B·H, T, D] × [B·H, T, D]ᵀ → [B·H, T, T]. FLOPs: 2·B·H·T·T·D.
void BM_BatchedMatmul(benchmark::State& state) {
  const Var a = random_var({kBatch * kHeads, kSeq, kHeadDim}, 4, false);
  const Var b = random_var({kBatch * kHeads, kSeq, kHeadDim}, 5, false);
  for (auto _ : state) benchmark::DoNotOptimize(matmul(a, b, false, true).data());
  set_flops(state, 2.0 * kBatch * kHeads * kSeq * kSeq * kHeadDim);
}
BENCHMARK(BM_BatchedMatmul)->Unit(benchmark::kMillisecond)->UseRealTime();

// Fused causal attention, q/k/v [B, H, T, D]. FLOPs counted as the dense-equivalent
// algorithm halved for the causal mask (the FlashAttention convention): forward QKᵀ and
// PV, 4·T²·D per head; backward dV, dP, dQ, dK, 8·T²·D per head (the kernel's recomputed
// QKᵀ is overhead, not counted). Fwd+bwd: 12·B·H·T²·D / 2.
void BM_AttentionForward(benchmark::State& state) {
  const Var q = random_var({kBatch, kHeads, kSeq, kHeadDim}, 6, false);
  const Var k = random_var({kBatch, kHeads, kSeq, kHeadDim}, 7, false);
  const Var v = random_var({kBatch, kHeads, kSeq, kHeadDim}, 8, false);
  for (auto _ : state) benchmark::DoNotOptimize(attention(q, k, v, {true, {}}).data());
  set_flops(state, 4.0 * kBatch * kHeads * kSeq * kSeq * kHeadDim / 2);
}
BENCHMARK(BM_AttentionForward)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_AttentionForwardBackward(benchmark::State& state) {
  const Var q = random_var({kBatch, kHeads, kSeq, kHeadDim}, 6, true);
  const Var k = random_var({kBatch, kHeads, kSeq, kHeadDim}, 7, true);
  const Var v = random_var({kBatch, kHeads, kSeq, kHeadDim}, 8, true);
  for (auto _ : state) {
    zero_grads({q, k, v});
    run_backward(attention(q, k, v, {true, {}}));
  }
  set_flops(state, 12.0 * kBatch * kHeads * kSeq * kSeq * kHeadDim / 2);
}
BENCHMARK(BM_AttentionForwardBackward)->Unit(benchmark::kMillisecond)->UseRealTime();

// Memory-bound: [kTokens, kChannels].
void BM_LayernormForwardBackward(benchmark::State& state) {
  const Var x = random_var({kTokens, kChannels}, 9, true);
  const Var w = random_var({kChannels}, 10, true);
  const Var b = random_var({kChannels}, 11, true);
  for (auto _ : state) {
    zero_grads({x, w, b});
    run_backward(layernorm(x, w, b));
  }
}
BENCHMARK(BM_LayernormForwardBackward)->Unit(benchmark::kMillisecond)->UseRealTime();

// Exp-bound: logits [kTokens, kVocab].
void BM_CrossEntropyForwardBackward(benchmark::State& state) {
  const Var logits = random_var({kTokens, kVocab}, 12, true);
  std::vector<int32_t> targets(kTokens);
  for (int64_t n = 0; n < kTokens; ++n) targets[n] = static_cast<int32_t>((n * 7919) % kVocab);
  for (auto _ : state) {
    zero_grads({logits});
    run_backward(cross_entropy(logits, targets));
  }
}
BENCHMARK(BM_CrossEntropyForwardBackward)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace tapelm

BENCHMARK_MAIN();
