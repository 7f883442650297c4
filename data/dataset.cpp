// prepare_data: corpus, then the cached tokenizer, then the cached shards.
#include "data/dataset.h"

#include <memory>
#include <utility>

namespace tapelm {

PreparedData prepare_data(const DataConfig& config) {
  const Corpus corpus(config.corpus);
  std::unique_ptr<Corpus> val_corpus;
  if (!config.val_sources.empty()) {
    CorpusConfig val_config = config.corpus;
    val_config.sources = config.val_sources;
    val_corpus = std::make_unique<Corpus>(std::move(val_config));
  }
  std::string tokenizer_path = config.tokenizer_model;
  bool trained = false;
  Tokenizer tokenizer = config.tokenizer_model.empty()
                            ? train_or_load_tokenizer(corpus, config.tokenizer, config.shards.cache_dir,
                                                      &tokenizer_path, &trained)
                            : Tokenizer::load(config.tokenizer_model);
  ShardSet shards = build_or_load_shards(corpus, val_corpus.get(), tokenizer, config.shards);
  return PreparedData{std::move(tokenizer), std::move(tokenizer_path), trained, std::move(shards)};
}

}  // namespace tapelm
