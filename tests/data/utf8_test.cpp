// UTF-8 validation follows Unicode Table 3-7; repair replaces or drops each maximal
// ill-formed subpart (so "\xE0\x80" is two subparts, "\xF0\x9F\x98" at the end is one).
#include <tapelm/data/utf8.h>

#include <gtest/gtest.h>

#include <string>

namespace tapelm {
namespace {

const std::string kFffd = "\xEF\xBF\xBD";

TEST(Utf8, AcceptsWellFormedText) {
  EXPECT_EQ(find_invalid_utf8(""), std::string::npos);
  EXPECT_EQ(find_invalid_utf8("plain ascii text that is longer than eight bytes"), std::string::npos);
  EXPECT_EQ(find_invalid_utf8("caf\xC3\xA9 \xE2\x80\x94 \xE4\xB8\xAD \xF0\x9F\x98\x80 \xF4\x8F\xBF\xBF"), std::string::npos);
}

TEST(Utf8, FindsFirstIllFormedSequence) {
  EXPECT_EQ(find_invalid_utf8("abc\x80"), 3u);                  // lone continuation byte
  EXPECT_EQ(find_invalid_utf8("ab\xC0\x80"), 2u);               // overlong NUL
  EXPECT_EQ(find_invalid_utf8("\xE0\x80\x80"), 0u);             // overlong 3-byte
  EXPECT_EQ(find_invalid_utf8("x\xED\xA0\x80"), 1u);            // UTF-16 surrogate
  EXPECT_EQ(find_invalid_utf8("\xF4\x90\x80\x80"), 0u);         // above U+10FFFF
  EXPECT_EQ(find_invalid_utf8("\xF5\x80\x80\x80"), 0u);         // invalid lead
  EXPECT_EQ(find_invalid_utf8("0123456789\xC3"), 10u);          // truncated at the end
  EXPECT_EQ(find_invalid_utf8("\xC3\xA9\xC3("), 2u);            // missing continuation
}

TEST(Utf8, ReplacePolicyPutsOneReplacementPerMaximalSubpart) {
  std::string text = "a\xE0\x80" "b\xF0\x9F\x98";
  EXPECT_EQ(repair_utf8(text, Utf8Policy::kReplace), 3u);
  EXPECT_EQ(text, "a" + kFffd + kFffd + "b" + kFffd);
  EXPECT_EQ(find_invalid_utf8(text), std::string::npos);
}

TEST(Utf8, SkipPolicyDropsIllFormedBytesAndKeepsTheRest) {
  std::string text = "caf\xE9 au lait \xC3\xA9t\xE9";
  EXPECT_EQ(repair_utf8(text, Utf8Policy::kSkip), 2u);
  EXPECT_EQ(text, "caf au lait \xC3\xA9t");
}

TEST(Utf8, RepairLeavesValidTextUnchanged) {
  std::string text = "na\xC3\xAFve";
  EXPECT_EQ(repair_utf8(text, Utf8Policy::kReplace), 0u);
  EXPECT_EQ(text, "na\xC3\xAFve");
}

TEST(Utf8, PolicyNamesParseAndBadNamesAreRejected) {
  EXPECT_EQ(parse_enum<Utf8Policy>("error"), Utf8Policy::kError);
  EXPECT_EQ(parse_enum<Utf8Policy>("replace"), Utf8Policy::kReplace);
  EXPECT_EQ(parse_enum<Utf8Policy>("skip"), Utf8Policy::kSkip);
  EXPECT_STREQ(enum_name(Utf8Policy::kSkip), "skip");
  try {
    parse_enum<Utf8Policy>("ignore");
    FAIL() << "expected std::invalid_argument";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("'ignore'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("error, replace or skip"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace tapelm
