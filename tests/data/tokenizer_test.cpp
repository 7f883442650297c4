// Tokenizer training on a small generated corpus, exact round trips, fixed special ids,
// save/load, determinism, and clear errors for impossible settings.
#include "data/tokenizer.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "data/corpus.h"
#include "data_test_util.h"

namespace tapelm {
namespace {

using testing::expect_error;
using testing::TempDir;
using testing::write_text;

Corpus small_corpus(const TempDir& dir) {
  write_text(dir / "corpus/a.txt", testing::generated_text(1, 120));
  write_text(dir / "corpus/b.txt", testing::generated_text(2, 120));
  CorpusConfig config;
  config.sources = {dir / "corpus"};
  return Corpus(config);
}

TokenizerConfig small_config(const std::string& model_type, int vocab_size, bool byte_fallback) {
  TokenizerConfig config;
  config.model_type = model_type;
  config.vocab_size = vocab_size;
  config.byte_fallback = byte_fallback;
  return config;
}

TEST(Tokenizer, TrainedBpeHasRequestedVocabAndFixedSpecialIds) {
  TempDir dir;
  const Tokenizer tok = Tokenizer::train(small_corpus(dir), small_config("bpe", 120, false));
  EXPECT_EQ(tok.vocab_size(), 120);
  EXPECT_EQ(tok.pad_id(), kPadId);
  EXPECT_EQ(tok.bos_id(), kBosId);
  EXPECT_EQ(tok.eos_id(), kEosId);
  EXPECT_EQ(tok.unk_id(), kUnkId);
  EXPECT_EQ(tok.newline_id(), kNewlineId);
  EXPECT_EQ(tok.piece(kPadId), "<pad>");
  EXPECT_EQ(tok.piece(kBosId), "<bos>");
  EXPECT_EQ(tok.piece(kEosId), "<eos>");
  EXPECT_EQ(tok.piece(kUnkId), "<unk>");
  EXPECT_EQ(tok.piece(kNewlineId), "\n");
}

TEST(Tokenizer, EncodeDecodeRoundTripsTextExactly) {
  TempDir dir;
  const Tokenizer tok = Tokenizer::train(small_corpus(dir), small_config("bpe", 150, false));
  const std::string text = "the whale sailed over the sea.\nAhab  called me\n\n  never mind.\n";
  const std::vector<int32_t> ids = tok.encode(text);
  EXPECT_LT(ids.size(), text.size()) << "merges should make fewer tokens than bytes";
  EXPECT_EQ(tok.decode(ids), text);
  // Each "\n" is exactly one newline token.
  EXPECT_EQ(std::count(ids.begin(), ids.end(), kNewlineId), 4);
}

TEST(Tokenizer, WordsAtLineStartTokenizeLikeWordsMidLine) {
  TempDir dir;
  const Tokenizer tok = Tokenizer::train(small_corpus(dir), small_config("bpe", 150, false));
  const std::vector<int32_t> mid = tok.encode("whale");
  std::vector<int32_t> after_newline = tok.encode("sea\nwhale");
  after_newline.erase(after_newline.begin(), after_newline.begin() + (after_newline.size() - mid.size()));
  EXPECT_EQ(after_newline, mid);
}

TEST(Tokenizer, UnigramModelAlsoRoundTrips) {
  TempDir dir;
  const Tokenizer tok = Tokenizer::train(small_corpus(dir), small_config("unigram", 60, false));
  EXPECT_EQ(tok.vocab_size(), 60);
  const std::string text = "a storm over the deep ocean.\nQueequeg sailed.";
  EXPECT_EQ(tok.decode(tok.encode(text)), text);
}

TEST(Tokenizer, ByteFallbackRoundTripsCharactersNeverSeenInTraining) {
  TempDir dir;
  const Tokenizer tok = Tokenizer::train(small_corpus(dir), small_config("bpe", 320, true));
  const std::string text = "Ahab sagte: \xC3\xBC" "ber das Meer \xE2\x80\x94 \xE4\xB8\xAD\xE6\x96\x87 \xF0\x9F\x90\xB3";
  const std::vector<int32_t> ids = tok.encode(text);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), kUnkId), 0);
  EXPECT_EQ(tok.decode(ids), text);
}

TEST(Tokenizer, WithoutByteFallbackUnseenCharactersBecomeUnk) {
  TempDir dir;
  const Tokenizer tok = Tokenizer::train(small_corpus(dir), small_config("bpe", 120, false));
  const std::vector<int32_t> ids = tok.encode("sea \xE4\xB8\xAD");
  EXPECT_EQ(std::count(ids.begin(), ids.end(), kUnkId), 1);
}

