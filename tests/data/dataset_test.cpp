// prepare_data end to end: the tokenizer is trained once and then loaded from the cache,
// the shards are built once and then reused, and the samplers run on the result.
#include <tapelm/data/dataset.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <vector>

#include <tapelm/data/atomic_file.h>
#include <tapelm/data/sampler.h>
#include "data_test_util.h"

namespace tapelm {
namespace {

using testing::expect_error;
using testing::TempDir;
using testing::write_text;

DataConfig small_data_config(const TempDir& dir) {
  DataConfig config;
  config.corpus.sources = {dir / "corpus/*.txt"};
  config.tokenizer.vocab_size = 120;
  config.tokenizer.byte_fallback = false;
  config.shards.cache_dir = dir / "cache";
  config.shards.split.val_fraction = 0.1;
  return config;
}

TEST(PrepareData, SecondRunLoadsTokenizerAndShardsFromTheCache) {
  TempDir dir;
  for (int i = 0; i < 3; ++i) write_text(dir / ("corpus/" + std::to_string(i) + ".txt"), testing::generated_text(i, 60));
  const DataConfig config = small_data_config(dir);

  const PreparedData first = prepare_data(config);
  EXPECT_TRUE(first.tokenizer_trained);
  EXPECT_TRUE(first.shards.built);
  EXPECT_TRUE(std::filesystem::exists(first.tokenizer_path));
  EXPECT_EQ(first.shards.train.vocab_size(), 120u);

  const PreparedData second = prepare_data(config);
  EXPECT_FALSE(second.tokenizer_trained);
  EXPECT_FALSE(second.shards.built);
  EXPECT_EQ(second.tokenizer.model_bytes(), first.tokenizer.model_bytes());
  EXPECT_EQ(second.shards.key, first.shards.key);

  RandomSampler sampler(second.shards.train, 16, 1);
  std::vector<int32_t> x, y;
  sampler.next(2, x, y);
  EXPECT_EQ(x.size(), 32u);
  SequentialSampler eval(second.shards.val, 16);
  EXPECT_GT(eval.num_windows(), 0u);
}

TEST(PrepareData, ChangedTokenizerSettingsRetrainTheTokenizer) {
  TempDir dir;
  write_text(dir / "corpus/a.txt", testing::generated_text(1, 80));
  DataConfig config = small_data_config(dir);
  const PreparedData first = prepare_data(config);
  config.tokenizer.vocab_size = 100;
  const PreparedData second = prepare_data(config);
  EXPECT_TRUE(second.tokenizer_trained);
  EXPECT_NE(second.tokenizer_path, first.tokenizer_path);
  EXPECT_TRUE(second.shards.built);
  EXPECT_EQ(second.shards.train.vocab_size(), 100u);
}

TEST(PrepareData, GivenTokenizerModelIsUsedInsteadOfTraining) {
  TempDir dir;
  write_text(dir / "corpus/a.txt", testing::generated_text(1, 80));
  DataConfig config = small_data_config(dir);
  const PreparedData trained = prepare_data(config);
  trained.tokenizer.save(dir / "mine.model");
  config.tokenizer_model = dir / "mine.model";
  config.tokenizer.vocab_size = 4096;  // ignored: the model file decides
  const PreparedData loaded = prepare_data(config);
  EXPECT_FALSE(loaded.tokenizer_trained);
  EXPECT_EQ(loaded.tokenizer_path, dir / "mine.model");
  EXPECT_EQ(loaded.tokenizer.vocab_size(), 120);
  EXPECT_FALSE(loaded.shards.built) << "same corpus and same model bytes: the shards are cached";
}

TEST(PrepareData, SeparateValidationSourcesAreUsed) {
  TempDir dir;
  write_text(dir / "corpus/a.txt", testing::generated_text(1, 80));
  write_text(dir / "heldout/b.txt", testing::generated_text(2, 20));
  DataConfig config = small_data_config(dir);
  config.val_sources = {dir / "heldout"};
  const PreparedData data = prepare_data(config);
  EXPECT_EQ(data.shards.val_documents, 1u);
  EXPECT_EQ(data.shards.train_documents, 1u);
}

// JSON string escaping for the few characters the generated text holds.
std::string json_string(const std::string& text) {
  std::string out = "\"";
  for (const char c : text) out += c == '\n' ? std::string("\\n") : std::string(1, c);
  return out + "\"";
}

TEST(PrepareData, JsonlRecordsGiveTheSameTokenizerAndShardsAsOneTextFilePerDocument) {
  TempDir dir;
  std::string jsonl;
  for (int i = 0; i < 4; ++i) {
    const std::string text = testing::generated_text(i, 30);
    write_text(dir / ("corpus/" + std::to_string(i) + ".txt"), text);
    jsonl += "{\"text\": " + json_string(text) + ", \"label\": \"l" + std::to_string(i % 2) + "\"}\n";
  }
  write_text(dir / "labeled.jsonl", jsonl);
  const DataConfig text_config = small_data_config(dir);
  DataConfig jsonl_config = text_config;
  jsonl_config.corpus.sources = {dir / "labeled.jsonl"};
  jsonl_config.corpus.format = CorpusFormat::kJsonl;

  const PreparedData from_text = prepare_data(text_config);
  const PreparedData from_jsonl = prepare_data(jsonl_config);
  EXPECT_EQ(from_jsonl.tokenizer.model_bytes(), from_text.tokenizer.model_bytes());
  EXPECT_NE(from_jsonl.shards.key, from_text.shards.key) << "the format is part of the key";
  EXPECT_EQ(from_jsonl.shards.train_documents + from_jsonl.shards.val_documents, 4u);
  for (const std::string shard : {"train_00000.bin", "val_00000.bin"}) {
    EXPECT_EQ(read_file(from_jsonl.shards.folder + "/" + shard), read_file(from_text.shards.folder + "/" + shard))
        << shard;
  }
}

TEST(PrepareData, TheTextFieldIsPartOfTheCacheKeys) {
  TempDir dir;
  std::string jsonl;
  for (int i = 0; i < 4; ++i) {
    jsonl += "{\"text\": " + json_string(testing::generated_text(i, 30)) + ", \"other\": " +
             json_string(testing::generated_text(10 + i, 30)) + "}\n";
  }
  write_text(dir / "labeled.jsonl", jsonl);
  DataConfig config = small_data_config(dir);
  config.corpus.sources = {dir / "labeled.jsonl"};
  config.corpus.format = CorpusFormat::kJsonl;
  const PreparedData text = prepare_data(config);
  config.corpus.text_field = "other";
  const PreparedData other = prepare_data(config);
  EXPECT_TRUE(other.tokenizer_trained);
  EXPECT_NE(other.tokenizer_path, text.tokenizer_path);
  EXPECT_TRUE(other.shards.built);
  EXPECT_NE(other.shards.key, text.shards.key);
}

TEST(PrepareData, MissingCorpusIsAnErrorNamingTheSource) {
  TempDir dir;
  DataConfig config = small_data_config(dir);
  config.corpus.sources = {dir / "nowhere"};
  expect_error<std::invalid_argument>([&] { prepare_data(config); }, {dir / "nowhere", "does not exist"});
}

}  // namespace
}  // namespace tapelm
