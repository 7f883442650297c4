// Tests for the TensorBoard event files: the record framing (lengths and masked CRC-32C) and
// the Event messages, read back with protobuf's own parser generated from
// train/loop/tensorboard_event.proto; resume markers; and a `tapelm pretrain` run whose event
// file carries the same numbers as its metrics.jsonl, and its samples. This binary links no
// sentencepiece (see CMakeLists.txt), so the run is a child process.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "scratch_dir.h"
#include <tapelm/train/checkpoint/crc32c.h>
#include <tapelm/train/loop/tensorboard.h>
#include "tensorboard_event.pb.h"  // generated from train/loop/tensorboard_event.proto

namespace tapelm {
namespace {

namespace fs = std::filesystem;
namespace pb = tapelm::tensorboard;
using testing::read_text;
using testing::ScratchDir;
using testing::write_text;

uint64_t read_le(const std::string& bytes, size_t at, int size) {
  uint64_t value = 0;
  for (int i = 0; i < size; ++i) value |= uint64_t(static_cast<unsigned char>(bytes[at + i])) << (8 * i);
  return value;
}

// Every record of an event file, each checked against both of its checksums.
std::vector<pb::Event> read_events(const fs::path& path) {
  const std::string bytes = read_text(path);
  std::vector<pb::Event> events;
  size_t at = 0;
  while (at < bytes.size()) {
    EXPECT_LE(at + 12, bytes.size()) << "a record header is cut short at byte " << at;
    if (at + 12 > bytes.size()) break;
    const uint64_t length = read_le(bytes, at, 8);
    EXPECT_EQ(read_le(bytes, at + 8, 4), tensorboard_masked_crc(bytes.data() + at, 8)) << "length CRC at " << at;
    EXPECT_LE(at + 12 + length + 4, bytes.size()) << "a record is cut short at byte " << at;
    if (at + 12 + length + 4 > bytes.size()) break;
    const std::string data = bytes.substr(at + 12, length);
    EXPECT_EQ(read_le(bytes, at + 12 + length, 4), tensorboard_masked_crc(data.data(), data.size()))
        << "data CRC at " << at;
    pb::Event event;
    EXPECT_TRUE(event.ParseFromString(data)) << "record at byte " << at << " is not an Event";
    events.push_back(event);
    at += 12 + length + 4;
  }
  return events;
}

std::vector<fs::path> event_files(const fs::path& folder) {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(folder)) {
    if (entry.path().filename().string().rfind("events.out.tfevents.", 0) == 0) files.push_back(entry.path());
  }
  return files;
}

const pb::Summary::Value* find_value(const std::vector<pb::Event>& events, const std::string& tag, int64_t step) {
  for (const pb::Event& event : events) {
    if (event.step() != step || !event.has_summary()) continue;
    for (const pb::Summary::Value& value : event.summary().value()) {
      if (value.tag() == tag) return &value;
    }
  }
  return nullptr;
}

TEST(TensorBoard, MaskedCrcIsTheRotatedCastagnoliChecksumPlusTheConstant) {
  // "123456789" is CRC-32C's published check input: 0xE3069283.
  const uint32_t crc = 0xE3069283u;
  ASSERT_EQ(crc32c("123456789", 9), crc);
  EXPECT_EQ(tensorboard_masked_crc("123456789", 9), ((crc >> 15) | (crc << 17)) + 0xa282ead8u);
}

TEST(TensorBoard, ScalarsAndTextAreCheckedRecordsThatProtobufParses) {
  ScratchDir scratch;
  fs::path path;
  {
    TensorBoardLog log(scratch.path(), std::nullopt);
    path = log.path();
    log.add_scalar("loss", 1, 4.75);
    log.add_scalar("val_ppl", 300, 90.0171313);
    log.add_scalar("loss", 301, NAN);  // a skipped step
    log.add_text("sample", 300, "Call me Ishmael.\n\u00e9");
  }
  EXPECT_EQ(path.filename().string().rfind("events.out.tfevents.", 0), 0u);
  const std::vector<pb::Event> events = read_events(path);
  ASSERT_EQ(events.size(), 5u);
  EXPECT_EQ(events[0].file_version(), "brain.Event:2");
  EXPECT_GT(events[0].wall_time(), 1.6e9);  // seconds since 1970, not 0

  const pb::Summary::Value* loss = find_value(events, "loss", 1);
  ASSERT_NE(loss, nullptr);
  EXPECT_EQ(loss->simple_value(), 4.75f);
  const pb::Summary::Value* ppl = find_value(events, "val_ppl", 300);
  ASSERT_NE(ppl, nullptr);
  EXPECT_EQ(ppl->simple_value(), 90.0171313f);
  const pb::Summary::Value* skipped = find_value(events, "loss", 301);
  ASSERT_NE(skipped, nullptr);
  EXPECT_TRUE(std::isnan(skipped->simple_value()));

  const pb::Summary::Value* text = find_value(events, "sample", 300);
  ASSERT_NE(text, nullptr);
  EXPECT_EQ(text->metadata().plugin_data().plugin_name(), "text");
  EXPECT_EQ(text->tensor().dtype(), pb::DT_STRING);
  ASSERT_EQ(text->tensor().tensor_shape().dim_size(), 1);
  EXPECT_EQ(text->tensor().tensor_shape().dim(0).size(), 1);
  ASSERT_EQ(text->tensor().string_val_size(), 1);
  EXPECT_EQ(text->tensor().string_val(0), "Call me Ishmael.\n\u00e9");
}

TEST(TensorBoard, ResumedLogStartsANewFileWithASessionStartAfterTheCheckpoint) {
  ScratchDir scratch;
  fs::path first, resumed;
  { first = TensorBoardLog(scratch.path(), std::nullopt).path(); }
  { resumed = TensorBoardLog(scratch.path(), std::optional<int64_t>(20)).path(); }
  EXPECT_NE(first, resumed);  // opened within the same second by the same process
  EXPECT_EQ(event_files(scratch.path()).size(), 2u);
  const std::vector<pb::Event> events = read_events(resumed);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].file_version(), "brain.Event:2");
  ASSERT_TRUE(events[1].has_session_log());
  EXPECT_EQ(events[1].session_log().status(), pb::SessionLog::START);
  // TensorBoard then drops what it read for steps >= 21 (the abandoned run's) and keeps step 20.
  EXPECT_EQ(events[1].step(), 21);
}

