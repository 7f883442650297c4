// The rows of bench_train's comparison with PyTorch (bench/reference/torch_train.py builds
// the same ones): each row's model, its random batches drawn from a fixed seed before
// timing, and its training FLOPs per step (docs/performance.md, "FLOP count and MFU").
//   tiny, small  GPTs (dropout 0); also the generation rows
//   g2p          the encoder-decoder of configs/finetune/g2p.yaml, fixed lengths, no padding
//   spam         the classifier of configs/finetune/spam.yaml, full-length sequences
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <tapelm/nn/gpt.h>
#include <tapelm/nn/module.h>

namespace tapelm {

// A GPT row: its model and training batch size (generation runs at batch 1).
struct GptRow {
  GPTConfig config;
  int64_t batch = 0;
};

// tiny or small; nullopt for the rows that are not GPTs.
std::optional<GptRow> find_gpt_row(const std::string& name);

// One training row, ready to step.
struct TrainRow {
  std::unique_ptr<Module> model;
  int64_t tokens_per_step = 0;  // positions through the model per step (g2p: source + target)
  double flops_per_step = 0.0;
  std::string description;      // one line for the log
  // The loss of batch `step` (0 .. n_steps-1), with that step's dropout masks.
  std::function<Var(int step)> loss;
};

// Throws std::invalid_argument naming the rows for an unknown name.
TrainRow make_train_row(const std::string& name, int n_steps);

}  // namespace tapelm
