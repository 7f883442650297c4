// Temporary names: every temporary tapelm makes is recognised with its creator's pid, a write
// killed before its rename leaves only such a temporary, and stale ones are removed.
#include <tapelm/data/atomic_file.h>

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "crash_testing.h"
#include "data_test_util.h"

namespace tapelm {
namespace {

namespace fs = std::filesystem;
using testing::dead_pid;
using testing::TempDir;
using testing::write_text;

std::vector<std::string> names_in(const std::string& folder) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(folder)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

TEST(TempNames, AreHiddenBesideTheTargetAndNameTheirCreator) {
  const std::string a = temp_path_for("/runs/x/config.yaml");
  const std::string b = temp_path_for("/runs/x/config.yaml");
  EXPECT_NE(a, b);
  EXPECT_EQ(fs::path(a).parent_path(), "/runs/x");
  const std::string name = fs::path(a).filename().string();
  EXPECT_EQ(name.rfind(".config.yaml.tapelm-tmp." + std::to_string(::getpid()) + ".", 0), 0u) << name;
  EXPECT_EQ(temp_owner(name), ::getpid());
  EXPECT_EQ(temp_owner(fs::path(temp_path_for("/runs/x/checkpoints/step_00000100")).filename().string()), ::getpid());
}

TEST(TempNames, RecogniseEarlierVersionsLeftoversAndNothingElse) {
  EXPECT_EQ(temp_owner("config.yaml.tmp.4242.7"), 4242);  // written before temporaries were hidden
  EXPECT_EQ(temp_owner("loss.png.gp.tmp.17.0"), 17);
  EXPECT_EQ(temp_owner(".step_00000100.tapelm-tmp.99.3"), 99);
  // A user's own names, however much they look like temporaries, are not taken for ours.
  for (const char* name : {"config.yaml", "step_00000100", "latest", ".lock", "notes.tmp", "a.tmp.1", "a.tmp.x.1",
                           "a.tmp.1.", "a.tmp..1", "a.temp.1.2", ".tmp.1.2", "metrics.jsonl.1.2",
                           "backup.tmp.2024.06", ".backup.tmp.2024.06", "events.out.tfevents.1.tmp.2.0",
                           ".tapelm-tmp.1.2", ".x.tapelm-tmp.1", ".x.tapelm-tmp.a.2"}) {
    EXPECT_FALSE(temp_owner(name)) << name;
  }
}

TEST(TempNames, AWriteKilledBeforeItsRenameLeavesOnlyARecognisedTemporary) {
  TempDir dir;
  write_text(dir / "config.yaml", "old\n");
  const pid_t child = testing::killed_at("atomic_file.renaming", [&] { write_file_atomic(dir / "config.yaml", "new\n"); });
  ASSERT_NE(child, 0);
  EXPECT_EQ(read_file(dir / "config.yaml"), "old\n");
  const std::vector<std::string> names = names_in(dir.path());
  ASSERT_EQ(names.size(), 2u);
  EXPECT_EQ(temp_owner(names[0]), child) << names[0];
  EXPECT_EQ(remove_temporaries(dir.path(), StaleTemporaries::kOwnerGone), std::vector<std::string>{names[0]});
  EXPECT_EQ(names_in(dir.path()), std::vector<std::string>{"config.yaml"});
}

TEST(TempNames, SharedFoldersKeepTemporariesOfRunningProcesses) {
  TempDir dir;
  const std::string dead = temp_name("shards-ab", dead_pid(), 0);
  const std::string parent = temp_name("shards-cd", ::getppid(), 0);  // a running process
  const std::string ours = fs::path(temp_path_for(dir / "shards-ef")).filename().string();
  for (const std::string& name : {dead, parent, ours}) fs::create_directories(dir / name);
  write_text(dir / "keep.txt", "x");
  EXPECT_EQ(remove_temporaries(dir.path(), StaleTemporaries::kOwnerGone), std::vector<std::string>{dead});
  std::vector<std::string> all = remove_temporaries(dir.path(), StaleTemporaries::kAll);
  std::sort(all.begin(), all.end());
  std::vector<std::string> expected{parent, ours};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(all, expected);
  EXPECT_EQ(names_in(dir.path()), std::vector<std::string>{"keep.txt"});
  EXPECT_TRUE(remove_temporaries(dir / "missing", StaleTemporaries::kAll).empty());
}

}  // namespace
}  // namespace tapelm
