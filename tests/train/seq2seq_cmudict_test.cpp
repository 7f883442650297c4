// scripts/cmudict_to_tsv.sh on a hand-written CMUdict sample: the header, alternates folded
// into their word with the word as group, the stress-free column, dropped entries, and the
// TSV read back by the labeled-data loader the g2p config uses.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include <tapelm/data/labeled_dataset.h>
#include "scratch_dir.h"

namespace tapelm {
namespace {

using testing::read_text;
using testing::ScratchDir;
using testing::write_text;

// Runs the converter; returns its exit status and leaves its stderr in <scratch>/stderr.
int convert(const ScratchDir& scratch, const std::string& input, const std::string& output) {
  const std::string command = std::string(TAPELM_SOURCE_DIR) + "/scripts/cmudict_to_tsv.sh '" + input + "' '" +
                              output + "' 2> '" + (scratch / "stderr").string() + "'";
  const int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(CmudictToTsv, FoldsAlternatesIntoTheirWordAndDropsNonWords) {
  ScratchDir scratch;
  write_text(scratch / "dict.txt",
             ";;; a comment line\n"
             "ABBE  AE1 B IY0\n"
             "ABBE(1)  AE0 B EY1\n"
             "ABBEY'S  AE1 B IY0 Z\n"
             "A.  EY1\n"
             "ABLE-BODIED  EY1 B AH0 L B AA1 D IY0 D\n"
             "A42128  EY1 F AO1 R T UW1\n"
             "\n"
             "ADDRESS  AH0 D R EH1 S\n"
             "ADDRESS(1)  AE1 D R EH2 S\n"
             "ADDRESS(2)  AE0 D R EH1 S\n"
             "TOMATO  T AH0 M EY1 T OW2 # a trailing comment\n"
             "TOMATO(2)  T AH0 M AA1 T OW2\n"
             "TOMATO(3)  T AH0 M AA1 T OW2\n"
             "BAD  B AE1 d\n"
             "EMPTY\n");
  ASSERT_EQ(convert(scratch, (scratch / "dict.txt").string(), (scratch / "dict.tsv").string()), 0)
      << read_text(scratch / "stderr");
  EXPECT_EQ(read_text(scratch / "dict.tsv"),
            "word\tphonemes\tgroup\tphonemes_no_stress\n"
            "abbe\tAE1 B IY0\tabbe\tAE B IY\n"
            "abbe\tAE0 B EY1\tabbe\tAE B EY\n"
            "abbey's\tAE1 B IY0 Z\tabbey's\tAE B IY Z\n"
            // Alternates that differ only in stress stay distinct rows, sharing their
            // stress-free form: dropping one would lose a stressed pronunciation.
            "address\tAH0 D R EH1 S\taddress\tAH D R EH S\n"
            "address\tAE1 D R EH2 S\taddress\tAE D R EH S\n"
            "address\tAE0 D R EH1 S\taddress\tAE D R EH S\n"
            "tomato\tT AH0 M EY1 T OW2\ttomato\tT AH M EY T OW\n"
            "tomato\tT AH0 M AA1 T OW2\ttomato\tT AH M AA T OW\n");
  const std::string report = read_text(scratch / "stderr");
  EXPECT_NE(report.find("kept 8 pronunciations of 4 words"), std::string::npos) << report;
  EXPECT_NE(report.find("dropped 3 non-letter words, 1 without phonemes, 1 with a malformed phoneme, 1 duplicates, "
                        "1 comment and 1 blank lines"),
            std::string::npos)
      << report;

  // The g2p config's reading of it: alternates share a group, so a split keeps them together.
  LabeledDataConfig config;
  config.format = LabeledFormat::kTsv;
  config.sources = {(scratch / "dict.tsv").string()};
  config.input_field = "word";
  config.target_field = "phonemes_no_stress";
  config.group_field = "group";
  const std::vector<LabeledExample> examples = load_labeled_examples(config);
  ASSERT_EQ(examples.size(), 8u);
  EXPECT_EQ(examples[1].input, "abbe");
  EXPECT_EQ(examples[1].target, "AE B EY");
  EXPECT_EQ(examples[1].group, "abbe");
}

TEST(CmudictToTsv, MissingInputOrNoEntriesFailWithoutWritingTheOutput) {
  ScratchDir scratch;
  EXPECT_NE(convert(scratch, (scratch / "none.txt").string(), (scratch / "out.tsv").string()), 0);
  EXPECT_NE(read_text(scratch / "stderr").find("none.txt"), std::string::npos);
  write_text(scratch / "comments.txt", ";;; only comments\n");
  EXPECT_NE(convert(scratch, (scratch / "comments.txt").string(), (scratch / "out.tsv").string()), 0);
  EXPECT_NE(read_text(scratch / "stderr").find("no entries"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(scratch / "out.tsv"));
  EXPECT_FALSE(std::filesystem::exists(scratch / "out.tsv.partial"));
}

}  // namespace
}  // namespace tapelm
