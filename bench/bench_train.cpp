// End-to-end GPT benchmark, the tapelm side of the comparison with PyTorch
// (bench/reference/torch_train.py runs the same rows and protocol; scripts/bench.sh runs
// both and prints the table; docs/performance.md explains the method).
//
//   bench_train --model tiny|small|g2p|spam [--threads N] [--mode train|generate]
//               [--warmup W] [--steps S] [--new-tokens K] [--gemm-peak 1|0]
//               [--gemm auto|onednn|openblas|eigen] [--precision fp32|bf16]
//
// train: W warm-up then S timed training steps on random token batches from a fixed seed
// (forward, cross-entropy, backward, clip_grad_norm 1.0, AdamW); the rows are in
// bench/train_rows.h. Prints the median ms/step,
// tokens/s, peak RSS, the GEMM peak of the backend and precision in use measured here at the
// same thread count, the MFU against it, and the best fp32 peak of every backend built in
// with the MFU against that (--gemm-peak 0 skips those probes, e.g. to profile the training
// steps alone).
// generate (GPT rows only): batch 1, a 4-token prompt, K new tokens greedily with the KV cache; W warm-up
// and S timed generations, median tokens/s (the prompt's forward pass counts in the time).
// The last line is `RESULT key=value ...` for scripts/bench.sh. Like the tapelm binary, it
// restarts itself under OMP_WAIT_POLICY=PASSIVE unless the variable is set.
#include <omp.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <tapelm/autograd/gemm_backend.h>
#include <tapelm/autograd/ops.h>
#include <tapelm/autograd/wait_policy.h>
#include "bench/train_rows.h"
#include <tapelm/nn/gpt.h>
#include <tapelm/optim/adam.h>
#include <tapelm/optim/clip.h>
#include <tapelm/optim/param_groups.h>

namespace tapelm {
namespace {

struct Options {
  std::string model = "tiny";
  std::string mode = "train";
  int threads = 1;
  int warmup = 3;
  int steps = 10;
  int new_tokens = 200;
  bool gemm_peak = true;
  GemmBackend gemm = GemmBackend::Auto;
  GemmPrecision precision = GemmPrecision::Fp32;
};

Options parse_options(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string key = argv[i];
    if (i + 1 >= argc) throw std::invalid_argument("bench_train: " + key + " needs a value");
    const std::string value = argv[++i];
    auto as_int_at_least = [&](int minimum) {
      char* end = nullptr;
      const long v = std::strtol(value.c_str(), &end, 10);
      if (end == value.c_str() || *end != '\0' || v < minimum || v > 1000000) {
        throw std::invalid_argument("bench_train: " + key + " '" + value + "', expected an integer >= " +
                                    std::to_string(minimum));
      }
      return static_cast<int>(v);
    };
    if (key == "--model") o.model = value;
    else if (key == "--mode") o.mode = value;
    else if (key == "--threads") o.threads = as_int_at_least(1);
    else if (key == "--warmup") o.warmup = as_int_at_least(0);
    else if (key == "--steps") o.steps = as_int_at_least(1);
    else if (key == "--new-tokens") o.new_tokens = as_int_at_least(1);
    else if (key == "--gemm-peak") o.gemm_peak = as_int_at_least(0) != 0;
    else if (key == "--gemm") o.gemm = parse_enum<GemmBackend>(value);
    else if (key == "--precision") o.precision = parse_enum<GemmPrecision>(value);
    else throw std::invalid_argument("bench_train: unknown option " + key);
  }
  if (o.mode != "train" && o.mode != "generate") {
    throw std::invalid_argument("bench_train: --mode '" + o.mode + "', expected train or generate");
  }
  return o;
}

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Peak resident set so far (Linux reports ru_maxrss in KiB).
double peak_rss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;
}

// Best-of-5 FLOP/s of one large square fp32 product through tapelm's matmul op on the GEMM
// backend in use at the current OpenMP thread count: the denominator of the MFU.
double gemm_peak_flops() {
  constexpr int64_t n = 1536;
  Rng rng(7);
  Tensor a({n, n}), b({n, n});
  for (int64_t i = 0; i < n * n; ++i) a.data()[i] = rng.uniform() - 0.5f;
  for (int64_t i = 0; i < n * n; ++i) b.data()[i] = rng.uniform() - 0.5f;
  const Var va(a, false), vb(b, false);
  NoGradGuard no_grad;
  double best = 1e30;
  for (int rep = 0; rep < 6; ++rep) {
    const auto start = Clock::now();
    const Var c = matmul(va, vb);
    const double t = seconds_since(start);
    if (rep > 0) best = std::min(best, t);  // the first run pays for page faults
  }
  return 2.0 * n * n * n / best;
}