TEST(TensorBoard, PretrainingRunLogsTheSameNumbersAsMetricsJsonlAndItsSamples) {
  ScratchDir scratch;
  std::string corpus;
  for (int i = 0; i < 400; ++i) corpus += "The whale saw the ship" + std::string(i % 3 ? ". " : ".\n");
  write_text(scratch / "corpus.txt", corpus);
  const fs::path out_dir = scratch / "run";
  write_text(scratch / "run.yaml",
             "out_dir: " + out_dir.string() + "\nseed: 7\n" +
                 "model: {n_layer: 1, n_head: 2, n_embd: 16, ctx_len: 16}\n"
                 "tokenizer: {vocab_size: 40, byte_fallback: false, character_coverage: 1.0}\n"
                 "data: {train: " + (scratch / "corpus.txt").string() + ", val_fraction: 0.1, cache_dir: " +
                 (scratch / "cache").string() + "}\n"
                 "train: {max_steps: 6, batch_size: 4, micro_batch_size: 4, threads: 1}\n"
                 "scheduler: {warmup_steps: 2}\n"
                 "eval: {interval: 3, max_examples: 8}\n"
                 "logging: {interval: 1, tensorboard: true}\n"
                 "checkpoint: {interval: 0}\n"
                 "sample: {prompt: \"The whale\", max_new_tokens: 8}\n");
  const fs::path binary = fs::path(TAPELM_BINARY_DIR) / "tapelm";
  const std::string command = binary.string() + " pretrain " + (scratch / "run.yaml").string() + " >" +
                              (scratch / "log.txt").string() + " 2>&1 </dev/null";
  const int status = std::system(command.c_str());
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << read_text(scratch / "log.txt");

  const std::vector<fs::path> files = event_files(out_dir);
  ASSERT_EQ(files.size(), 1u);
  const std::vector<pb::Event> events = read_events(files[0]);
  std::istringstream lines(read_text(out_dir / "metrics.jsonl"));
  std::string line;
  int compared = 0;
  while (std::getline(lines, line)) {
    const nlohmann::json record = nlohmann::json::parse(line);
    const int64_t step = record["step"].get<int64_t>();
    for (const auto& [key, value] : record.items()) {
      if (key == "step") continue;
      const pb::Summary::Value* logged = find_value(events, key, step);
      ASSERT_NE(logged, nullptr) << key << " at step " << step;
      EXPECT_EQ(logged->simple_value(), static_cast<float>(value.get<double>())) << key << " at step " << step;
      ++compared;
    }
  }
  EXPECT_EQ(compared, 6 * 5 + 2 * 2);  // 5 numbers per logged step, 2 per evaluation
  for (int64_t step : {3, 6}) {
    const pb::Summary::Value* sample = find_value(events, "sample", step);
    ASSERT_NE(sample, nullptr) << "no sample at step " << step;
    EXPECT_EQ(sample->tensor().string_val(0).rfind("The whale", 0), 0u) << sample->tensor().string_val(0);
  }
}

}  // namespace
}  // namespace tapelm
