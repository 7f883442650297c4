// The GEMM backends on the products the models run (autograd/gemm_backend.h): a square
// product, then small's and tiny's QKV, MLP and LM-head products with the weight stored
// [out, in] as nn::Linear keeps it, and the MLP weight gradient. GFLOP/s per backend in fp32,
// and with bf16 operands (train.precision: bf16, on oneDNN) where the CPU has AVX512-BF16, at
// the OpenMP thread count of OMP_NUM_THREADS (default: all cores), through tapelm's own
// kernels::gemm, so the per-thread split and the bf16 rounding are part of what is measured.
// onednn_bf16 rounds both operands in every product; onednn_bf16_weight_copy, on the products
// whose b is a weight, reads b from its bf16 copy (autograd/bf16_weights.h) as linear does,
// and rounds only a.
//
//   build/bench/bench_gemm [--benchmark_filter=onednn]
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include <tapelm/autograd/bf16_weights.h>
#include <tapelm/autograd/gemm_backend.h>
#include <tapelm/autograd/kernels/gemm.h>
#include <tapelm/autograd/rng.h>
#include <tapelm/autograd/wait_policy.h>

namespace tapelm {
namespace {

struct Product {
  const char* name;
  int64_t m, n, k;
  bool trans_a, trans_b;
  bool b_is_weight;  // linear's forward (b = W, trans_b) and input gradient (b = W)
};

// small: 8 x 256 tokens, n_embd 384, vocab 8192; tiny: 16 x 64 tokens, n_embd 128, vocab 4096.
const std::vector<Product>& products() {
  static const std::vector<Product> list = {
      {"square_1024", 1024, 1024, 1024, false, false, false},
      {"small_qkv", 2048, 1152, 384, false, true, true},
      {"small_mlp_up", 2048, 1536, 384, false, true, true},
      {"small_mlp_down", 2048, 384, 1536, false, true, true},
      {"small_lm_head", 2048, 8192, 384, false, true, true},
      {"small_mlp_up_dinput", 2048, 384, 1536, false, false, true},
      {"small_mlp_up_dweight", 1536, 384, 2048, true, false, false},
      {"tiny_qkv", 1024, 384, 128, false, true, true},
      {"tiny_lm_head", 1024, 4096, 128, false, true, true},
      {"decode_lm_head_1_row", 1, 8192, 384, false, true, true},
  };
  return list;
}

std::vector<float> random_floats(int64_t count, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> v(static_cast<std::size_t>(count));
  for (float& x : v) x = rng.uniform() - 0.5f;
  return v;
}

void run_product(benchmark::State& state, GemmBackend backend, GemmPrecision precision, bool weight_copy,
                 const Product& p) {
  set_gemm_backend(backend);
  set_gemm_precision(precision);
  const std::vector<float> a = random_floats(p.m * p.k, 1);
  const Tensor b = Tensor::from_vector({p.k * p.n}, random_floats(p.k * p.n, 2));
  std::vector<float> c(static_cast<std::size_t>(p.m * p.n));
  for (auto _ : state) {
    kernels::gemm(c.data(), a.data(), b.data(), p.m, p.n, p.k, p.trans_a, p.trans_b, false,
                  {nullptr, nullptr, weight_copy ? bf16_weight(b, p.m) : nullptr});
    benchmark::DoNotOptimize(c.data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * static_cast<double>(p.m * p.n * p.k) * 1e-9,
                                                 benchmark::Counter::kIsIterationInvariantRate);
  set_gemm_precision(GemmPrecision::Fp32);
}

void register_products(GemmBackend backend, GemmPrecision precision, const std::string& label,
                       bool weight_copy = false) {
  for (const Product& p : products()) {
    if (weight_copy && !p.b_is_weight) continue;
    benchmark::RegisterBenchmark((std::string(p.name) + "/" + label).c_str(),
                                 [backend, precision, weight_copy, &p](benchmark::State& state) {
                                   run_product(state, backend, precision, weight_copy, p);
                                 })
        ->UseRealTime()
        ->MinTime(0.2);
  }
}

const bool registered = [] {
  for (GemmBackend backend : {GemmBackend::OneDnn, GemmBackend::OpenBlas, GemmBackend::Eigen}) {
    if (gemm_backend_built(backend)) register_products(backend, GemmPrecision::Fp32, enum_name(backend));
  }
  if (set_gemm_precision(GemmPrecision::Bf16).empty()) {
    set_gemm_precision(GemmPrecision::Fp32);
    register_products(GemmBackend::OneDnn, GemmPrecision::Bf16, "onednn_bf16");
    register_products(GemmBackend::OneDnn, GemmPrecision::Bf16, "onednn_bf16_weight_copy", true);
  }
  return true;
}();

}  // namespace
}  // namespace tapelm

// Started like the tapelm binary, under OMP_WAIT_POLICY=PASSIVE (autograd/wait_policy.h).
int main(int argc, char** argv) {
  tapelm::reexec_with_passive_wait_policy("/proc/self/exe", argv);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
