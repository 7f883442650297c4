// Shard files: header round trip, dtype choice, detection of truncated/corrupt files, and
// TokenDataset reads that span shard boundaries.
#include <tapelm/data/shards.h>

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <vector>

#include <tapelm/data/atomic_file.h>
#include "data_test_util.h"

namespace tapelm {
namespace {

using testing::expect_error;
using testing::TempDir;

std::vector<int32_t> iota_tokens(size_t count, int32_t first, int32_t modulo) {
  std::vector<int32_t> tokens(count);
  for (size_t i = 0; i < count; ++i) tokens[i] = static_cast<int32_t>((first + static_cast<int64_t>(i)) % modulo);
  return tokens;
}

// Rewrites bytes of a file in place.
void patch(const std::string& path, size_t offset, const void* bytes, size_t size) {
  std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
  file.seekp(static_cast<std::streamoff>(offset));
  file.write(static_cast<const char*>(bytes), static_cast<std::streamsize>(size));
}

TEST(Shards, DtypeIsUint16UpTo65536TokensAndUint32Above) {
  EXPECT_EQ(dtype_for_vocab(256), TokenDtype::kUint16);
  EXPECT_EQ(dtype_for_vocab(65536), TokenDtype::kUint16);
  EXPECT_EQ(dtype_for_vocab(65537), TokenDtype::kUint32);
}

TEST(Shards, Uint16ShardRoundTripsHeaderAndTokens) {
  TempDir dir;
  const std::vector<int32_t> tokens = iota_tokens(1000, 7, 65536);
  write_shard(dir / "s.bin", 65536, tokens.data(), tokens.size());
  const ShardReader shard(dir / "s.bin");
  EXPECT_EQ(shard.dtype(), TokenDtype::kUint16);
  EXPECT_EQ(shard.vocab_size(), 65536u);
  EXPECT_EQ(shard.token_count(), 1000u);
  EXPECT_EQ(std::filesystem::file_size(dir / "s.bin"), kShardHeaderBytes + 2 * 1000);
  std::vector<int32_t> back(1000);
  shard.read(0, back.size(), back.data());
  EXPECT_EQ(back, tokens);
  EXPECT_NO_THROW(shard.verify());
  const std::string bytes = read_file(dir / "s.bin");
  EXPECT_EQ(bytes.substr(0, 8), "TPLMSHRD");
}

TEST(Shards, Uint32ShardKeepsIdsAbove65535) {
  TempDir dir;
  const std::vector<int32_t> tokens = {0, 65535, 65536, 99999, 12};
  write_shard(dir / "s.bin", 100000, tokens.data(), tokens.size());
  const ShardReader shard(dir / "s.bin");
  EXPECT_EQ(shard.dtype(), TokenDtype::kUint32);
  EXPECT_EQ(std::filesystem::file_size(dir / "s.bin"), kShardHeaderBytes + 4 * tokens.size());
  EXPECT_EQ(shard.at(2), 65536);
  EXPECT_EQ(shard.at(3), 99999);
  EXPECT_NO_THROW(shard.verify());
}

TEST(Shards, WritingATokenOutsideTheVocabularyIsAnError) {
  TempDir dir;
  const std::vector<int32_t> tokens = {1, 2, 50, 3};
  expect_error<std::invalid_argument>([&] { write_shard(dir / "s.bin", 50, tokens.data(), tokens.size()); },
                                      {"token 2 is 50", "[0, 50)"});
  EXPECT_FALSE(std::filesystem::exists(dir / "s.bin"));
  EXPECT_TRUE(std::filesystem::is_empty(dir.path())) << "the temporary file must be removed";
}

TEST(Shards, TruncatedShardIsAnErrorNamingTheFile) {
  TempDir dir;
  const std::vector<int32_t> tokens = iota_tokens(100, 0, 300);
  write_shard(dir / "s.bin", 300, tokens.data(), tokens.size());
  std::filesystem::resize_file(dir / "s.bin", kShardHeaderBytes + 150);
  expect_error<std::runtime_error>([&] { ShardReader reader(dir / "s.bin"); },
                                   {dir / "s.bin", "truncated", "100 tokens", "only 75"});
  std::filesystem::resize_file(dir / "s.bin", 10);
  expect_error<std::runtime_error>([&] { ShardReader reader(dir / "s.bin"); },
                                   {dir / "s.bin", "truncated", "10 bytes"});
}

TEST(Shards, TrailingBytesAreReportedAsCorrupt) {
  TempDir dir;
  const std::vector<int32_t> tokens = iota_tokens(10, 0, 300);
  write_shard(dir / "s.bin", 300, tokens.data(), tokens.size());
  std::filesystem::resize_file(dir / "s.bin", kShardHeaderBytes + 23);
  expect_error<std::runtime_error>([&] { ShardReader reader(dir / "s.bin"); }, {"corrupt", "3 unexpected bytes"});
}

TEST(Shards, BadMagicVersionOrWidthIsReported) {
  TempDir dir;
  const std::vector<int32_t> tokens = iota_tokens(10, 0, 300);
  write_shard(dir / "s.bin", 300, tokens.data(), tokens.size());
  const std::string original = read_file(dir / "s.bin");

  patch(dir / "s.bin", 0, "NOTSHARD", 8);
  expect_error<std::runtime_error>([&] { ShardReader reader(dir / "s.bin"); }, {dir / "s.bin", "magic"});

  write_file_atomic(dir / "s.bin", original);
  const uint32_t version = 9;
  patch(dir / "s.bin", 8, &version, 4);
  expect_error<std::runtime_error>([&] { ShardReader reader(dir / "s.bin"); }, {"version 9"});

  write_file_atomic(dir / "s.bin", original);
  const uint32_t width = 3;
  patch(dir / "s.bin", 12, &width, 4);
  expect_error<std::runtime_error>([&] { ShardReader reader(dir / "s.bin"); }, {"token width 3"});
}

TEST(Shards, VerifyDetectsFlippedTokenBytes) {
  TempDir dir;
  const std::vector<int32_t> tokens = iota_tokens(64, 0, 300);
  write_shard(dir / "s.bin", 300, tokens.data(), tokens.size());
  const uint16_t other = 299;
  patch(dir / "s.bin", kShardHeaderBytes + 2 * 5, &other, 2);
  const ShardReader shard(dir / "s.bin");  // the header is intact
  expect_error<std::runtime_error>([&] { shard.verify(); }, {dir / "s.bin", "checksum"});
}

TEST(Shards, ReadingPastTheEndIsAnError) {
  TempDir dir;
  const std::vector<int32_t> tokens = iota_tokens(10, 0, 300);
  write_shard(dir / "s.bin", 300, tokens.data(), tokens.size());
  const ShardReader shard(dir / "s.bin");
  std::vector<int32_t> out(5);
  expect_error<std::out_of_range>([&] { shard.read(8, 5, out.data()); }, {"[8, 13)", "has 10"});
}

TEST(Shards, EmptyShardIsValid) {
  TempDir dir;
  write_shard(dir / "s.bin", 300, nullptr, 0);
  const ShardReader shard(dir / "s.bin");
  EXPECT_EQ(shard.token_count(), 0u);
  EXPECT_NO_THROW(shard.verify());
}

TEST(TokenDataset, ReadsSpanShardBoundaries) {
  TempDir dir;
  const std::vector<int32_t> all = iota_tokens(25, 0, 1000);
  write_shard(dir / "a.bin", 1000, all.data(), 10);
  write_shard(dir / "b.bin", 1000, all.data() + 10, 0);
  write_shard(dir / "c.bin", 1000, all.data() + 10, 15);
  const TokenDataset data({dir / "a.bin", dir / "b.bin", dir / "c.bin"}, true);
  EXPECT_EQ(data.size(), 25u);
  EXPECT_EQ(data.vocab_size(), 1000u);
  std::vector<int32_t> out(25);
  data.read(0, 25, out.data());
  EXPECT_EQ(out, all);
  std::vector<int32_t> window(7);
  data.read(6, 7, window.data());
  EXPECT_EQ(window, std::vector<int32_t>(all.begin() + 6, all.begin() + 13));
  expect_error<std::out_of_range>([&] { data.read(20, 6, window.data()); }, {"[20, 26)", "has 25"});
}

TEST(TokenDataset, ShardsWithDifferentVocabSizesAreRejected) {
  TempDir dir;
  const std::vector<int32_t> tokens = iota_tokens(5, 0, 100);
  write_shard(dir / "a.bin", 100, tokens.data(), tokens.size());
  write_shard(dir / "b.bin", 200, tokens.data(), tokens.size());
  expect_error<std::runtime_error>([&] { TokenDataset data({dir / "a.bin", dir / "b.bin"}); },
                                   {dir / "b.bin", "vocab size 200", "has 100"});
}

TEST(TokenDataset, CopiesShareTheMappedShards) {
  TempDir dir;
  const std::vector<int32_t> tokens = iota_tokens(5, 0, 100);
  write_shard(dir / "a.bin", 100, tokens.data(), tokens.size());
  TokenDataset copy;
  {
    const TokenDataset original({dir / "a.bin"});
    copy = original;
  }
  EXPECT_EQ(copy.size(), 5u);
  EXPECT_EQ(copy.shards()[0].at(4), 4);
}

}  // namespace
}  // namespace tapelm
