// The cache: documents framed by <bos>/<eos>, splits, shard reuse on a second run, and
// rebuilds when a corpus file or the tokenizer changes or the cache is damaged (reported as
// warnings, never printed), shards that do not depend on the thread count, and removal of
// folders left by killed builders.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <filesystem>
#include <numeric>
#include <string>
#include <vector>

#include "crash_testing.h"
#include <tapelm/data/atomic_file.h>
#include <tapelm/data/token_cache/encode_corpus.h>
#include <tapelm/data/token_cache/shard_cache.h>
#include <tapelm/data/token_cache/tokenizer_cache.h>
#include <tapelm/data/corpus.h>
#include <tapelm/data/tokenizer.h>
#include "data_test_util.h"

namespace tapelm {
namespace {

using testing::expect_error;
using testing::TempDir;
using testing::write_text;

std::vector<int32_t> all_tokens(const TokenDataset& data) {
  std::vector<int32_t> out(data.size());
  data.read(0, out.size(), out.data());
  return out;
}

// `body()` run with `threads` OpenMP threads.
template <typename Body>
auto on_threads(int threads, const Body& body) {
  const int saved = omp_get_max_threads();
  omp_set_num_threads(threads);
  auto result = body();
  omp_set_num_threads(saved);
  return result;
}

class CacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < 6; ++i) write_text(dir_ / ("corpus/doc" + std::to_string(i) + ".txt"), testing::generated_text(10 + i, 40));
    TokenizerConfig config;
    config.vocab_size = 120;
    config.byte_fallback = false;
    tokenizer_ = std::make_unique<Tokenizer>(Tokenizer::train(corpus(), config));
    cache_.cache_dir = dir_ / "cache";
    cache_.split.val_fraction = 0.1;
  }

  Corpus corpus() const {
    CorpusConfig config;
    config.sources = {dir_ / "corpus"};
    return Corpus(config);
  }

  // One document large enough to be cut into several chunks encoded in parallel.
  Corpus big_corpus() const {
    std::string big;
    for (int i = 0; i < 8; ++i) big += testing::generated_text(100 + i, 600);
    EXPECT_GT(big.size(), 3u * 65536);
    write_text(dir_ / "big/big.txt", big);
    CorpusConfig config;
    config.sources = {dir_ / "big"};
    return Corpus(config);
  }

  TempDir dir_;
  std::unique_ptr<Tokenizer> tokenizer_;
  ShardCacheConfig cache_;
};

TEST_F(CacheTest, DocumentsAreFramedByBosAndEosInCorpusOrder) {
  const Corpus docs = corpus();
  const EncodedCorpus encoded = encode_corpus(docs, *tokenizer_);
  ASSERT_EQ(encoded.origins.size(), 6u);
  ASSERT_EQ(encoded.offsets.size(), 7u);
  for (size_t d = 0; d < 6; ++d) {
    const std::vector<int32_t> doc(encoded.tokens.begin() + encoded.offsets[d], encoded.tokens.begin() + encoded.offsets[d + 1]);
    EXPECT_EQ(doc.front(), kBosId);
    EXPECT_EQ(doc.back(), kEosId);
    EXPECT_EQ(tokenizer_->decode(doc), docs.read(d)) << "document " << d;
  }
}

TEST_F(CacheTest, EncodingDoesNotDependOnThreadCount) {
  const Corpus corpus = big_corpus();
  const EncodedCorpus one = on_threads(1, [&] { return encode_corpus(corpus, *tokenizer_); });
  const EncodedCorpus two = on_threads(2, [&] { return encode_corpus(corpus, *tokenizer_); });
  const EncodedCorpus three = on_threads(3, [&] { return encode_corpus(corpus, *tokenizer_); });
  EXPECT_EQ(one.tokens, two.tokens);
  EXPECT_EQ(one.tokens, three.tokens);
  EXPECT_EQ(tokenizer_->decode(one.tokens), corpus.read(0));
}

TEST_F(CacheTest, ShardsAreByteIdenticalOnOneAndTwoThreads) {
  const Corpus corpus = big_corpus();
  cache_.max_tokens_per_shard = 50000;
  ShardCacheConfig two_threads = cache_;
  two_threads.cache_dir = dir_ / "cache-2";
  const ShardSet one = on_threads(1, [&] { return build_or_load_shards(corpus, nullptr, *tokenizer_, cache_); });
  const ShardSet two = on_threads(2, [&] { return build_or_load_shards(corpus, nullptr, *tokenizer_, two_threads); });
  ASSERT_GT(one.train.shards().size(), 1u);
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(one.folder)) files.push_back(entry.path().filename());
  EXPECT_EQ(files.size(), one.train.shards().size() + one.val.shards().size() + 1) << "shards and the manifest";
  for (const std::string& file : files) {
    EXPECT_EQ(read_file(one.folder + "/" + file), read_file(two.folder + "/" + file)) << file;
  }
}

