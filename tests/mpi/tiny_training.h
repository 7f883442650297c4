// A small GPT trained for a few AdamW steps on a synthetic corpus, by one process or as one
// rank of a data-parallel job: shared by the data-parallel equivalence test and the
// reproducibility scenario that separate mpirun launches run.
#pragma once

#include <cstdint>
#include <vector>

#include <tapelm/autograd/rng.h>
#include <tapelm/autograd/tape.h>
#include <tapelm/data/sampler.h>
#include <tapelm/data/shards.h>
#include <tapelm/nn/gpt.h>
#include <tapelm/optim/adam.h>
#include <tapelm/optim/clip.h>
#include <tapelm/optim/param_groups.h>
#include "scratch_dir.h"
#include <tapelm/train/loop/distributed.h>

namespace tapelm::testing {

constexpr int64_t kTinyContext = 16;

inline GPTConfig tiny_model_config() {
  GPTConfig cfg;
  cfg.vocab_size = 48;
  cfg.ctx_len = kTinyContext;
  cfg.n_layer = 2;
  cfg.n_head = 2;
  cfg.n_embd = 32;
  cfg.dropout = 0.0f;
  // Without projection biases: the key bias has a true gradient of zero (softmax ignores a
  // shift shared by all keys), so two runs that differ by rounding see only noise there,
  // which Adam (dividing by √v ≈ |noise|) amplifies into different steps
  // (tests/models/accumulation_test.cpp).
  cfg.bias = false;
  cfg.seed = 5;
  return cfg;
}

// A corpus with learnable structure (token i+1 usually follows token i), written as one
// shard into `dir`.
inline TokenDataset tiny_dataset(const ScratchDir& dir, int64_t vocab) {
  std::vector<int32_t> tokens(6000);
  Rng rng(11);
  int32_t t = 0;
  for (auto& token : tokens) {
    t = rng.uniform() < 0.8f ? (t + 1) % static_cast<int32_t>(vocab) : static_cast<int32_t>(rng.below(vocab));
    token = t;
  }
  write_shard(dir.file("train.bin"), static_cast<uint64_t>(vocab), tokens.data(), tokens.size());
  return TokenDataset({dir.file("train.bin")});
}

struct TrainingRun {
  std::vector<double> losses;      // global mean loss per step
  std::vector<double> grad_norms;  // before clipping (Adam would hide a wrongly scaled gradient)
  NamedParameters params;
};

// `steps` steps of `rows` rows on this process, its share `rank` of `world_size` (for the
// single-process reference: all rows, rank 0 of 1). With `dist`, gradients are averaged and
// losses summed over the job.
inline TrainingRun run_tiny_training(GPT& model, const TokenDataset& data, int steps, int64_t rows, int rank,
                                     int world_size, const Distributed* dist) {
  TrainingRun run;
  run.params = model.named_parameters();
  AdamW optimizer(weight_decay_groups(run.params, 0.1), AdamConfig{0.9, 0.95, 1e-8});
  RandomSampler sampler(data, kTinyContext, 77);
  std::vector<int32_t> x, y;
  for (int step = 0; step < steps; ++step) {
    optimizer.zero_grad();
    sampler.next(rows, x, y, rank, world_size);
    model.set_dropout_batch(step, first_row_of_micro_batch(0, rows, rank, world_size));
    Var loss = model.loss(x, y, rows, kTinyContext);
    const double local_loss = loss.item();
    backward(loss);
    double global_loss = local_loss;
    if (dist) {
      dist->average_gradients(run.params);
      global_loss = dist->all_reduce_sum(local_loss) / dist->world_size();
    }
    run.grad_norms.push_back(clip_grad_norm(run.params, 1.0));
    optimizer.step(3e-3);
    run.losses.push_back(global_loss);
  }
  return run;
}

}  // namespace tapelm::testing
