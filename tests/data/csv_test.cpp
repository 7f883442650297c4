// RFC 4180 parsing: quoting edge cases, line endings, line numbers and errors.
#include <gtest/gtest.h>

#include <tapelm/data/csv.h>
#include "data_test_util.h"

namespace tapelm {
namespace {

using testing::expect_error;
using Fields = std::vector<std::string>;

TEST(Csv, SplitsFieldsAndRecords) {
  const auto records = parse_delimited("a,b,c\n1,2,3\n", ',', "t.csv");
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].fields, (Fields{"a", "b", "c"}));
  EXPECT_EQ(records[1].fields, (Fields{"1", "2", "3"}));
  EXPECT_EQ(records[1].line, 2u);
}

TEST(Csv, QuotedFieldsHoldDelimitersDoubledQuotesAndNewlines) {
  const auto records = parse_delimited("text,label\n\"hello, world\",a\n\"say \"\"hi\"\"\",b\n\"two\nlines\",c\nx,d\n",
                                       ',', "t.csv");
  ASSERT_EQ(records.size(), 5u);
  EXPECT_EQ(records[1].fields, (Fields{"hello, world", "a"}));
  EXPECT_EQ(records[2].fields, (Fields{"say \"hi\"", "b"}));
  EXPECT_EQ(records[3].fields, (Fields{"two\nlines", "c"}));
  EXPECT_EQ(records[3].line, 4u);
  EXPECT_EQ(records[4].line, 6u) << "the embedded newline counts as a line";
}

TEST(Csv, CrlfLineEndsEmptyFieldsAndMissingFinalNewline) {
  const auto records = parse_delimited("a,b\r\n,\r\n\"\",x\r\n\"q\",\"\"", ',', "t.csv");
  ASSERT_EQ(records.size(), 4u);
  EXPECT_EQ(records[1].fields, (Fields{"", ""}));
  EXPECT_EQ(records[2].fields, (Fields{"", "x"}));
  EXPECT_EQ(records[3].fields, (Fields{"q", ""}));
}

TEST(Csv, TrailingCarriageReturnEndsTheLastRecord) {
  const auto records = parse_delimited("a,b\r\nx,y\r", ',', "t.csv");
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[1].fields, (Fields{"x", "y"}));
}

TEST(Csv, BlankLinesAreSkippedButAQuotedEmptyFieldIsARecord) {
  const auto records = parse_delimited("a\n\n\"\"\n\nb\n", ',', "t.csv");
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[1].fields, (Fields{""}));
  EXPECT_EQ(records[1].line, 3u);
  EXPECT_EQ(records[2].fields, (Fields{"b"}));
  EXPECT_EQ(records[2].line, 5u);
}

TEST(Csv, QuoteInsideUnquotedFieldIsLiteral) {
  const auto records = parse_delimited("5\" disk\tit's\n", '\t', "t.tsv");
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].fields, (Fields{"5\" disk", "it's"}));
}

TEST(Csv, TabDelimiterLeavesCommasAlone) {
  const auto records = parse_delimited("word\tphones\nhello, there\tHH AH0\n", '\t', "t.tsv");
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[1].fields, (Fields{"hello, there", "HH AH0"}));
}

TEST(Csv, UnterminatedQuoteNamesTheLineItOpenedOn) {
  expect_error<std::runtime_error>([] { parse_delimited("a,b\n1,2\n\"open,3\n4,5\n", ',', "bad.csv"); },
                                   {"bad.csv:3", "unterminated quoted field"});
}

TEST(Csv, TextAfterClosingQuoteIsAnError) {
  expect_error<std::runtime_error>([] { parse_delimited("a,b\n\"x\"y,2\n", ',', "bad.csv"); },
                                   {"bad.csv:2", "after a closing quote"});
}

}  // namespace
}  // namespace tapelm
