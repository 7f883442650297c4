// The tape: gradient accumulation, NoGradGuard, skipped inputs, misuse (TapeError), flat
// memory over many steps, values freed once no backward reads them, and bitwise-reproducible
// forward/backward with several threads.
#include <gtest/gtest.h>
#include <omp.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <thread>

#include <tapelm/autograd/buffer_pool.h>
#include "expect_error.h"
#include "gradcheck.h"

namespace tapelm {
namespace {

using testing::expect_error;
using testing::random_tensor;

TEST(Tape, TensorUsedTwiceReceivesBothContributions) {
  Var x(Tensor::from_vector({3}, {1, 2, 3}), true);
  Var loss = sum_all(add(mul(x, x), x * 4.0f));  // d/dx (x² + 4x) = 2x + 4
  backward(loss);
  EXPECT_EQ(x.grad().to_vector(), (std::vector<float>{6, 8, 10}));
}

TEST(Tape, SecondBackwardAccumulatesIntoParameterGradients) {
  Var w(random_tensor({4, 3}, 1), true), b(random_tensor({4}, 2), true);
  const Var x(random_tensor({5, 3}, 3));
  auto run = [&] {
    Var loss = sum_all(tanh(linear(x, w, b)));
    backward(loss);
  };
  run();
  const std::vector<float> once = w.grad().to_vector(), bias_once = b.grad().to_vector();
  run();
  for (std::size_t i = 0; i < once.size(); ++i) EXPECT_FLOAT_EQ(w.grad().data()[i], 2 * once[i]);
  for (std::size_t i = 0; i < bias_once.size(); ++i) EXPECT_FLOAT_EQ(b.grad().data()[i], 2 * bias_once[i]);
}

TEST(Tape, NoGradGuardRecordsNothing) {
  Tape::current().clear();
  Var w(random_tensor({4, 3}, 4), true);
  {
    NoGradGuard guard;
    Var y = softmax(matmul(Var(random_tensor({2, 4}, 5)), w));
    y = sum(concat(split(y, {1, 2}, 1), 1), 0);
    EXPECT_FALSE(y.requires_grad());
    EXPECT_EQ(Tape::current().size(), 0u);
  }
  Var z = mul(w, 2.0f);
  EXPECT_TRUE(z.requires_grad());
  EXPECT_EQ(Tape::current().size(), 1u);
  Tape::current().clear();
}

TEST(Tape, IsEmptyAfterBackward) {
  Var w(random_tensor({3, 3}, 6), true);
  Var loss = mean_all(exp(matmul(w, w)));
  EXPECT_GT(Tape::current().size(), 0u);
  backward(loss);
  EXPECT_EQ(Tape::current().size(), 0u);
}

TEST(Tape, InputsThatDoNotRequireGradGetNoGradient) {
  Var p(random_tensor({2, 3}, 7), true);
  const Var c(random_tensor({2, 3}, 8)), row(random_tensor({3}, 9)), w(random_tensor({4, 3}, 10));
  Var loss = sum_all(add(div(mul(p, c), row), 1.0f));
  loss = add(loss, sum_all(linear(p, w, Var(random_tensor({4}, 11)))));
  loss = add(loss, sum_all(matmul(c, p, false, true)));
  loss = add(loss, sum_all(concat({p, c}, 0)));
  loss = add(loss, sum_all(index_select(c, 0, {1, 1})));
  backward(loss);
  EXPECT_TRUE(p.has_grad());
  EXPECT_FALSE(c.has_grad());
  EXPECT_FALSE(row.has_grad());
  EXPECT_FALSE(w.has_grad());
}

TEST(Tape, BackwardTwiceOnOneLossThrowsTapeErrorAndLeavesGradientsAlone) {
  Var w(Tensor::from_vector({3}, {1, 2, 3}), true);
  Var loss = sum_all(mul(w, w));
  backward(loss);
  expect_error<TapeError>([&] { backward(loss); }, {"backward", "before the last backward()", "forward pass again"});
  EXPECT_EQ(w.grad().to_vector(), (std::vector<float>{2, 4, 6}));
}

TEST(Tape, BackwardOfANonScalarThrowsTapeErrorNamingTheShape) {
  Var w(random_tensor({2, 3}, 1), true);
  Var y = mul(w, 2.0f);
  expect_error<TapeError>([&] { backward(y); }, {"backward", "one element", "[2, 3]"});
  Var loss = mean_all(y);  // the tape still holds y's node: reducing and retrying works
  backward(loss);
  EXPECT_TRUE(w.has_grad());
}

TEST(Tape, BackwardOfALossComputedUnderNoGradThrowsTapeError) {
  Var w(random_tensor({3}, 2), true);
  Var loss;
  {
    NoGradGuard guard;
    loss = sum_all(mul(w, w));
  }
  expect_error<TapeError>([&] { backward(loss); }, {"backward", "does not require grad", "NoGradGuard"});
  EXPECT_FALSE(w.has_grad());
}

TEST(Tape, BackwardOfAnUndefinedVarThrowsTapeError) {
  Var nothing;
  expect_error<TapeError>([&] { backward(nothing); }, {"backward", "undefined"});
}

TEST(Tape, RecordingAVarFromAFinishedTapeThrowsTapeErrorNamingTheOp) {
  Var w(random_tensor({3}, 3), true);
  Var h = tanh(w);
  Var loss = sum_all(h);
  backward(loss);
  // h's node is gone: a gradient through h would stop there without reaching w.
  expect_error<TapeError>([&] { mul(h, 3.0f); }, {"mul", "[3]", "before the last backward()"});
  expect_error<TapeError>([&] { matmul(reshape(w, {1, 3}), reshape(h, {3, 1})); }, {"reshape", "[3]"});

  Var g = exp(w);
  Tape::current().clear();
  expect_error<TapeError>([&] { add(w, g); }, {"add", "Tape::clear()"});

  // Reading the values stays allowed: without recording, or as a constant.
  {
    NoGradGuard guard;
    EXPECT_EQ(mul(h, 1.0f).value().to_vector(), h.value().to_vector());
  }
  w.zero_grad();
  Var again = sum_all(mul(w, Var(h.value())));
  backward(again);
  EXPECT_EQ(w.grad().to_vector(), h.value().to_vector());
}

TEST(Tape, RecordingAVarFromAnotherThreadsTapeThrowsTapeError) {
  Var w(random_tensor({3}, 4), true);
  Var h;
  std::thread([&] { h = tanh(w); }).join();  // recorded on that thread's tape
  expect_error<TapeError>([&] { sum_all(h); }, {"sum_all"});
}

// A small MLP step touching most ops: the same shapes every step.
struct Mlp {
  Var w1{random_tensor({32, 16}, 20, 0.3f), true}, b1{random_tensor({32}, 21), true};
  Var w2{random_tensor({8, 32}, 22, 0.3f), true}, b2{random_tensor({8}, 23), true};
  Var gain{random_tensor({8}, 24), true};

