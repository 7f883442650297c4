// The completion task: the prompt is masked out of the loss (its positions get the ignore
// index and receive no gradient), and a tiny GPT learns to complete toy prompts.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <tapelm/autograd/loss.h>
#include <tapelm/autograd/tape.h>
#include <tapelm/nn/gpt.h>
#include "tests/train/finetune_fixture.h"
#include <tapelm/train/tasks/completion_task.h>
#include <tapelm/train/tasks/task_common.h>

namespace tapelm {
namespace {

using testing::ScratchDir;

Tokenizer toy_tokenizer(const ScratchDir& scratch) {
  TokenizerSection section;
  section.vocab_size = 40;
  section.byte_fallback = false;
  section.character_coverage = 1.0;
  return train_tokenizer_on_texts({"count one two three four five", "say abc def", "one two three"}, section, 1,
                                  scratch.path());
}

TEST(CompletionSequence, PromptPositionsGetTheIgnoreIndex) {
  ScratchDir scratch;
  const Tokenizer tok = toy_tokenizer(scratch);
  const std::vector<int32_t> prompt = tok.encode("count one two");
  const std::vector<int32_t> answer = tok.encode(" three");
  const CompletionSequence seq = completion_sequence(tok, "count one two", " three", 32, Truncation::kHead);

  // inputs: <bos> prompt answer; targets: prompt positions ignored, then answer and <eos>.
  ASSERT_EQ(seq.inputs.size(), 1 + prompt.size() + answer.size());
  ASSERT_EQ(seq.targets.size(), seq.inputs.size());
  EXPECT_EQ(seq.inputs[0], tok.bos_id());
  for (size_t i = 0; i < prompt.size(); ++i) EXPECT_EQ(seq.inputs[1 + i], prompt[i]);
  for (size_t i = 0; i < prompt.size(); ++i) EXPECT_EQ(seq.targets[i], kIgnoreIndex) << i;
  for (size_t i = 0; i < answer.size(); ++i) EXPECT_EQ(seq.targets[prompt.size() + i], answer[i]);
  EXPECT_EQ(seq.targets.back(), tok.eos_id());
}

TEST(CompletionSequence, LongPromptsAreCutToFitTheCompletion) {
  ScratchDir scratch;
  const Tokenizer tok = toy_tokenizer(scratch);
  const std::vector<int32_t> answer = tok.encode(" five");
  const CompletionSequence seq =
      completion_sequence(tok, "count one two three four one two three four", " five", 6, Truncation::kTail);
  ASSERT_EQ(seq.inputs.size(), 6u);
  // The completion and <eos> survive whole; the prompt keeps its tail.
  EXPECT_EQ(seq.targets.back(), tok.eos_id());
  EXPECT_EQ(std::count(seq.targets.begin(), seq.targets.end(), kIgnoreIndex), int64_t(6 - answer.size() - 1));
  const std::vector<int32_t> prompt = tok.encode("count one two three four one two three four");
  EXPECT_EQ(seq.inputs[int64_t(6 - answer.size()) - 1], prompt.back());
}

TEST(CompletionSequence, PromptTokensReceiveNoGradient) {
  ScratchDir scratch;
  const Tokenizer tok = toy_tokenizer(scratch);
  const CompletionSequence seq = completion_sequence(tok, "count one two", " three four", 32, Truncation::kHead);
  GPTConfig cfg;
  cfg.vocab_size = tok.vocab_size();
  cfg.n_layer = 1;
  cfg.n_embd = 16;
  cfg.n_head = 2;
  cfg.ctx_len = 32;
  const GPT model(cfg);
  const int64_t T = int64_t(seq.inputs.size());
  const Var logits = model.forward(seq.inputs, 1, T);
  Var loss = cross_entropy(logits, seq.targets);
  backward(loss);
  const Tensor& grad = logits.grad();
  const int64_t V = tok.vocab_size();
  for (int64_t t = 0; t < T; ++t) {
    double norm = 0;
    for (int64_t v = 0; v < V; ++v) norm += std::abs(grad.data()[t * V + v]);
    if (seq.targets[size_t(t)] == kIgnoreIndex) {
      EXPECT_EQ(norm, 0.0) << "prompt position " << t << " got a gradient";
    } else {
      EXPECT_GT(norm, 0.0) << "completion position " << t << " got no gradient";
    }
  }
}

TEST(CompletionTask, LearnsToCompleteToyPromptsAndPredictsThem) {
  ScratchDir scratch;
  // "a N" -> the next number word: learnable in a few dozen steps.
  static const char* const words[] = {"one", "two", "three", "four", "five", "six"};
  std::string jsonl;
  for (int i = 0; i < 60; ++i) {
    const int n = i % 5;
    jsonl += std::string("{\"prompt\": \"after ") + words[n] + " comes\", \"completion\": \" " + words[n + 1] + "\"}\n";
  }
  testing::write_text(scratch / "pairs.jsonl", jsonl);
  const std::filesystem::path config = scratch / "completion.yaml";
  testing::write_text(config, "out_dir: " + (scratch / "ft").string() + "\nseed: 5\ntask: completion\n" +
                                  "model: {n_layer: 1, n_head: 2, n_embd: 32, ctx_len: 16}\n"
                                  "tokenizer: {vocab_size: 50, byte_fallback: false, character_coverage: 1.0}\n"
                                  "data: {train: " + (scratch / "pairs.jsonl").string() +
                                  ", input_field: prompt, target_field: completion, train_fraction: 0.6, "
                                  "val_fraction: 0.2, test_fraction: 0.2}\n"
                                  "optimizer: {lr: 1.0e-2, weight_decay: 0.0}\n"
                                  "scheduler: {name: constant}\n"
                                  "train: {max_steps: 150, batch_size: 12, threads: 1}\n"
                                  "eval: {interval: 50}\nlogging: {interval: 50}\ncheckpoint: {interval: 0}\n"
                                  "decode: {max_len: 4}\n");
  const testing::FinetuneOutcome outcome = testing::run_finetuning(config);
  ASSERT_TRUE(outcome.result.test.has_value()) << outcome.log;
  EXPECT_EQ(outcome.result.test->metric("exact_match"), 1.0) << outcome.log;
  EXPECT_LT(outcome.result.test->metric("loss"), 0.5) << outcome.log;

  testing::write_text(scratch / "prompts.txt", "after two comes\n");
  const std::string output = (scratch / "out.jsonl").string();
  run_predict(PredictArgs{best_checkpoint_dir(scratch / "ft").string(), (scratch / "prompts.txt").string(), output, {}});
  const nlohmann::json line = nlohmann::json::parse(testing::read_text(output));
  EXPECT_EQ(line.at("index"), 0);
  EXPECT_EQ(line.at("prediction"), " three");
}

}  // namespace
}  // namespace tapelm
