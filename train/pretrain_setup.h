// What pretraining prepares before its first step, as functions the trainer and `tapelm check`
// share: the token data (tokenizer and shard cache) with its size checks, the split of each
// batch into micro-batches, and the line describing it.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>

#include "data/dataset.h"
#include "train/config.h"

namespace tapelm {

// Tokenizes and shards the corpus into data.cache_dir (training the tokenizer there first when
// the config asks for one; `tokenizer_model`, when not empty, is used instead, e.g. a resumed
// checkpoint's) and logs the tokenizer and data lines. Throws InputError for unusable data,
// ConfigError when a split holds fewer than model.ctx_len + 1 tokens.
PreparedData prepare_pretrain_data(const PretrainConfig& config, const std::string& tokenizer_model, std::ostream& log);

// Micro-batches per rank and step, every rank taking the same share of each batch of `world`
// ranks; throws ConfigError when train.batch_size cannot be shared so.
int64_t accumulation_steps(const TrainSection& train, int world);

// "batch: 8 sequences x 32 tokens = 256 tokens per step (micro-batch 4, 2 accumulation steps);
// 20 steps = 0.41 epochs of the training data".
std::string describe_batches(const PretrainConfig& config, int64_t accumulation, int world, uint64_t train_tokens);

}  // namespace tapelm