  Var loss(const Tensor& x) const {
    Var h = relu(linear(Var(x), w1, b1));
    std::vector<Var> halves = split(h, {16, 16}, 1);
    h = concat({halves[1], tanh(halves[0])}, 1);
    Var logits = mul(linear(h, w2, b2), gain);
    Var picked = index_select(log_softmax(logits), 1, {0, 3, 3});
    return add(neg(mean_all(picked)), mean_all(pow(sub(logits, max(logits, 1, true)), 2.0f)));
  }
};

std::size_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::size_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

TEST(Tape, ThousandStepsKeepMemoryFlat) {
  Mlp mlp;
  const Tensor x = random_tensor({16, 16}, 25);
  BufferPool& pool = BufferPool::instance();
  struct Usage {
    std::size_t live, cached, rss;
  };
  Usage at_10{}, at_1000{};
  for (int step = 1; step <= 1000; ++step) {
    for (Var* p : {&mlp.w1, &mlp.b1, &mlp.w2, &mlp.b2, &mlp.gain}) p->zero_grad();
    Var loss = mlp.loss(x);
    backward(loss);
    ASSERT_EQ(Tape::current().size(), 0u);
    if (step == 10) at_10 = {pool.live_bytes(), pool.cached_bytes(), resident_bytes()};
    if (step == 1000) at_1000 = {pool.live_bytes(), pool.cached_bytes(), resident_bytes()};
  }
  EXPECT_EQ(at_1000.live, at_10.live);
  EXPECT_EQ(at_1000.cached, at_10.cached);
#ifndef __SANITIZE_ADDRESS__  // AddressSanitizer quarantines freed heap blocks: RSS grows by design
  // One leaked step would be tens of KB, so 990 of them tens of MB.
  EXPECT_LT(at_1000.rss, at_10.rss + (1u << 20)) << "RSS grew from " << at_10.rss << " to " << at_1000.rss;
#endif
}

// Adds, dropouts, scalings, reshapes and permutes read no values in backward, so each
// intermediate goes back to the pool as soon as the next op has consumed it: after the
// forward pass only the last one is live, not all sixteen. The gradient is the one of the
// same chain with every intermediate kept.
constexpr int64_t kChainSide = 128;

// Returns x's gradient; `kept` (when given) holds every intermediate; `live_after_forward`
// receives the pool's live bytes, beyond those at the start, once the forward pass is done.
std::vector<float> chain_gradient(std::vector<Var>* kept, std::size_t* live_after_forward) {
  BufferPool& pool = BufferPool::instance();
  const std::size_t live_before = pool.live_bytes();
  Var x(random_tensor({kChainSide, kChainSide}, 40), true);
  Var h = x;
  for (int i = 0; i < 4; ++i) {
    h = add(h, x);
    if (kept) kept->push_back(h);
    h = dropout(h, 0.1f, /*key=*/i, /*first_row=*/0, /*training=*/true);
    if (kept) kept->push_back(h);
    h = mul(h, 0.5f);
    if (kept) kept->push_back(h);
    h = reshape(permute(reshape(h, {kChainSide, kChainSide, 1}), {1, 0, 2}), {kChainSide, kChainSide});
    if (kept) kept->push_back(h);
  }
  *live_after_forward = pool.live_bytes() - live_before;
  Var loss = sum_all(h);
  backward(loss);
  return x.grad().to_vector();
}

TEST(Tape, ValuesNoBackwardReadsReturnToThePoolBeforeBackward) {
  constexpr std::size_t kValueBytes = kChainSide * kChainSide * sizeof(float);
  std::vector<Var> kept;
  std::size_t live_kept = 0, live_dropped = 0;
  const std::vector<float> grad_kept = chain_gradient(&kept, &live_kept);
  const std::vector<float> grad_dropped = chain_gradient(nullptr, &live_dropped);
  ASSERT_GE(live_kept, 16 * kValueBytes) << "the measure sees the kept intermediates";
  // x and the last value, plus the pool's rounding.
  EXPECT_LE(live_dropped, 3 * kValueBytes) << (live_dropped / kValueBytes) << " values of " << kValueBytes
                                           << " bytes are live after the forward pass";
  EXPECT_EQ(grad_dropped, grad_kept);
}

// relu's backward reads its output (positive exactly where its input is), so its input can go.
TEST(Tape, ReluKeepsItsOutputNotItsInputForBackward) {
  Var x(Tensor::from_vector({2, 3}, {-2.0f, -1.0f, -0.5f, 0.0f, 0.5f, 2.0f}), true);
  BufferPool& pool = BufferPool::instance();
  const std::size_t live_before = pool.live_bytes();
  Var y = relu(add(x, 0.75f));
  EXPECT_EQ(pool.live_bytes() - live_before, 64u) << "only relu's output (one 64-byte buffer) is live";
  Var loss = sum_all(y);
  backward(loss);
  EXPECT_EQ(x.grad().to_vector(), (std::vector<float>{0, 0, 1, 1, 1, 1}));
}

// Forward and backward of a model large enough to take every parallel path (Eigen's
// threaded GEMM, one product per thread, chunked reductions and broadcasts).
struct Outputs {
  std::vector<float> values;
  std::vector<std::vector<float>> grads;
};

Outputs run_model() {
  Var x(random_tensor({128, 96}, 30), true);
  Var w(random_tensor({256, 96}, 31, 0.1f), true), b(random_tensor({256}, 32), true);
  Var scale(random_tensor({1, 256}, 33), true);
  Var h = mul(gelu(linear(x, w, b)), scale);                        // [128, 256]
  Var heads = permute(reshape(h, {2, 64, 4, 64}), {0, 2, 1, 3});    // [2, 4, 64, 64]
  Var att = softmax(matmul(heads, heads, false, true) * 0.125f);    // [2, 4, 64, 64]
  Var mixed = matmul(att, heads);                                   // [2, 4, 64, 64]
  Var pooled = sum(mixed, 2);                                       // [2, 4, 64]
  Var loss = add(mean_all(log_softmax(pooled)), mean_all(sum(h, 0)));
  backward(loss);
  return {mixed.value().to_vector(),
          {x.grad().to_vector(), w.grad().to_vector(), b.grad().to_vector(), scale.grad().to_vector()}};
}

TEST(Tape, ForwardAndBackwardAreBitwiseReproducibleWithTwoThreads) {
  const int threads = omp_get_max_threads();
  omp_set_num_threads(2);
  const Outputs first = run_model();
  const Outputs second = run_model();
  omp_set_num_threads(threads);
  ASSERT_EQ(first.values.size(), second.values.size());
  EXPECT_EQ(std::memcmp(first.values.data(), second.values.data(), first.values.size() * sizeof(float)), 0);
  for (std::size_t i = 0; i < first.grads.size(); ++i) {
    ASSERT_EQ(first.grads[i].size(), second.grads[i].size());
    EXPECT_EQ(std::memcmp(first.grads[i].data(), second.grads[i].data(), first.grads[i].size() * sizeof(float)), 0)
        << "gradient " << i;
  }
}

}  // namespace
}  // namespace tapelm