void run_train(const std::string& name, const Options& o) {
  const TrainRow row = make_train_row(name, o.warmup + o.steps);
  std::printf("row %s: %s\n", name.c_str(), row.description.c_str());
  Module& model = *row.model;
  model.train();
  const NamedParameters params = model.named_parameters();
  AdamW optimizer(weight_decay_groups(params, 0.1));

  std::vector<double> times;
  float first_loss = 0.0f, last_loss = 0.0f;
  for (int s = 0; s < o.warmup + o.steps; ++s) {
    const auto start = Clock::now();
    optimizer.zero_grad();
    Var loss = row.loss(s);
    last_loss = loss.item();
    backward(loss);
    clip_grad_norm(params, 1.0);
    optimizer.step(3e-4);
    const double t = seconds_since(start);
    if (s >= o.warmup) times.push_back(t);
    if (s == 0) first_loss = last_loss;
    std::printf("step %d: %.1f ms loss %.4f%s\n", s, t * 1e3, last_loss, s < o.warmup ? " (warm-up)" : "");
  }
  const double rss = peak_rss_mib();  // before the GEMM probe allocates its matrices
  const double step_s = median(times);
  const double tokens = static_cast<double>(row.tokens_per_step);
  const double flops = row.flops_per_step;
  const GemmBackend in_use = gemm_backend();
  const GemmPrecision precision = gemm_precision();
  const double peak = o.gemm_peak ? gemm_peak_flops() : std::nan("");
  // The machine's best fp32 peak: every backend built in, then back to the ones in use.
  double best_peak = precision == GemmPrecision::Fp32 ? peak : 0.0;
  GemmBackend best = in_use;
  set_gemm_precision(GemmPrecision::Fp32);
  for (GemmBackend other : {GemmBackend::OneDnn, GemmBackend::OpenBlas, GemmBackend::Eigen}) {
    const bool measured = other == in_use && precision == GemmPrecision::Fp32;
    if (!o.gemm_peak || measured || !gemm_backend_built(other)) continue;
    set_gemm_backend(other);
    const double other_peak = gemm_peak_flops();
    if (other_peak > best_peak) {
      best_peak = other_peak;
      best = other;
    }
  }
  set_gemm_backend(in_use);
  set_gemm_precision(precision);
  std::printf("RESULT side=tapelm mode=train model=%s threads=%d gemm=%s precision=%s params=%lld tokens_per_step=%.0f "
              "ms_per_step=%.2f tokens_per_s=%.1f peak_rss_mib=%.1f flops_per_step=%.4g gemm_peak_gflops=%.1f "
              "achieved_gflops=%.2f mfu=%.4f best_gemm=%s best_gemm_peak_gflops=%.1f mfu_best=%.4f "
              "first_loss=%.4f final_loss=%.4f\n",
              name.c_str(), o.threads, enum_name(in_use), enum_name(precision),
              static_cast<long long>(model.num_parameters()), tokens,
              step_s * 1e3, tokens / step_s, rss, flops, peak / 1e9, flops / step_s / 1e9, flops / step_s / peak,
              enum_name(best), best_peak / 1e9, flops / step_s / best_peak, first_loss, last_loss);
}

int32_t argmax_last_row(const Var& logits) {
  const int64_t V = logits.shape().back();
  const float* last = logits.data() + logits.numel() - V;
  return static_cast<int32_t>(std::max_element(last, last + V) - last);
}

// Greedy decoding of `new_tokens` tokens after `prompt`, one token per forward pass through
// the KV cache. Returns the generated ids.
std::vector<int32_t> generate_greedy(const GPT& model, const std::vector<int32_t>& prompt, int new_tokens) {
  NoGradGuard no_grad;
  KVCache cache;
  std::vector<int32_t> out;
  int32_t next = argmax_last_row(model.forward(prompt, 1, static_cast<int64_t>(prompt.size()), {}, &cache));
  out.push_back(next);
  while (static_cast<int>(out.size()) < new_tokens) {
    next = argmax_last_row(model.forward({next}, 1, 1, {}, &cache));
    out.push_back(next);
  }
  return out;
}

void run_generate(const std::string& name, const Options& o) {
  const std::optional<GptRow> row = find_gpt_row(name);
  if (!row) throw std::invalid_argument("bench_train: --mode generate needs a GPT row (tiny or small), got '" + name + "'");
  GPT model(row->config);
  model.eval();
  const std::vector<int32_t> prompt = {1, 2, 3, 4};
  if (static_cast<int64_t>(prompt.size()) + o.new_tokens > row->config.ctx_len) {
    throw std::invalid_argument("bench_train: prompt + --new-tokens exceeds ctx_len " +
                                std::to_string(row->config.ctx_len));
  }
  std::vector<double> times;
  for (int r = 0; r < o.warmup + o.steps; ++r) {
    const auto start = Clock::now();
    const std::vector<int32_t> ids = generate_greedy(model, prompt, o.new_tokens);
    const double t = seconds_since(start);
    if (r >= o.warmup) times.push_back(t);
    std::printf("generation %d: %.1f ms, %.1f tokens/s%s\n", r, t * 1e3, o.new_tokens / t,
                r < o.warmup ? " (warm-up)" : "");
  }
  const double t = median(times);
  std::printf("RESULT side=tapelm mode=generate model=%s threads=%d gemm=%s new_tokens=%d ms_per_generation=%.2f "
              "tokens_per_s=%.1f peak_rss_mib=%.1f\n",
              name.c_str(), o.threads, enum_name(gemm_backend()), o.new_tokens, t * 1e3, o.new_tokens / t,
              peak_rss_mib());
}

}  // namespace
}  // namespace tapelm

int main(int argc, char** argv) {
  tapelm::reexec_with_passive_wait_policy("/proc/self/exe", argv);
  try {
    const tapelm::Options o = tapelm::parse_options(argc, argv);
    omp_set_num_threads(o.threads);
    tapelm::set_gemm_backend(o.gemm);
    const std::string fallback = tapelm::set_gemm_precision(o.precision);
    if (!fallback.empty()) std::printf("warning: %s\n", fallback.c_str());
    const char* wait_policy = std::getenv("OMP_WAIT_POLICY");
    std::printf("tapelm bench_train: model=%s mode=%s threads=%d OMP_WAIT_POLICY=%s warmup=%d steps=%d\n",
                o.model.c_str(), o.mode.c_str(), o.threads, wait_policy ? wait_policy : "(unset)", o.warmup, o.steps);
    if (o.mode == "train") tapelm::run_train(o.model, o);
    else tapelm::run_generate(o.model, o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  return 0;
}
