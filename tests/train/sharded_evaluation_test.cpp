// Evaluation in parts (train/tasks/eval_totals.h, FinetuneTask::evaluate_part): for every task, the
// parts of an evaluation set evaluated separately, their totals added and summarized, give
// what evaluating the whole set in one process gives — the figures behind counts exactly,
// the loss up to the order of its sums, the report (confusion matrix, first predictions)
// exactly — for 2 parts and for 3 uneven ones. This is what lets `tapelm eval` and the
// training loop's validation run on MPI ranks (tests/mpi/finetune_eval_job_test.cpp runs it
// under mpirun).
#include <gtest/gtest.h>

#include <cmath>
#include <sstream>

#include "tests/train/finetune_fixture.h"
#include <tapelm/train/tasks/eval_totals.h>
#include <tapelm/train/tasks/finetune_data.h>
#include <tapelm/train/tasks/finetune_task.h>

namespace tapelm {
namespace {

using testing::ScratchDir;

// A task built from scratch (untrained: its predictions are arbitrary, and so more varied)
// and all its examples.
struct TaskOnData {
  FinetuneConfig config;
  FinetuneData data;
  std::vector<size_t> all;
  std::ostringstream log;
  std::unique_ptr<FinetuneTask> task;

  TaskOnData(const ScratchDir& scratch, const std::filesystem::path& config_file)
      : config(load_config<FinetuneConfig>(config_file.string(), {})),
        data(load_finetune_data(config, scratch / "split.json")) {
    for (size_t i = 0; i < data.examples.size(); ++i) all.push_back(i);
    task = make_finetune_task(testing::task_setup(config, data.examples, data.split.train, scratch.path(), log));
  }
};

// evaluate() against the parts of `ranks` shards added in rank order and summarized.
void expect_parts_add_up_to_the_whole(TaskOnData& t, int64_t batch_size, int ranks) {
  const TaskEvaluation whole = t.task->evaluate(t.data.examples, t.all, batch_size);
  EvalTotals totals = t.task->evaluate_part(t.data.examples, t.all, batch_size, Shard{0, ranks});
  for (int rank = 1; rank < ranks; ++rank) {
    totals.add(t.task->evaluate_part(t.data.examples, t.all, batch_size, Shard{rank, ranks}));
  }
  const TaskEvaluation parts = t.task->summarize(totals);
  ASSERT_EQ(parts.metrics.size(), whole.metrics.size());
  for (size_t m = 0; m < whole.metrics.size(); ++m) {
    const auto& [name, value] = whole.metrics[m];
    EXPECT_EQ(parts.metrics[m].first, name);
    if (name == "loss") {
      EXPECT_NEAR(parts.metrics[m].second, value, 1e-12 * std::abs(value)) << ranks << " parts";
    } else {
      EXPECT_EQ(parts.metrics[m].second, value) << name << ", " << ranks << " parts";
    }
  }
  EXPECT_EQ(parts.report, whole.report) << ranks << " parts";
}

TEST(EvaluatePart, ClassificationPartsAddUpToTheWholeEvaluation) {
  ScratchDir scratch;
  TaskOnData t(scratch, testing::write_toy_finetune(scratch));
  expect_parts_add_up_to_the_whole(t, 16, 2);
  expect_parts_add_up_to_the_whole(t, 10, 3);  // 10 batches of 96 examples: 3, 3 and 4 per part
}

TEST(EvaluatePart, CompletionPartsAddUpToTheWholeEvaluation) {
  ScratchDir scratch;
  static const char* const words[] = {"one", "two", "three", "four", "five", "six", "seven"};
  std::string jsonl;
  for (int i = 0; i < 20; ++i) {
    jsonl += std::string("{\"prompt\": \"after ") + words[i % 6] + " comes\", \"completion\": \" " + words[i % 6 + 1] +
             "\"}\n";
  }
  testing::write_text(scratch / "pairs.jsonl", jsonl);
  const std::filesystem::path config = scratch / "completion.yaml";
  testing::write_text(config, "out_dir: " + (scratch / "ft").string() + "\nseed: 5\ntask: completion\n" +
                                  "model: {n_layer: 1, n_head: 2, n_embd: 32, ctx_len: 16}\n"
                                  "tokenizer: {vocab_size: 50, byte_fallback: false, character_coverage: 1.0}\n"
                                  "data: {train: " + (scratch / "pairs.jsonl").string() +
                                  ", input_field: prompt, target_field: completion}\n"
                                  "train: {threads: 1}\ndecode: {max_len: 4}\n");
  TaskOnData t(scratch, config);
  expect_parts_add_up_to_the_whole(t, 4, 2);
  expect_parts_add_up_to_the_whole(t, 3, 3);  // 7 batches: 2, 2 and 3 per part
}

TEST(EvaluatePart, Seq2SeqPartsAddUpToTheWholeEvaluationAndKeepAnInputsReferencesTogether) {
  ScratchDir scratch;
  static const char* const sounds[] = {"AA1", "B", "K", "D", "EH0", "F"};
  std::string tsv = "word\tphonemes\n";
  uint64_t state = 5;
  for (int i = 0; i < 30; ++i) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    std::string word, phonemes;
    for (int k = 0; k < 2 + int((state >> 40) % 3); ++k) {
      const int letter = int((state >> (8 + 5 * k)) % 6);
      word += char('a' + letter);
      phonemes += std::string(k ? " " : "") + sounds[letter];
    }
    tsv += word + "\t" + phonemes + "\n";
  }
  // A second pronunciation of the first word, last in the file: the two are scored together.
  tsv += tsv.substr(tsv.find('\n') + 1, tsv.find('\t', tsv.find('\n')) - tsv.find('\n') - 1) + "\tB AA1\n";
  testing::write_text(scratch / "words.tsv", tsv);
  const std::filesystem::path config = scratch / "g2p.yaml";
  testing::write_text(config, "out_dir: " + (scratch / "run").string() + "\nseed: 4\ntask: seq2seq\n" +
                                  "data: {format: tsv, train: " + (scratch / "words.tsv").string() +
                                  ", input_field: word, target_field: phonemes}\n"
                                  "tokenizer: {type: char, vocab_size: 40, byte_fallback: false, "
                                  "character_coverage: 1.0}\n"
                                  "target_tokenizer: {type: word, vocab_size: 40, byte_fallback: false, "
                                  "character_coverage: 1.0}\n"
                                  "model: {n_layer: 1, n_head: 2, n_embd: 32, ffn_hidden: 64, ctx_len: 12, "
                                  "dropout: 0.0, pos_encoding: sinusoidal}\n"
                                  "train: {threads: 1}\ndecode: {max_len: 8}\n");
  TaskOnData t(scratch, config);
  ASSERT_EQ(t.data.examples.size(), 31u);
  expect_parts_add_up_to_the_whole(t, 8, 2);
  expect_parts_add_up_to_the_whole(t, 4, 3);
  const TaskEvaluation whole = t.task->evaluate(t.data.examples, t.all, 8);
  EXPECT_NE(whole.report.find("(31 examples)"), std::string::npos) << whole.report;
}

TEST(ShardRange, DealsWholeUnitsOutInOrderAndCoversEveryItemOnce) {
  EXPECT_EQ(shard_range(96, 16, {0, 2}), (std::pair<size_t, size_t>{0, 48}));
  EXPECT_EQ(shard_range(96, 16, {1, 2}), (std::pair<size_t, size_t>{48, 96}));
  // 45 items in batches of 16: 3 batches, the last one short.
  EXPECT_EQ(shard_range(45, 16, {0, 2}), (std::pair<size_t, size_t>{0, 16}));
  EXPECT_EQ(shard_range(45, 16, {1, 2}), (std::pair<size_t, size_t>{16, 45}));
  // Fewer units than ranks: some ranks get nothing.
  EXPECT_EQ(shard_range(3, 4, {0, 2}), (std::pair<size_t, size_t>{0, 0}));
  EXPECT_EQ(shard_range(3, 4, {1, 2}), (std::pair<size_t, size_t>{0, 3}));
  EXPECT_EQ(shard_range(0, 4, {0, 1}), (std::pair<size_t, size_t>{0, 0}));
  for (int ranks = 1; ranks <= 5; ++ranks) {
    size_t next = 0;
    for (int rank = 0; rank < ranks; ++rank) {
      const auto [begin, end] = shard_range(37, 3, {rank, ranks});
      EXPECT_EQ(begin, next) << rank << " of " << ranks;
      EXPECT_TRUE(begin % 3 == 0 || begin == 37);
      next = end;
    }
    EXPECT_EQ(next, 37u) << ranks << " ranks";
  }
  EXPECT_THROW(shard_range(10, 0, {0, 1}), std::invalid_argument);
  EXPECT_THROW(shard_range(10, 2, {2, 2}), std::invalid_argument);
}

TEST(EvalTotals, AddingSumsTheFiguresAndAppendsTheLaterSamples) {
  EvalTotals first{{1.5, 2}, {"a"}};
  first.add({{0.25, 3}, {"b", "c"}});
  EXPECT_EQ(first.sums, (std::vector<double>{1.75, 5}));
  EXPECT_EQ(first.samples, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_THROW(first.add({{1}, {}}), std::invalid_argument);
}

}  // namespace
}  // namespace tapelm
