// train_or_load_tokenizer: load the keyed model when it is there and usable, else train it.
#include <tapelm/data/token_cache/tokenizer_cache.h>

#include <filesystem>

#include <tapelm/data/token_cache/cache_key.h>
#include <tapelm/data/corpus.h>

namespace fs = std::filesystem;

namespace tapelm {

CachedTokenizer train_or_load_tokenizer(const Corpus& corpus, const TokenizerConfig& config,
                                        const std::string& cache_dir) {
  const std::string path = (fs::path(cache_dir) / ("tokenizer-" + tokenizer_key(corpus, config) + ".model")).string();
  std::vector<std::string> warnings;
  if (fs::exists(path)) {
    try {
      return {Tokenizer::load(path), path, false, {}};
    } catch (const std::exception& e) {
      warnings.push_back("data: cached tokenizer '" + path + "' is unusable (" + e.what() + "); trained it again");
    }
  }
  Tokenizer tokenizer = Tokenizer::train(corpus, config);
  fs::create_directories(cache_dir);
  tokenizer.save(path);
  return {std::move(tokenizer), path, true, std::move(warnings)};
}

}  // namespace tapelm
