// The data and batch plan of a pretraining run.
#include <tapelm/train/tasks/pretrain_setup.h>

#include <stdexcept>

#include <tapelm/train/config/builders.h>
#include <tapelm/train/config/errors.h>
#include <tapelm/train/loop/progress.h>

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

}  // namespace tapelm