TEST_F(CacheTest, TokenSplitPutsTheLastFractionInValidation) {
  const Corpus docs = corpus();
  const std::vector<int32_t> stream = encode_corpus(docs, *tokenizer_).tokens;
  const ShardSet set = build_or_load_shards(docs, nullptr, *tokenizer_, cache_);
  const size_t val = static_cast<size_t>(std::llround(0.1 * static_cast<double>(stream.size())));
  EXPECT_EQ(set.val.size(), val);
  EXPECT_EQ(set.train.size() + set.val.size(), stream.size());
  EXPECT_EQ(all_tokens(set.train), std::vector<int32_t>(stream.begin(), stream.end() - val));
  EXPECT_EQ(all_tokens(set.val), std::vector<int32_t>(stream.end() - val, stream.end()));
  EXPECT_EQ(set.train_documents + set.val_documents, 6u);
  EXPECT_TRUE(std::filesystem::exists(set.folder + "/manifest.json"));
}

TEST_F(CacheTest, DocumentSplitHoldsOutWholeDocuments) {
  const Corpus docs = corpus();
  const EncodedCorpus encoded = encode_corpus(docs, *tokenizer_);
  cache_.split.mode = SplitMode::kDocuments;
  cache_.split.val_fraction = 0.34;  // round(0.34 * 6) = 2 documents
  const ShardSet set = build_or_load_shards(docs, nullptr, *tokenizer_, cache_);
  EXPECT_EQ(set.val_documents, 2u);
  EXPECT_EQ(set.train_documents, 4u);
  const std::vector<int32_t> val = all_tokens(set.val);
  EXPECT_EQ(std::count(val.begin(), val.end(), kBosId), 2);
  EXPECT_EQ(std::count(val.begin(), val.end(), kEosId), 2);
  EXPECT_EQ(set.train.size() + set.val.size(), encoded.tokens.size());
}

TEST_F(CacheTest, SecondRunReusesTheShardsWithoutTokenising) {
  const ShardSet first = build_or_load_shards(corpus(), nullptr, *tokenizer_, cache_);
  EXPECT_TRUE(first.built);
  const ShardSet second = build_or_load_shards(corpus(), nullptr, *tokenizer_, cache_);
  EXPECT_FALSE(second.built);
  EXPECT_EQ(second.key, first.key);
  EXPECT_EQ(all_tokens(second.train), all_tokens(first.train));
  EXPECT_EQ(all_tokens(second.val), all_tokens(first.val));
}

TEST_F(CacheTest, OpeningTheCacheRemovesFoldersOfKilledBuildersOnly) {
  build_or_load_shards(corpus(), nullptr, *tokenizer_, cache_);
  const std::string killed = cache_.cache_dir + "/" + temp_name("shards-0123", testing::dead_pid(), 0);
  const std::string running = cache_.cache_dir + "/" + temp_name("shards-4567", ::getppid(), 0);
  testing::write_text(killed + "/train-00000.bin", "partial");
  testing::write_text(running + "/train-00000.bin", "partial");
  EXPECT_FALSE(build_or_load_shards(corpus(), nullptr, *tokenizer_, cache_).built);
  EXPECT_FALSE(std::filesystem::exists(killed));
  EXPECT_TRUE(std::filesystem::exists(running)) << "another run may be building it";
}

TEST_F(CacheTest, ChangedCorpusFileRebuilds) {
  const ShardSet first = build_or_load_shards(corpus(), nullptr, *tokenizer_, cache_);
  // Same size, one byte different: the content hash must notice.
  std::string text = read_file(dir_ / "corpus/doc3.txt");
  text[0] = text[0] == 'a' ? 'b' : 'a';
  write_text(dir_ / "corpus/doc3.txt", text);
  const ShardSet second = build_or_load_shards(corpus(), nullptr, *tokenizer_, cache_);
  EXPECT_TRUE(second.built);
  EXPECT_NE(second.key, first.key);
}

TEST_F(CacheTest, ChangedTokenizerRebuilds) {
  const ShardSet first = build_or_load_shards(corpus(), nullptr, *tokenizer_, cache_);
  TokenizerConfig config;
  config.vocab_size = 100;
  config.byte_fallback = false;
  const Tokenizer other = Tokenizer::train(corpus(), config);
  const ShardSet second = build_or_load_shards(corpus(), nullptr, other, cache_);
  EXPECT_TRUE(second.built);
  EXPECT_NE(second.key, first.key);
  EXPECT_EQ(second.train.vocab_size(), 100u);
}

TEST_F(CacheTest, ChangedSplitSettingsRebuild) {
  const ShardSet first = build_or_load_shards(corpus(), nullptr, *tokenizer_, cache_);
  cache_.split.val_fraction = 0.2;
  const ShardSet second = build_or_load_shards(corpus(), nullptr, *tokenizer_, cache_);
  EXPECT_TRUE(second.built);
  EXPECT_GT(second.val.size(), first.val.size());
}

