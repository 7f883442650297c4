// hash64 must be bit-exact XXH64 (reference values from `xxhsum -H1`), so cache keys are
// stable and checkable with standard tools.
#include <tapelm/data/hash.h>

#include <gtest/gtest.h>

#include <string>

#include "data_test_util.h"

namespace tapelm {
namespace {

TEST(Hash64, MatchesReferenceXxh64Values) {
  EXPECT_EQ(hash64(std::string_view("")), 0xef46db3751d8e999ull);
  EXPECT_EQ(hash64(std::string_view("abc")), 0x44bc2cf5ad770999ull);
  EXPECT_EQ(hash64(std::string(100, '\0')), 0x17bb1103c92c502full);
  EXPECT_EQ(hash64(std::string_view("The quick brown fox jumps over the lazy dog")), 0x0b242d361fda71bcull);
}

TEST(Hash64, ChangesWhenOneByteChanges) {
  std::string text = testing::generated_text(1, 50);
  const uint64_t before = hash64(text);
  text[text.size() / 2] ^= 1;
  EXPECT_NE(hash64(text), before);
}

TEST(Hash64, HashFileEqualsHashOfContentsIncludingEmptyFile) {
  testing::TempDir dir;
  const std::string text = testing::generated_text(2, 30);
  testing::write_text(dir / "a.txt", text);
  testing::write_text(dir / "empty.txt", "");
  EXPECT_EQ(hash_file(dir / "a.txt"), hash64(text));
  EXPECT_EQ(hash_file(dir / "empty.txt"), hash64(std::string_view("")));
  EXPECT_THROW(hash_file(dir / "missing.txt"), std::runtime_error);
}

TEST(Hash64, HexIsSixteenZeroPaddedLowercaseDigits) {
  EXPECT_EQ(hex64(0), "0000000000000000");
  EXPECT_EQ(hex64(0x0b242d361fda71bcull), "0b242d361fda71bc");
}

}  // namespace
}  // namespace tapelm
