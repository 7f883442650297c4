// The data a pretraining run prepares: what the shard cache reports reaches the run log, and
// a text field of a labeled JSONL file can be pretrained on.
#include <tapelm/train/tasks/pretrain_setup.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>
#include <string>

#include "tiny_run.h"

namespace tapelm {
namespace {

using testing::ScratchDir;

TEST(PretrainSetup, CacheWarningsAreWrittenToTheRunLog) {
  const ScratchDir scratch;
  const PretrainConfig config = load_config<PretrainConfig>(testing::write_tiny_run(scratch).config.string());
  std::ostringstream first_log;
  const PreparedData first = prepare_pretrain_data(config, "", first_log);
  EXPECT_EQ(first_log.str().find("warning"), std::string::npos) << first_log.str();
  std::filesystem::remove(first.shards.folder + "/manifest.json");
  testing::write_text(first.shards.folder + "/manifest.json", "{");

  std::ostringstream second_log;
  const PreparedData second = prepare_pretrain_data(config, "", second_log);
  EXPECT_TRUE(second.shards.built);
  EXPECT_NE(second_log.str().find("warning: data: cache entry '" + first.shards.folder + "' is unusable"),
            std::string::npos)
      << second_log.str();
}

// The tiny run's corpus as a labeled JSONL file, one paragraph (line) per record, and its
// config reading the records' "text" field.
std::filesystem::path write_jsonl_run(const ScratchDir& scratch, const std::string& last_record) {
  const std::filesystem::path config = testing::write_tiny_run(scratch, 6).config;
  std::istringstream lines(testing::tiny_corpus_text());
  std::string line, jsonl;
  while (std::getline(lines, line)) jsonl += "{\"text\": \"" + line + "\", \"label\": \"sea\"}\n";
  testing::write_text(scratch / "labeled.jsonl", jsonl + last_record + "\n");
  std::string yaml = testing::read_text(config);
  const std::string text_source = "data: {train: " + (scratch / "corpus.txt").string();
  yaml.replace(yaml.find(text_source), text_source.size(),
               "data: {format: jsonl, text_field: text, train: " + (scratch / "labeled.jsonl").string());
  testing::write_text(config, yaml);
  return config;
}

TEST(PretrainSetup, TapelmPretrainRunsOnTheTextFieldOfAJsonlFile) {
  const ScratchDir scratch;
  const std::filesystem::path config = write_jsonl_run(scratch, "{\"text\": \"The end.\", \"label\": \"sea\"}");
  ASSERT_EQ(testing::wait_exit_status(testing::start_pretrain(scratch.path(), {config.string()})), 0)
      << testing::read_text(scratch / "stderr.txt");
  EXPECT_NE(testing::read_text(scratch / "stdout.txt").find("training tokens"), std::string::npos);
  EXPECT_EQ(testing::train_records(scratch / "run").size(), 6u);
}

TEST(PretrainSetup, ARecordWithoutTheTextFieldIsAnErrorNamingFileAndLine) {
  const ScratchDir scratch;
  const std::filesystem::path config = write_jsonl_run(scratch, "{\"body\": \"The end.\"}");
  const int records = 200 + 1;  // tiny_corpus_text: 1200 sentences, 6 per line
  ASSERT_EQ(testing::wait_exit_status(testing::start_pretrain(scratch.path(), {config.string()})), 2);
  const std::string err = testing::read_text(scratch / "stderr.txt");
  EXPECT_NE(err.find((scratch / "labeled.jsonl").string() + ":" + std::to_string(records) + ": missing field 'text'"),
            std::string::npos)
      << err;
}

}  // namespace
}  // namespace tapelm
