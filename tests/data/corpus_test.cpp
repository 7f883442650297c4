// Corpus source resolution (files, folders, globs), its errors, and UTF-8 policies.
#include <tapelm/data/corpus.h>

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "data_test_util.h"

namespace tapelm {
namespace {

using testing::expect_error;
using testing::TempDir;
using testing::write_text;

std::vector<std::string> paths_of(const Corpus& corpus) {
  std::vector<std::string> out;
  for (const CorpusFile& file : corpus.files()) out.push_back(file.path);
  return out;
}

Corpus corpus_of(std::vector<std::string> sources, Utf8Policy policy = Utf8Policy::kError,
                 std::vector<std::string> extensions = {}) {
  CorpusConfig config;
  config.sources = std::move(sources);
  config.utf8 = policy;
  config.extensions = std::move(extensions);
  return Corpus(config);
}

TEST(Corpus, FilesKeepTheOrderTheyAreGivenIn) {
  TempDir dir;
  write_text(dir / "b.txt", "bee\n");
  write_text(dir / "a.txt", "ay\n");
  const Corpus corpus = corpus_of({dir / "b.txt", dir / "a.txt"});
  EXPECT_EQ(paths_of(corpus), (std::vector<std::string>{dir / "b.txt", dir / "a.txt"}));
  EXPECT_EQ(corpus.total_bytes(), 7u);
  EXPECT_EQ(corpus.read(0), "bee\n");
}

TEST(Corpus, FolderIsScannedRecursivelyInSortedOrderSkippingHiddenNames) {
  TempDir dir;
  write_text(dir / "root/z.txt", "z");
  write_text(dir / "root/a/2.txt", "2");
  write_text(dir / "root/a/10.txt", "10");
  write_text(dir / "root/.hidden.txt", "h");
  write_text(dir / "root/.git/config", "g");
  const Corpus corpus = corpus_of({dir / "root"});
  EXPECT_EQ(paths_of(corpus),
            (std::vector<std::string>{dir / "root/a/10.txt", dir / "root/a/2.txt", dir / "root/z.txt"}));
}

TEST(Corpus, FolderScanKeepsOnlyListedExtensions) {
  TempDir dir;
  write_text(dir / "d/1.txt", "one");
  write_text(dir / "d/1.json", "{}");
  const Corpus corpus = corpus_of({dir / "d"}, Utf8Policy::kError, {".txt"});
  EXPECT_EQ(paths_of(corpus), (std::vector<std::string>{dir / "d/1.txt"}));
  expect_error<std::invalid_argument>([&] { corpus_of({dir / "d"}, Utf8Policy::kError, {".md"}); },
                                      {dir / "d", "contains no files", ".md"});
}

TEST(Corpus, GlobPatternsExpandSortedAndFilesReachedTwiceAreKeptOnce) {
  TempDir dir;
  write_text(dir / "c2.txt", "2");
  write_text(dir / "c1.txt", "1");
  write_text(dir / "other.md", "x");
  const Corpus corpus = corpus_of({dir / "c2.txt", dir / "c*.txt"});
  EXPECT_EQ(paths_of(corpus), (std::vector<std::string>{dir / "c2.txt", dir / "c1.txt"}));
}

TEST(Corpus, MissingSourceIsAnErrorNamingIt) {
  TempDir dir;
  write_text(dir / "a.txt", "a");
  expect_error<std::invalid_argument>([&] { corpus_of({dir / "a.txt", dir / "nope.txt"}); },
                                      {dir / "nope.txt", "does not exist"});
}

TEST(Corpus, PatternMatchingNothingIsAnError) {
  TempDir dir;
  expect_error<std::invalid_argument>([&] { corpus_of({dir / "*.txt"}); }, {"no files match", dir / "*.txt"});
}

TEST(Corpus, NoSourcesIsAnError) {
  expect_error<std::invalid_argument>([] { corpus_of({}); }, {"no sources"});
}

TEST(Corpus, CorpusOfEmptyFilesIsAnError) {
  TempDir dir;
  write_text(dir / "e1.txt", "");
  write_text(dir / "e2.txt", "");
  expect_error<std::invalid_argument>([&] { corpus_of({dir.path()}); }, {"corpus is empty", "2 file(s)"});
}

TEST(Corpus, InvalidUtf8IsAnErrorNamingFileOffsetAndLine) {
  TempDir dir;
  write_text(dir / "bad.txt", "line one\nline two\nnaïve caf\xE9\n");
  const Corpus corpus = corpus_of({dir / "bad.txt"});
  // "line one\n" (9) + "line two\n" (9) + "na\xC3\xAFve caf" (10) puts the bad byte at 28.
  expect_error<std::runtime_error>([&] { corpus.read(0); },
                                   {dir / "bad.txt", "byte offset 28", "line 3", "0xE9", "replace"});
}

TEST(Corpus, ErrorOffsetCountsTheByteOrderMark) {
  TempDir dir;
  write_text(dir / "bom.txt", "\xEF\xBB\xBF" "ab\xFF");
  expect_error<std::runtime_error>([&] { corpus_of({dir / "bom.txt"}).read(0); }, {"byte offset 5", "line 1"});
}

TEST(Corpus, ReplacePolicySubstitutesReplacementCharacterAndCounts) {
  TempDir dir;
  write_text(dir / "bad.txt", "caf\xE9!\n");
  const Corpus corpus = corpus_of({dir / "bad.txt"}, Utf8Policy::kReplace);
  uint64_t repaired = 0;
  EXPECT_EQ(corpus.read(0, &repaired), "caf\xEF\xBF\xBD!\n");
  EXPECT_EQ(repaired, 1u);
}

TEST(Corpus, SkipPolicyDropsInvalidBytes) {
  TempDir dir;
  write_text(dir / "bad.txt", "caf\xE9!\n");
  EXPECT_EQ(corpus_of({dir / "bad.txt"}, Utf8Policy::kSkip).read(0), "caf!\n");
}

TEST(Corpus, ByteOrderMarkIsDropped) {
  TempDir dir;
  write_text(dir / "bom.txt", "\xEF\xBB\xBFhello");
  EXPECT_EQ(corpus_of({dir / "bom.txt"}).read(0), "hello");
}

}  // namespace
}  // namespace tapelm