TEST(Tokenizer, SavedModelLoadsAndEncodesIdentically) {
  TempDir dir;
  const Tokenizer tok = Tokenizer::train(small_corpus(dir), small_config("bpe", 150, false));
  tok.save(dir / "tok.model");
  const Tokenizer loaded = Tokenizer::load(dir / "tok.model");
  const std::string text = testing::generated_text(9, 5);
  EXPECT_EQ(loaded.encode(text), tok.encode(text));
  EXPECT_EQ(loaded.vocab_size(), tok.vocab_size());
  EXPECT_EQ(loaded.model_hash(), tok.model_hash());
  EXPECT_EQ(loaded.newline_id(), kNewlineId);
}

TEST(Tokenizer, TrainingIsDeterministicAndTheSeedDrivesLineSampling) {
  TempDir dir;
  // Made-up words from random syllables, so which lines are sampled changes the merges.
  static const char* const kSyllables[] = {"ka", "lo", "mi", "tu", "ren", "sha", "vo", "qui", "bel", "dra"};
  Rng rng(7);
  std::string text;
  for (int line = 0; line < 1000; ++line) {
    for (int word = 0; word < 6; ++word) {
      for (uint64_t k = 0, n = 1 + rng.below(3); k < n; ++k) text += kSyllables[rng.below(10)];
      text += ' ';
    }
    text += '\n';
  }
  write_text(dir / "words.txt", text);
  CorpusConfig corpus_config;
  corpus_config.sources = {dir / "words.txt"};
  const Corpus corpus(corpus_config);
  TokenizerConfig config = small_config("bpe", 150, false);
  config.input_sentence_size = 150;  // sample 150 of the 1000 lines
  const Tokenizer first = Tokenizer::train(corpus, config);
  EXPECT_EQ(Tokenizer::train(corpus, config).model_bytes(), first.model_bytes());
  config.seed += 1;
  EXPECT_NE(Tokenizer::train(corpus, config).model_bytes(), first.model_bytes());
}

TEST(Tokenizer, VocabTooLargeForCorpusIsAClearError) {
  TempDir dir;
  expect_error<std::runtime_error>([&] { Tokenizer::train(small_corpus(dir), small_config("unigram", 5000, false)); },
                                   {"sentencepiece training failed", "vocab_size=5000", "Vocabulary size too high",
                                    "hint"});
}

TEST(Tokenizer, VocabWithoutRoomForByteFallbackIsRejectedBeforeTraining) {
  TempDir dir;
  expect_error<std::invalid_argument>([&] { Tokenizer::train(small_corpus(dir), small_config("bpe", 200, true)); },
                                      {"vocab_size 200", "256 byte pieces"});
}

TEST(Tokenizer, BadConfigValuesAreRejected) {
  TempDir dir;
  const Corpus corpus = small_corpus(dir);
  expect_error<std::invalid_argument>([&] { Tokenizer::train(corpus, small_config("wordpiece", 100, false)); },
                                      {"model_type 'wordpiece'", "bpe, unigram"});
  TokenizerConfig coverage = small_config("bpe", 100, false);
  coverage.character_coverage = 1.5;
  expect_error<std::invalid_argument>([&] { Tokenizer::train(corpus, coverage); }, {"character_coverage"});
}

TEST(Tokenizer, LongLinesAreCutForTrainingInsteadOfDropped) {
  TempDir dir;
  // One 20 KB line: sentencepiece would skip it whole above max_sentence_length.
  std::string line;
  while (line.size() < 20000) line += "whale ship sea harpoon ";
  write_text(dir / "long.txt", line);
  CorpusConfig corpus_config;
  corpus_config.sources = {dir / "long.txt"};
  TokenizerConfig config = small_config("bpe", 40, false);
  config.max_sentence_length = 256;
  const Tokenizer tok = Tokenizer::train(Corpus(corpus_config), config);
  EXPECT_LE(tok.encode("harpoon").size(), 2u);
}

TEST(Tokenizer, MissingOrInvalidModelFileIsAnErrorNamingIt) {
  TempDir dir;
  expect_error<std::runtime_error>([&] { Tokenizer::load(dir / "none.model"); }, {dir / "none.model", "does not exist"});
  write_text(dir / "junk.model", "not a model");
  expect_error<std::runtime_error>([&] { Tokenizer::load(dir / "junk.model"); }, {dir / "junk.model"});
}

TEST(Tokenizer, DecodingAnIdOutsideTheVocabularyIsAnError) {
  TempDir dir;
  const Tokenizer tok = Tokenizer::train(small_corpus(dir), small_config("bpe", 120, false));
  expect_error<std::out_of_range>([&] { tok.decode({5, 120}); }, {"id 120", "[0, 120)"});
}

}  // namespace
}  // namespace tapelm
