// Tests for checkpoint directories: CRC-32C, atomic write + verify, refusal of truncated,
// corrupted and incomplete checkpoints, discovery of the newest valid one, pruning and cleanup.
#include <tapelm/train/checkpoint/checkpoint.h>

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <random>
#include <stdexcept>

#include <tapelm/data/atomic_file.h>
#include "crash_testing.h"
#include "scratch_dir.h"
#include <tapelm/train/checkpoint/crc32c.h>

namespace tapelm {
namespace {

namespace fs = std::filesystem;
using testing::read_text;
using testing::ScratchDir;
using testing::write_text;

std::vector<CheckpointFile> sample_files(const std::string& tag) {
  return {CheckpointFile::from_bytes("weights.safetensors", std::string(1000, 'w') + tag),
          CheckpointFile::from_bytes("trainer_state.json", "{\"step\": \"" + tag + "\"}")};
}

std::vector<int64_t> steps_on_disk(const fs::path& out_dir) {
  std::vector<int64_t> steps;
  for (const CheckpointDir& d : list_checkpoint_dirs(out_dir)) steps.push_back(d.step);
  return steps;
}

std::string verify_error(const fs::path& dir) {
  try {
    verify_checkpoint(dir);
  } catch (const CheckpointError& e) {
    return e.what();
  }
  return "";
}

TEST(Crc32c, MatchesPublishedTestVectors) {
  // "123456789" is the standard check value; the 32-byte vectors are from RFC 3720 B.4.
  const std::string digits = "123456789";
  const std::string zeros(32, '\0');
  const std::string ones(32, '\xff');
  std::string ascending(32, '\0');
  for (int i = 0; i < 32; ++i) ascending[i] = static_cast<char>(i);
  for (auto crc : {&crc32c_update, &crc32c_update_portable}) {
    EXPECT_EQ(crc(0, digits.data(), digits.size()), 0xE3069283u);
    EXPECT_EQ(crc(0, zeros.data(), zeros.size()), 0x8A9136AAu);
    EXPECT_EQ(crc(0, ones.data(), ones.size()), 0x62A8AB43u);
    EXPECT_EQ(crc(0, ascending.data(), ascending.size()), 0x46DD794Eu);
    EXPECT_EQ(crc(0, nullptr, 0), 0u);
  }
}

TEST(Crc32c, ChunkedUpdatesEqualOneShotAndBothPathsAgree) {
  std::mt19937 rng(42);
  std::string data(4099, '\0');
  for (char& c : data) c = static_cast<char>(rng());
  const uint32_t whole = crc32c(data.data(), data.size());
  EXPECT_EQ(crc32c_update_portable(0, data.data(), data.size()), whole);
  for (size_t split : {size_t{0}, size_t{1}, size_t{7}, size_t{8}, size_t{1000}, size_t{4098}}) {
    const uint32_t first = crc32c_update(0, data.data(), split);
    EXPECT_EQ(crc32c_update(first, data.data() + split, data.size() - split), whole) << split;
  }
  for (size_t offset = 0; offset < 9; ++offset) {  // unaligned starts and every tail length
    for (size_t size : {size_t{0}, size_t{5}, size_t{13}, size_t{64}}) {
      EXPECT_EQ(crc32c_update(0, data.data() + offset, size), crc32c_update_portable(0, data.data() + offset, size));
    }
  }
}

TEST(Checkpoint, DirectoryNamesHaveEightDigitSteps) {
  EXPECT_EQ(checkpoint_dir_name(200), "step_00000200");
  EXPECT_EQ(checkpoint_dir_name(0), "step_00000000");
  EXPECT_EQ(parse_checkpoint_dir_name("step_00000200"), 200);
  EXPECT_EQ(parse_checkpoint_dir_name("step_200"), std::nullopt);
  EXPECT_EQ(parse_checkpoint_dir_name("step_0000020x"), std::nullopt);
  EXPECT_EQ(parse_checkpoint_dir_name(".tmp_step_00000200_12"), std::nullopt);
  EXPECT_THROW(checkpoint_dir_name(-1), std::invalid_argument);
  EXPECT_THROW(checkpoint_dir_name(kMaxCheckpointStep + 1), std::invalid_argument);
}

TEST(Checkpoint, WriteThenVerifyRoundTrip) {
  ScratchDir run;
  const fs::path source = run / "tokenizer.model";
  write_text(source, "spm model bytes");
  const Checkpoint written = write_checkpoint(
      run.path(), 200,
      {CheckpointFile::from_bytes("weights.safetensors", "weights"), CheckpointFile::copy_of("tokenizer.model", source),
       CheckpointFile{"config.yaml", [](const fs::path& path) { write_text(path, "out_dir: x\n"); }}});

  const fs::path dir = run / "checkpoints/step_00000200";
  EXPECT_EQ(written.dir, dir);
  EXPECT_EQ(written.step, 200);
  const Checkpoint loaded = verify_checkpoint(dir);
  EXPECT_EQ(loaded.step, 200);
  ASSERT_EQ(loaded.files.size(), 3u);
  EXPECT_EQ(loaded.files[0].name, "weights.safetensors");
  EXPECT_EQ(loaded.files[0].size, 7u);
  EXPECT_EQ(loaded.files[0].crc32c, crc32c("weights", 7));
  EXPECT_EQ(loaded.files[1].crc32c, written.files[1].crc32c);
  EXPECT_EQ(read_text(loaded.file("tokenizer.model")), "spm model bytes");
  EXPECT_EQ(read_text(loaded.file("config.yaml")), "out_dir: x\n");
  EXPECT_TRUE(loaded.has("weights.safetensors"));
  EXPECT_FALSE(loaded.has("optimizer.safetensors"));
  EXPECT_THROW(loaded.file("optimizer.safetensors"), CheckpointError);
  EXPECT_TRUE(fs::exists(dir / "manifest.json"));
  // Nothing but the checkpoint and the pointer remains: no temp directories.
  std::vector<std::string> entries;
  for (const auto& e : fs::directory_iterator(run / "checkpoints")) entries.push_back(e.path().filename().string());
  std::sort(entries.begin(), entries.end());
  EXPECT_EQ(entries, (std::vector<std::string>{"latest", "step_00000200"}));
}

TEST(Checkpoint, LatestPointerNamesTheLastWritten) {
  ScratchDir run;
  EXPECT_EQ(read_latest_pointer(run.path()), std::nullopt);
  write_checkpoint(run.path(), 100, sample_files("a"));
  EXPECT_EQ(read_text(run / "checkpoints/latest"), "step_00000100\n");
  write_checkpoint(run.path(), 200, sample_files("b"));
  EXPECT_EQ(read_latest_pointer(run.path()), "step_00000200");
  write_checkpoint(run.path(), 150, sample_files("c"));  // e.g. after resuming from an older one
  EXPECT_EQ(read_latest_pointer(run.path()), "step_00000150");
}

TEST(Checkpoint, RewritingAStepReplacesIt) {
  ScratchDir run;
  write_checkpoint(run.path(), 100, {CheckpointFile::from_bytes("a.bin", "old"), CheckpointFile::from_bytes("b.bin", "x")});
  write_checkpoint(run.path(), 100, {CheckpointFile::from_bytes("a.bin", "new!")});
  const Checkpoint c = verify_checkpoint(run / "checkpoints/step_00000100");
  ASSERT_EQ(c.files.size(), 1u);
  EXPECT_EQ(read_text(c.file("a.bin")), "new!");
  EXPECT_FALSE(fs::exists(run / "checkpoints/step_00000100/b.bin"));
}

TEST(Checkpoint, TruncatedFileIsRefusedAndThePreviousOneIsUsed) {
  ScratchDir run;
  write_checkpoint(run.path(), 100, sample_files("a"));
  write_checkpoint(run.path(), 200, sample_files("b"));
  const fs::path dir = run / "checkpoints/step_00000200";
  fs::resize_file(dir / "weights.safetensors", 500);

  const std::string reason = (dir / "weights.safetensors").string() +
                             ": size is 500 bytes, manifest.json says 1001 (file truncated?)";
  EXPECT_EQ(verify_error(dir), reason);
  EXPECT_NO_THROW(verify_checkpoint(run / "checkpoints/step_00000100"));

  const LatestCheckpoint latest = find_latest_valid(run.path());
  ASSERT_TRUE(latest.checkpoint.has_value());
  EXPECT_EQ(latest.checkpoint->step, 100);
  EXPECT_EQ(latest.skipped, std::vector<std::string>{reason + "; skipped step_00000200"});
}

TEST(Checkpoint, FlippedByteIsRefusedAndThePreviousOneIsUsed) {
  ScratchDir run;
  write_checkpoint(run.path(), 100, sample_files("a"));
  write_checkpoint(run.path(), 200, sample_files("b"));
  const fs::path file = run / "checkpoints/step_00000200/weights.safetensors";
  std::string bytes = read_text(file);
  bytes[123] ^= 0x01;
  write_text(file, bytes);

  const std::string reason = file.string() + ": checksum mismatch (file corrupted?)";
  EXPECT_EQ(verify_error(file.parent_path()), reason);
  const LatestCheckpoint latest = find_latest_valid(run.path());
  ASSERT_TRUE(latest.checkpoint.has_value());
  EXPECT_EQ(latest.checkpoint->step, 100);
  EXPECT_EQ(latest.skipped, std::vector<std::string>{reason + "; skipped step_00000200"});
}

TEST(Checkpoint, MissingManifestOrFileIsRefused) {
  ScratchDir run;
  write_checkpoint(run.path(), 100, sample_files("a"));
  write_checkpoint(run.path(), 200, sample_files("b"));
  write_checkpoint(run.path(), 300, sample_files("c"));
  const fs::path dir200 = run / "checkpoints/step_00000200";
  const fs::path dir300 = run / "checkpoints/step_00000300";
  fs::remove(dir300 / "manifest.json");
  fs::remove(dir200 / "trainer_state.json");

  EXPECT_EQ(verify_error(dir300),
            (dir300 / "manifest.json").string() + ": missing (incomplete checkpoint, or not a checkpoint directory)");
  EXPECT_EQ(verify_error(dir200), (dir200 / "trainer_state.json").string() + ": missing (listed in manifest.json)");
  const LatestCheckpoint latest = find_latest_valid(run.path());
  ASSERT_TRUE(latest.checkpoint.has_value());
  EXPECT_EQ(latest.checkpoint->step, 100);
  ASSERT_EQ(latest.skipped.size(), 2u);  // newest first
  EXPECT_NE(latest.skipped[0].find("step_00000300/manifest.json: missing"), std::string::npos);
  EXPECT_NE(latest.skipped[1].find("step_00000200/trainer_state.json: missing"), std::string::npos);
}

TEST(Checkpoint, MalformedManifestIsRefused) {
  ScratchDir run;
  write_checkpoint(run.path(), 100, sample_files("a"));
  const fs::path dir = run / "checkpoints/step_00000100";
  write_text(dir / "manifest.json", "{\"format\": \"tapelm-checkpoint\", \"version\": 1, \"step\": 1");
  EXPECT_EQ(verify_error(dir).rfind((dir / "manifest.json").string() + ": unreadable manifest (", 0), 0u)
      << verify_error(dir);
  write_text(dir / "manifest.json", "{\"format\": \"something-else\"}");
  EXPECT_EQ(verify_error(dir), (dir / "manifest.json").string() + ": not a version 1 tapelm-checkpoint manifest");
  write_text(dir / "manifest.json",
             "{\"format\": \"tapelm-checkpoint\", \"version\": 1, \"step\": 100, \"files\": "
             "[{\"name\": \"../escape\", \"size\": 1, \"crc32c\": \"00000000\"}]}");
  EXPECT_EQ(verify_error(dir), (dir / "manifest.json").string() + ": invalid file name '../escape'");
  write_text(dir / "manifest.json", "{\"format\": \"tapelm-checkpoint\", \"version\": 1, \"step\": 7, \"files\": []}");
  EXPECT_EQ(verify_error(dir), (dir / "manifest.json").string() + ": says step 7 but the directory is step_00000100");
}

TEST(Checkpoint, NoValidCheckpointLeavesResultEmpty) {
  ScratchDir run;
  EXPECT_FALSE(find_latest_valid(run.path()).checkpoint.has_value());
  write_checkpoint(run.path(), 100, sample_files("a"));
  fs::remove(run / "checkpoints/step_00000100/manifest.json");
  const LatestCheckpoint latest = find_latest_valid(run.path());
  EXPECT_FALSE(latest.checkpoint.has_value());
  EXPECT_EQ(latest.skipped.size(), 1u);
}

TEST(Checkpoint, KeepLastPrunesTheOldest) {
  ScratchDir run;
  for (int64_t step : {100, 200, 300, 400, 500}) write_checkpoint(run.path(), step, sample_files("x"));
  EXPECT_EQ(prune_checkpoints(run.path(), 2, 500), (std::vector<std::string>{"step_00000100", "step_00000200", "step_00000300"}));
  EXPECT_EQ(steps_on_disk(run.path()), (std::vector<int64_t>{400, 500}));
  EXPECT_TRUE(prune_checkpoints(run.path(), 2, 500).empty());
  EXPECT_TRUE(prune_checkpoints(run.path(), 0, 500).empty());  // 0 keeps everything
  EXPECT_EQ(steps_on_disk(run.path()), (std::vector<int64_t>{400, 500}));
}

TEST(Checkpoint, PruningNeverDeletesTheOneJustWritten) {
  ScratchDir run;
  for (int64_t step : {100, 200, 300}) write_checkpoint(run.path(), step, sample_files("x"));
  write_checkpoint(run.path(), 150, sample_files("resumed"));  // resumed from 100, now behind 300
  EXPECT_EQ(prune_checkpoints(run.path(), 1, 150), (std::vector<std::string>{"step_00000100", "step_00000200"}));
  EXPECT_EQ(steps_on_disk(run.path()), (std::vector<int64_t>{150, 300}));
}

TEST(Checkpoint, NonCheckpointEntriesAreIgnored) {
  ScratchDir run;
  write_checkpoint(run.path(), 100, sample_files("a"));
  write_checkpoint(run.path(), 200, sample_files("b"));
  fs::create_directories(run / "checkpoints/notes");
  fs::create_directories(run / "checkpoints/step_300");
  write_text(run / "checkpoints/step_00000900", "a file, not a directory");
  EXPECT_EQ(steps_on_disk(run.path()), (std::vector<int64_t>{100, 200}));
  EXPECT_EQ(find_latest_valid(run.path()).checkpoint->step, 200);
  EXPECT_EQ(prune_checkpoints(run.path(), 1, 200), std::vector<std::string>{"step_00000100"});
  EXPECT_TRUE(fs::exists(run / "checkpoints/notes"));
  EXPECT_TRUE(fs::exists(run / "checkpoints/step_300"));
  EXPECT_TRUE(fs::exists(run / "checkpoints/step_00000900"));
}

TEST(Checkpoint, LeftoverTempDirsAreIgnoredThenCleaned) {
  ScratchDir run;
  write_checkpoint(run.path(), 100, sample_files("a"));
  const std::string crashed = temp_name("step_00000200", testing::dead_pid(), 0);
  const std::string replaced = temp_name("step_00000100", testing::dead_pid(), 3);
  const std::string live = temp_name("step_00000300", ::getppid(), 1);  // a running process
  for (const std::string& name : {crashed, replaced, live}) {
    fs::create_directories(run / "checkpoints" / name);
    write_text(run / "checkpoints" / name / "weights.safetensors", "partial");
  }
  const LatestCheckpoint latest = find_latest_valid(run.path());
  EXPECT_EQ(latest.checkpoint->step, 100);
  EXPECT_TRUE(latest.skipped.empty());

  std::vector<std::string> removed = prune_checkpoints(run.path(), 3, 100);
  std::sort(removed.begin(), removed.end());
  std::vector<std::string> expected{crashed, replaced};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(removed, expected);
  EXPECT_TRUE(fs::exists(run / "checkpoints" / live));  // its writer may still be working
  EXPECT_TRUE(fs::exists(run / "checkpoints/step_00000100"));
}

// The names of the temporaries in <run>/checkpoints.
std::vector<std::string> temporaries(const ScratchDir& run) {
  std::vector<std::string> names;
  for (const std::string& path : testing::temporaries_under(run / "checkpoints")) {
    names.push_back(fs::path(path).filename().string());
  }
  return names;
}

TEST(Checkpoint, PruningRenamesACheckpointAwayBeforeDeletingItsFiles) {
  // Killed right after the rename, and after the first file was deleted.
  for (const char* crash : {"checkpoint.deleting:1", "checkpoint.deleting:2"}) {
    ScratchDir run;
    for (int64_t step : {100, 200, 300}) write_checkpoint(run.path(), step, sample_files("x"));
    ASSERT_TRUE(testing::killed_at(crash, [&] { prune_checkpoints(run.path(), 2, 300); })) << crash;
    EXPECT_EQ(steps_on_disk(run.path()), (std::vector<int64_t>{200, 300})) << crash;
    for (const CheckpointDir& dir : list_checkpoint_dirs(run.path())) EXPECT_NO_THROW(verify_checkpoint(dir.dir));
    const std::vector<std::string> leftovers = temporaries(run);
    EXPECT_EQ(leftovers.size(), 1u) << crash << ": the doomed checkpoint, under a temporary name";
    // The next pruning (or the start of the next run) removes it.
    EXPECT_EQ(prune_checkpoints(run.path(), 2, 300), leftovers);
    EXPECT_TRUE(temporaries(run).empty());
  }
}

TEST(Checkpoint, ReplacingACheckpointNeverLosesItsStep) {
  // Killed right after the swap (the old checkpoint now under a temporary name), and while
  // deleting the old one: step_00000100 is there and whole, and it is the new one.
  for (const char* crash : {"checkpoint.replacing", "checkpoint.deleting"}) {
    ScratchDir run;
    write_checkpoint(run.path(), 100, sample_files("old"));
    ASSERT_TRUE(testing::killed_at(crash, [&] { write_checkpoint(run.path(), 100, sample_files("new")); })) << crash;
    ASSERT_EQ(steps_on_disk(run.path()), std::vector<int64_t>{100}) << crash;
    const Checkpoint replaced = verify_checkpoint(checkpoints_dir(run.path()) / "step_00000100");
    EXPECT_EQ(testing::read_text(replaced.file("trainer_state.json")), "{\"step\": \"new\"}") << crash;
    EXPECT_FALSE(temporaries(run).empty()) << crash;
    prune_checkpoints(run.path(), 0, 100);
    EXPECT_TRUE(temporaries(run).empty()) << crash;
  }
}

TEST(Checkpoint, FailingWriterLeavesNoTrace) {
  ScratchDir run;
  write_checkpoint(run.path(), 100, sample_files("a"));
  const std::vector<CheckpointFile> files = {
      CheckpointFile::from_bytes("weights.safetensors", "w"),
      CheckpointFile{"optimizer.safetensors", [](const fs::path&) { throw std::runtime_error("disk full"); }}};
  EXPECT_THROW(write_checkpoint(run.path(), 200, files), std::runtime_error);
  EXPECT_EQ(steps_on_disk(run.path()), std::vector<int64_t>{100});
  EXPECT_EQ(read_latest_pointer(run.path()), "step_00000100");
  for (const auto& e : fs::directory_iterator(run / "checkpoints")) {
    EXPECT_FALSE(temp_owner(e.path().filename().string())) << e.path();
  }

  try {
    write_checkpoint(run.path(), 300, {CheckpointFile{"lazy.bin", [](const fs::path&) {}}});
    FAIL() << "a writer that creates nothing must be reported";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("the writer for 'lazy.bin' did not create"), std::string::npos) << e.what();
  }
}

TEST(Checkpoint, BadFileListsAreRejected) {
  ScratchDir run;
  EXPECT_THROW(write_checkpoint(run.path(), 1, {CheckpointFile::from_bytes("a/b", "x")}), std::invalid_argument);
  EXPECT_THROW(write_checkpoint(run.path(), 1, {CheckpointFile::from_bytes("..", "x")}), std::invalid_argument);
  EXPECT_THROW(write_checkpoint(run.path(), 1, {CheckpointFile::from_bytes("manifest.json", "x")}), std::invalid_argument);
  EXPECT_THROW(write_checkpoint(run.path(), 1, {CheckpointFile::from_bytes("a", "x"), CheckpointFile::from_bytes("a", "y")}),
               std::invalid_argument);
  EXPECT_FALSE(fs::exists(run / "checkpoints"));
}

TEST(Checkpoint, LocateAcceptsCheckpointOrRunDirectories) {
  ScratchDir run;
  write_checkpoint(run.path(), 100, sample_files("a"));
  write_checkpoint(run.path(), 200, sample_files("b"));
  fs::remove(run / "checkpoints/step_00000200/trainer_state.json");

  std::vector<std::string> skipped;
  EXPECT_EQ(locate_checkpoint(run.path(), &skipped).step, 100);
  EXPECT_EQ(skipped.size(), 1u);
  EXPECT_EQ(locate_checkpoint(run / "checkpoints").step, 100);
  EXPECT_EQ(locate_checkpoint((run / "checkpoints/step_00000100/").string()).step, 100);
  EXPECT_THROW(locate_checkpoint(run / "checkpoints/step_00000200"), CheckpointError);  // named explicitly: no fallback

  try {
    locate_checkpoint(run / "nowhere");
    FAIL();
  } catch (const CheckpointError& e) {
    EXPECT_EQ(std::string(e.what()), (run / "nowhere").string() + ": no such checkpoint or run directory");
  }
  fs::create_directories(run / "empty_run/checkpoints");
  try {
    locate_checkpoint(run / "empty_run");
    FAIL();
  } catch (const CheckpointError& e) {
    EXPECT_EQ(std::string(e.what()), (run / "empty_run/checkpoints").string() + ": no valid checkpoint (none written yet)");
  }
}

}  // namespace
}  // namespace tapelm
