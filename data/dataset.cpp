// prepare_data: corpus, then the cached tokenizer, then the cached shards.
#include <tapelm/data/dataset.h>

#include <tapelm/data/token_cache/tokenizer_cache.h>

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
  CachedTokenizer cached = config.tokenizer_model.empty()
                               ? train_or_load_tokenizer(corpus, config.tokenizer, config.shards.cache_dir)
                               : CachedTokenizer{Tokenizer::load(config.tokenizer_model), config.tokenizer_model,
                                                 false, {}};
  ShardSet shards = build_or_load_shards(corpus, val_corpus.get(), cached.tokenizer, config.shards);
  std::vector<std::string> warnings = std::move(cached.warnings);
  warnings.insert(warnings.end(), shards.warnings.begin(), shards.warnings.end());
  return PreparedData{std::move(cached.tokenizer), std::move(cached.path), cached.trained, std::move(shards),
                      std::move(warnings)};
}

}  // namespace tapelm
