// The data and batch plan of a pretraining run.
#include "train/pretrain_setup.h"

#include <stdexcept>

#include "train/builders.h"
#include "train/errors.h"
#include "train/progress.h"

namespace tapelm {

namespace {

PreparedData tokenize_and_shard(const PretrainConfig& config, const std::string& tokenizer_model) {
  try {
    return prepare_data(data_config(config, tokenizer_model));
  } catch (const std::invalid_argument& e) {  // a missing source, an empty corpus, ...
    throw InputError(std::string("data: ") + e.what());
  } catch (const std::runtime_error& e) {  // invalid UTF-8, a vocab_size the corpus cannot fill, ...
    throw InputError(std::string("data: ") + e.what());
  }
}

}  // namespace

PreparedData prepare_pretrain_data(const PretrainConfig& config, const std::string& tokenizer_model, std::ostream& log) {
  PreparedData data = tokenize_and_shard(config, tokenizer_model);
  const ShardSet& shards = data.shards;
  for (const std::string& warning : data.warnings) log << "warning: " << warning << std::endl;
  log << "tokenizer: " << data.tokenizer_path << " (" << (data.tokenizer_trained ? "trained now" : "loaded") << "), "
      << data.tokenizer.vocab_size() << " pieces" << std::endl;
  log << "data: " << shards.train.size() << " training tokens, " << shards.val.size() << " validation tokens ("
      << shards.folder << ", " << (shards.built ? "built now" : "cached") << ")" << std::endl;
  const int64_t ctx = config.model.ctx_len;
  const auto require_tokens = [&](const TokenDataset& set, const std::string& what, const std::string& key) {
    if (set.size() < uint64_t(ctx) + 1) {
      throw ConfigError(key + ": the " + what + " data has " + std::to_string(set.size()) +
                        " tokens, fewer than model.ctx_len + 1 = " + std::to_string(ctx + 1) +
                        " (give more text or a shorter ctx_len)");
    }
  };
  require_tokens(shards.train, "training", "data.train");
  require_tokens(shards.val, "validation", config.data.val.empty() ? "data.val_fraction" : "data.val");
  return data;
}

int64_t accumulation_steps(const TrainSection& train, int world) {
  const int64_t share = train.micro_batch_size * world;
  if (train.batch_size % share != 0) {
    throw ConfigError("train.batch_size (" + std::to_string(train.batch_size) + ") must be a multiple of " +
                      "train.micro_batch_size (" + std::to_string(train.micro_batch_size) + ") x " +
                      std::to_string(world) + " ranks = " + std::to_string(share) +
                      ", so every rank gets the same share of each batch; change train.batch_size or "
                      "train.micro_batch_size (--set train.micro_batch_size=...), or the number of ranks");
  }
  return train.batch_size / share;
}

std::string describe_batches(const PretrainConfig& config, int64_t accumulation, int world, uint64_t train_tokens) {
  const TrainSection& t = config.train;
  const int64_t tokens_per_step = t.batch_size * config.model.ctx_len;
  const std::string split = world > 1 ? std::to_string(world) + " ranks x micro-batch " +
                                            std::to_string(t.micro_batch_size) + " x " + std::to_string(accumulation)
                                      : "micro-batch " + std::to_string(t.micro_batch_size) + ", " +
                                            std::to_string(accumulation);
  return "batch: " + std::to_string(t.batch_size) + " sequences x " + std::to_string(config.model.ctx_len) +
         " tokens = " + std::to_string(tokens_per_step) + " tokens per step (" + split + " accumulation steps); " +
         std::to_string(t.max_steps) + " steps = " +
         format_double("%.2f", double(tokens_per_step) * double(t.max_steps) / double(train_tokens)) +
         " epochs of the training data";
}

}  // namespace tapelm
