// Tokenizer training on a small generated corpus, exact round trips, fixed special ids,
// save/load, determinism, and clear errors for impossible settings.
#include <tapelm/data/tokenizer.h>

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <tapelm/data/corpus.h>
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

TokenizerConfig small_config(const std::string& type, int vocab_size, bool byte_fallback) {
  TokenizerConfig config;
  config.type = parse_enum<TokenizerType>(type);
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

// A corpus of one text per line, e.g. words or phoneme strings.
Corpus lines_corpus(const TempDir& dir, const std::string& name, const std::string& text) {
  write_text(dir / name, text);
  CorpusConfig config;
  config.sources = {dir / name};
  return Corpus(config);
}

TEST(Tokenizer, CharModelGivesOnePiecePerCharacterWithoutAPrefixSpace) {
  TempDir dir;
  const Tokenizer tok = Tokenizer::train(lines_corpus(dir, "words.txt", "hello\nworld\nabbey's\nzebra\n"),
                                         small_config("char", 100, false));
  // 5 reserved ids plus the 13 distinct characters (no "▁"): vocab_size is only a cap here.
  EXPECT_EQ(tok.vocab_size(), 5 + 13);
  const std::vector<int32_t> ids = tok.encode("hello");
  ASSERT_EQ(ids.size(), 5u);
  EXPECT_EQ(ids[2], ids[3]) << "both l's are the same piece";
  for (int32_t id : ids) EXPECT_GT(id, kNewlineId);
  EXPECT_EQ(tok.piece(ids[0]), "h");
  EXPECT_EQ(tok.decode(ids), "hello");
  EXPECT_EQ(tok.decode(tok.encode("zebra's")), "zebra's");
  EXPECT_EQ(tok.encode("q"), std::vector<int32_t>{kUnkId}) << "a character never seen is <unk> without byte fallback";
}

TEST(Tokenizer, WordModelGivesEveryPhonemeExactlyOneIdAndDecodesBack) {
  TempDir dir;
  const std::string phonemes = "HH AH0 L OW1\nW ER1 L D\nAE1 B IY0 Z\nZ IY1 B R AH0\nHH AH1 L OW0\n";
  TokenizerConfig config = small_config("word", 100, false);
  ASSERT_TRUE(config.split_digits) << "the default must not split stress digits off word-model pieces";
  const Tokenizer tok = Tokenizer::train(lines_corpus(dir, "phonemes.txt", phonemes), config);
  // Distinct phonemes: HH AH0 L OW1 W ER1 D AE1 B IY0 Z IY1 R AH1 OW0 = 15.
  EXPECT_EQ(tok.vocab_size(), 5 + 15);
  const std::vector<int32_t> hello = tok.encode("HH AH0 L OW1");
  ASSERT_EQ(hello.size(), 4u);
  EXPECT_EQ(tok.decode(hello), "HH AH0 L OW1");
  EXPECT_NE(tok.encode("AH0"), tok.encode("AH1")) << "stress digits make different phonemes";
  // The same phoneme gets the same id at the start of a sequence and in the middle.
  const std::vector<int32_t> zebra = tok.encode("Z IY1 B R AH0");
  ASSERT_EQ(zebra.size(), 5u);
  EXPECT_EQ(zebra[4], hello[1]);
  EXPECT_EQ(tok.encode("L"), std::vector<int32_t>{hello[2]});
  EXPECT_EQ(tok.decode(zebra), "Z IY1 B R AH0");
  EXPECT_EQ(tok.encode("HH XX1"), (std::vector<int32_t>{hello[0], kUnkId}));
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
  config.max_sentences = 150;  // sample 150 of the 1000 lines
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
  expect_error<std::invalid_argument>([] { parse_enum<TokenizerType>("wordpiece"); },
                                      {"tokenizer type 'wordpiece'", "bpe, unigram, char or word"});
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
