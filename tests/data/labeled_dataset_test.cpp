// Labeled examples from JSONL, CSV, TSV and label folders, and every bad-input error with
// the file and line it names.
#include <gtest/gtest.h>

#include <tapelm/data/labeled_dataset.h>
#include "data_test_util.h"

namespace tapelm {
namespace {

using testing::expect_error;
using testing::TempDir;
using testing::write_text;

LabeledDataConfig config_for(LabeledFormat format, const std::string& source) {
  LabeledDataConfig config;
  config.format = format;
  config.sources = {source};
  return config;
}

TEST(LabeledDataset, ReadsJsonlWithConfiguredFieldsAndIntegerLabels) {
  TempDir dir;
  write_text(dir / "d.jsonl", "{\"review\": \"great film\", \"stars\": 5}\n\n{\"review\": \"dull\", \"stars\": 1}\n");
  LabeledDataConfig config = config_for(LabeledFormat::kJsonl, dir / "d.jsonl");
  config.input_field = "review";
  config.target_field = "stars";
  const auto examples = load_labeled_examples(config);
  ASSERT_EQ(examples.size(), 2u);
  EXPECT_EQ(examples[0].input, "great film");
  EXPECT_EQ(examples[0].target, "5");
  EXPECT_EQ(examples[1].input, "dull");
  EXPECT_EQ(examples[1].origin, dir / "d.jsonl" + ":3");
}

TEST(LabeledDataset, ReadsCsvWithQuotingAndGroupColumn) {
  TempDir dir;
  write_text(dir / "g2p.csv",
             "word,phones,id\nREAD,R IY1 D,read\nREAD,R EH1 D,read\n\"NEW\nLINE\",N UW1,x\n\"A,B\",\"\"\"Q\"\"\",y\n");
  LabeledDataConfig config = config_for(LabeledFormat::kCsv, dir / "g2p.csv");
  config.input_field = "word";
  config.target_field = "phones";
  config.group_field = "id";
  const auto examples = load_labeled_examples(config);
  ASSERT_EQ(examples.size(), 4u);
  EXPECT_EQ(examples[1].target, "R EH1 D");
  EXPECT_EQ(examples[1].group, "read");
  EXPECT_EQ(examples[2].input, "NEW\nLINE");
  EXPECT_EQ(examples[3].input, "A,B");
  EXPECT_EQ(examples[3].target, "\"Q\"");
  EXPECT_EQ(examples[3].origin, dir / "g2p.csv" + ":6");
}

TEST(LabeledDataset, ReadsTsvFromSeveralFilesInOrder) {
  TempDir dir;
  write_text(dir / "b.tsv", "text\tlabel\nsecond\tno\n");
  write_text(dir / "a.tsv", "label\ttext\nyes\tfirst, with comma\n");
  LabeledDataConfig config = config_for(LabeledFormat::kTsv, dir / "*.tsv");
  const auto examples = load_labeled_examples(config);
  ASSERT_EQ(examples.size(), 2u);
  EXPECT_EQ(examples[0].input, "first, with comma");
  EXPECT_EQ(examples[0].target, "yes");
  EXPECT_EQ(examples[1].input, "second");
}

TEST(LabeledDataset, ReadsFolderPerLabelAndMergesFoldersThroughTheMap) {
  TempDir dir;
  write_text(dir / "mail/ham/1.txt", "lunch?");
  write_text(dir / "mail/spam-1/a.txt", "win money");
  write_text(dir / "mail/spam-2/deep/b.txt", "cheap pills");
  write_text(dir / "mail/.hidden/c.txt", "ignored");
  LabeledDataConfig config = config_for(LabeledFormat::kFolders, dir / "mail");
  config.label_map = {{"spam-1", "spam"}, {"spam-2", "spam"}};
  const auto examples = load_labeled_examples(config);
  ASSERT_EQ(examples.size(), 3u);
  EXPECT_EQ(examples[0].target, "ham");
  EXPECT_EQ(examples[0].input, "lunch?");
  EXPECT_EQ(examples[1].target, "spam");
  EXPECT_EQ(examples[2].target, "spam");
  EXPECT_EQ(examples[2].input, "cheap pills");
}

TEST(LabeledDataset, FileOutsideALabelFolderIsAnError) {
  TempDir dir;
  write_text(dir / "mail/ham/1.txt", "hi");
  write_text(dir / "mail/stray.txt", "no label");
  expect_error<std::runtime_error>([&] { load_labeled_examples(config_for(LabeledFormat::kFolders, dir / "mail")); },
                                   {"stray.txt", "inside a label folder"});
}

TEST(LabeledDataset, EmptyFileInLabelFolderIsAnEmptyText) {
  TempDir dir;
  write_text(dir / "mail/ham/1.txt", "hi");
  write_text(dir / "mail/ham/2.txt", "");
  expect_error<std::runtime_error>([&] { load_labeled_examples(config_for(LabeledFormat::kFolders, dir / "mail")); },
                                   {"2.txt", "empty text"});
}

TEST(LabeledDataset, BadJsonNamesFileAndLine) {
  TempDir dir;
  write_text(dir / "d.jsonl", "{\"text\": \"a\", \"label\": \"x\"}\n{\"text\": \"b\", \"label\": }\n");
  expect_error<std::runtime_error>([&] { load_labeled_examples(config_for(LabeledFormat::kJsonl, dir / "d.jsonl")); },
                                   {"d.jsonl:2", "bad JSON"});
}

TEST(LabeledDataset, NonObjectJsonLineIsAnError) {
  TempDir dir;
  write_text(dir / "d.jsonl", "[1, 2]\n");
  expect_error<std::runtime_error>([&] { load_labeled_examples(config_for(LabeledFormat::kJsonl, dir / "d.jsonl")); },
                                   {"d.jsonl:1", "expected a JSON object", "array"});
}

TEST(LabeledDataset, MissingFieldNamesFieldAndWhatIsPresent) {
  TempDir dir;
  write_text(dir / "d.jsonl", "{\"text\": \"a\", \"label\": \"x\"}\n{\"text\": \"b\", \"lable\": \"y\"}\n");
  expect_error<std::runtime_error>([&] { load_labeled_examples(config_for(LabeledFormat::kJsonl, dir / "d.jsonl")); },
                                   {"d.jsonl:2", "missing field 'label'", "lable"});
}

TEST(LabeledDataset, WrongFieldTypeIsAnError) {
  TempDir dir;
  write_text(dir / "d.jsonl", "{\"text\": [\"a\"], \"label\": \"x\"}\n");
  expect_error<std::runtime_error>([&] { load_labeled_examples(config_for(LabeledFormat::kJsonl, dir / "d.jsonl")); },
                                   {"d.jsonl:1", "field 'text' is array"});
}

TEST(LabeledDataset, UnknownLabelIsAnErrorWhenALabelSetIsGiven) {
  TempDir dir;
  write_text(dir / "d.csv", "text,label\nfine,ham\nbuy now,spma\n");
  LabeledDataConfig config = config_for(LabeledFormat::kCsv, dir / "d.csv");
  config.labels = {"ham", "spam"};
  expect_error<std::runtime_error>([&] { load_labeled_examples(config); },
                                   {"d.csv:3", "unknown label 'spma'", "ham, spam"});
}

TEST(LabeledDataset, EmptyTextIsAnError) {
  TempDir dir;
  write_text(dir / "d.csv", "text,label\nfine,ham\n  ,spam\n");
  expect_error<std::runtime_error>([&] { load_labeled_examples(config_for(LabeledFormat::kCsv, dir / "d.csv")); },
                                   {"d.csv:3", "empty text"});
}

TEST(LabeledDataset, RaggedCsvRowNamesLineAndFieldCounts) {
  TempDir dir;
  write_text(dir / "d.csv", "text,label,source\na,b,c\n\"x,y\",b\n");
  expect_error<std::runtime_error>([&] { load_labeled_examples(config_for(LabeledFormat::kCsv, dir / "d.csv")); },
                                   {"d.csv:3", "2 fields where the header has 3"});
}

TEST(LabeledDataset, UnterminatedQuoteInCsvFileIsAnError) {
  TempDir dir;
  write_text(dir / "d.csv", "text,label\n\"never closed,ham\n");
  expect_error<std::runtime_error>([&] { load_labeled_examples(config_for(LabeledFormat::kCsv, dir / "d.csv")); },
                                   {"d.csv:2", "unterminated"});
}

TEST(LabeledDataset, MissingColumnNamesTheHeader) {
  TempDir dir;
  write_text(dir / "d.tsv", "sentence\tlabel\nhi\tx\n");
  expect_error<std::runtime_error>([&] { load_labeled_examples(config_for(LabeledFormat::kTsv, dir / "d.tsv")); },
                                   {"d.tsv:1", "no column 'text'", "sentence, label"});
}

TEST(LabeledDataset, InvalidUtf8FollowsTheCorpusPolicy) {
  TempDir dir;
  write_text(dir / "d.jsonl", "{\"text\": \"ok\", \"label\": \"a\"}\n{\"text\": \"caf\xE9\", \"label\": \"b\"}\n");
  LabeledDataConfig config = config_for(LabeledFormat::kJsonl, dir / "d.jsonl");
  expect_error<std::runtime_error>([&] { load_labeled_examples(config); }, {"d.jsonl", "invalid UTF-8", "line 2"});
  config.utf8 = Utf8Policy::kReplace;
  const auto examples = load_labeled_examples(config);
  ASSERT_EQ(examples.size(), 2u);
  EXPECT_EQ(examples[1].input, "caf\xEF\xBF\xBD");
}

TEST(LabeledDataset, NoExamplesAndBadConfigAreErrors) {
  TempDir dir;
  write_text(dir / "d.csv", "text,label\n");
  expect_error<std::invalid_argument>([&] { load_labeled_examples(config_for(LabeledFormat::kCsv, dir / "d.csv")); },
                                      {"hold no examples"});
  expect_error<std::invalid_argument>([] { load_labeled_examples(LabeledDataConfig{}); }, {"no sources"});
  expect_error<std::invalid_argument>([] { parse_enum<LabeledFormat>("xml"); },
                                      {"'xml'", "jsonl, csv, tsv or folders"});
  EXPECT_EQ(parse_enum<LabeledFormat>("tsv"), LabeledFormat::kTsv);
  EXPECT_STREQ(enum_name(LabeledFormat::kFolders), "folders");
}

}  // namespace
}  // namespace tapelm
