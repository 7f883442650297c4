// Documents of a corpus: whole text files, or one field of each JSONL / CSV / TSV record, with
// errors naming the file, line and field.
#include <tapelm/data/documents.h>

#include <gtest/gtest.h>

#include <tapelm/data/corpus.h>
#include "data_test_util.h"

namespace tapelm {
namespace {

using testing::expect_error;
using testing::TempDir;
using testing::write_text;

Corpus corpus_of(const std::string& path, CorpusFormat format, const std::string& text_field = "text") {
  CorpusConfig config;
  config.sources = {path};
  config.format = format;
  config.text_field = text_field;
  return Corpus(config);
}

TEST(Documents, ATextFileIsOneDocument) {
  TempDir dir;
  write_text(dir / "a.txt", "one\ntwo\n");
  const std::vector<Document> documents = read_documents(corpus_of(dir / "a.txt", CorpusFormat::kText), 0);
  ASSERT_EQ(documents.size(), 1u);
  EXPECT_EQ(documents[0].text, "one\ntwo\n");
  EXPECT_EQ(documents[0].origin, dir / "a.txt");
}

TEST(Documents, EveryJsonlRecordIsADocumentOfItsTextField) {
  TempDir dir;
  write_text(dir / "a.jsonl", "{\"body\": \"first\\nline\", \"label\": 1}\n\n{\"label\": 0, \"body\": \"second\"}\n");
  const std::vector<Document> documents = read_documents(corpus_of(dir / "a.jsonl", CorpusFormat::kJsonl, "body"), 0);
  ASSERT_EQ(documents.size(), 2u);
  EXPECT_EQ(documents[0].text, "first\nline");
  EXPECT_EQ(documents[0].origin, dir / "a.jsonl:1");
  EXPECT_EQ(documents[1].text, "second");
  EXPECT_EQ(documents[1].origin, dir / "a.jsonl:3");
}

TEST(Documents, CsvAndTsvRowsAreDocumentsOfTheirColumn) {
  TempDir dir;
  write_text(dir / "a.csv", "label,text\nham,\"hello, world\"\nspam,\"two\nlines\"\n");
  write_text(dir / "a.tsv", "text\tlabel\nhello\tham\n");
  const std::vector<Document> csv = read_documents(corpus_of(dir / "a.csv", CorpusFormat::kCsv), 0);
  ASSERT_EQ(csv.size(), 2u);
  EXPECT_EQ(csv[0].text, "hello, world");
  EXPECT_EQ(csv[1].text, "two\nlines");
  EXPECT_EQ(csv[1].origin, dir / "a.csv:3");
  const std::vector<Document> tsv = read_documents(corpus_of(dir / "a.tsv", CorpusFormat::kTsv), 0);
  ASSERT_EQ(tsv.size(), 1u);
  EXPECT_EQ(tsv[0].text, "hello");
}

TEST(Documents, AMissingFieldIsAnErrorNamingFileLineAndField) {
  TempDir dir;
  write_text(dir / "a.jsonl", "{\"text\": \"ok\"}\n{\"body\": \"no text\"}\n");
  expect_error<std::runtime_error>([&] { read_documents(corpus_of(dir / "a.jsonl", CorpusFormat::kJsonl), 0); },
                                   {dir / "a.jsonl:2", "missing field 'text'", "body"});
  write_text(dir / "b.csv", "body,label\nx,y\n");
  expect_error<std::runtime_error>([&] { read_documents(corpus_of(dir / "b.csv", CorpusFormat::kCsv), 0); },
                                   {dir / "b.csv:1", "no column 'text'"});
}

TEST(Documents, AFieldThatIsNotAStringIsAnError) {
  TempDir dir;
  write_text(dir / "a.jsonl", "{\"text\": \"ok\"}\n{\"text\": 7}\n");
  expect_error<std::runtime_error>([&] { read_documents(corpus_of(dir / "a.jsonl", CorpusFormat::kJsonl), 0); },
                                   {dir / "a.jsonl:2", "field 'text' is number, expected a string"});
}

TEST(CorpusFormat, NamesParseAndBadNamesAreRejected) {
  for (const CorpusFormat format : {CorpusFormat::kText, CorpusFormat::kJsonl, CorpusFormat::kCsv, CorpusFormat::kTsv}) {
    EXPECT_EQ(parse_enum<CorpusFormat>(enum_name(format)), format);
  }
  expect_error<std::invalid_argument>([] { parse_enum<CorpusFormat>("json"); }, {"'json'", "text, jsonl, csv or tsv"});
}

}  // namespace
}  // namespace tapelm
