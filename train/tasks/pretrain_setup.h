// What pretraining prepares before its first step, as a function the pretraining task and
// `tapelm check` share: the token data (tokenizer and shard cache) with its size checks.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>

#include <tapelm/data/dataset.h>
#include <tapelm/train/config/pretrain_config.h>

namespace tapelm {

// Tokenizes and shards the corpus into data.cache_dir (training the tokenizer there first when
// the config asks for one; `tokenizer_model`, when not empty, is used instead, e.g. a resumed
// checkpoint's) and logs the tokenizer and data lines. Throws InputError for unusable data,
// ConfigError when a split holds fewer than model.ctx_len + 1 tokens.
PreparedData prepare_pretrain_data(const PretrainConfig& config, const std::string& tokenizer_model, std::ostream& log);

}  // namespace tapelm