TEST_F(CacheTest, CorruptCachedShardIsRebuiltWithAWarningReturnedNotPrinted) {
  const ShardSet first = build_or_load_shards(corpus(), nullptr, *tokenizer_, cache_);
  EXPECT_TRUE(first.warnings.empty());
  const std::string shard = first.folder + "/train_00000.bin";
  ASSERT_TRUE(std::filesystem::exists(shard));
  std::string bytes = read_file(shard);
  bytes[kShardHeaderBytes + 3] ^= 0x01;  // header intact, payload damaged
  std::filesystem::remove(shard);
  write_text(shard, bytes);
  ::testing::internal::CaptureStderr();
  ::testing::internal::CaptureStdout();
  const ShardSet second = build_or_load_shards(corpus(), nullptr, *tokenizer_, cache_);
  EXPECT_EQ(::testing::internal::GetCapturedStdout(), "");
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
  EXPECT_TRUE(second.built);
  EXPECT_EQ(all_tokens(second.train), all_tokens(first.train));
  ASSERT_EQ(second.warnings.size(), 1u);
  EXPECT_NE(second.warnings[0].find(first.folder), std::string::npos) << second.warnings[0];
  EXPECT_NE(second.warnings[0].find("rebuilt"), std::string::npos) << second.warnings[0];
}

TEST_F(CacheTest, LargeSplitsAreWrittenAsSeveralShards) {
  cache_.max_tokens_per_shard = 400;
  const ShardSet set = build_or_load_shards(corpus(), nullptr, *tokenizer_, cache_);
  ASSERT_GT(set.train.size(), 800u);
  EXPECT_EQ(set.train.shards().size(), (set.train.size() + 399) / 400);
  for (const ShardReader& shard : set.train.shards()) EXPECT_LE(shard.token_count(), 400u);
}

TEST_F(CacheTest, SeparateValidationFilesReplaceTheSplit) {
  write_text(dir_ / "val/v.txt", testing::generated_text(99, 20));
  CorpusConfig val_config;
  val_config.sources = {dir_ / "val"};
  const Corpus val(val_config);
  const Corpus docs = corpus();
  const ShardSet set = build_or_load_shards(docs, &val, *tokenizer_, cache_);
  EXPECT_EQ(set.train.size(), encode_corpus(docs, *tokenizer_).tokens.size());
  EXPECT_EQ(all_tokens(set.val), encode_corpus(val, *tokenizer_).tokens);
  EXPECT_EQ(set.val_documents, 1u);
}

TEST_F(CacheTest, ImpossibleSplitsAreClearErrors) {
  cache_.split.val_fraction = 1.0;
  expect_error<std::invalid_argument>([&] { build_or_load_shards(corpus(), nullptr, *tokenizer_, cache_); },
                                      {"val_fraction 1", "[0, 1)"});
  cache_.split.mode = SplitMode::kDocuments;
  cache_.split.val_fraction = 0.95;
  expect_error<std::invalid_argument>([&] { build_or_load_shards(corpus(), nullptr, *tokenizer_, cache_); },
                                      {"6 of 6 documents", "none for training"});
}

TEST_F(CacheTest, TokenizerIsTrainedOnceAndRetrainedWhenTheCorpusChanges) {
  TokenizerConfig config;
  config.vocab_size = 110;
  config.byte_fallback = false;
  const CachedTokenizer first = train_or_load_tokenizer(corpus(), config, cache_.cache_dir);
  EXPECT_TRUE(first.trained);
  EXPECT_TRUE(std::filesystem::exists(first.path));
  const CachedTokenizer second = train_or_load_tokenizer(corpus(), config, cache_.cache_dir);
  EXPECT_FALSE(second.trained);
  EXPECT_EQ(second.path, first.path);
  EXPECT_EQ(second.tokenizer.model_bytes(), first.tokenizer.model_bytes());
  write_text(dir_ / "corpus/doc9.txt", testing::generated_text(77, 10));
  const CachedTokenizer third = train_or_load_tokenizer(corpus(), config, cache_.cache_dir);
  EXPECT_TRUE(third.trained);
  EXPECT_NE(third.path, first.path);
}

TEST_F(CacheTest, UnusableCachedTokenizerIsTrainedAgainWithAWarningReturnedNotPrinted) {
  TokenizerConfig config;
  config.vocab_size = 110;
  config.byte_fallback = false;
  const CachedTokenizer first = train_or_load_tokenizer(corpus(), config, cache_.cache_dir);
  EXPECT_TRUE(first.warnings.empty());
  std::filesystem::remove(first.path);
  write_text(first.path, "not a model");
  ::testing::internal::CaptureStderr();
  const CachedTokenizer second = train_or_load_tokenizer(corpus(), config, cache_.cache_dir);
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
  EXPECT_TRUE(second.trained);
  EXPECT_EQ(second.tokenizer.model_bytes(), first.tokenizer.model_bytes());
  ASSERT_EQ(second.warnings.size(), 1u);
  EXPECT_NE(second.warnings[0].find(first.path), std::string::npos) << second.warnings[0];
}

TEST(SplitMode, NamesParseAndBadNamesAreRejected) {
  EXPECT_EQ(parse_split_mode("tokens"), SplitMode::kTokens);
  EXPECT_EQ(parse_split_mode("documents"), SplitMode::kDocuments);
  expect_error<std::invalid_argument>([] { parse_split_mode("lines"); }, {"'lines'", "tokens, documents"});
}

}  // namespace
}  // namespace tapelm
