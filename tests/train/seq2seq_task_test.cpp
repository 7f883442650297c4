// The seq2seq task: the teacher-forced batch layout, scoring against alternate references,
// a tiny encoder-decoder learning a toy spelling -> "phoneme" mapping through the task's
// loss, prediction JSON, tokenizers restored from a checkpoint, and refused settings.
#include <tapelm/train/tasks/seq2seq_task.h>

#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <sstream>

#include <tapelm/autograd/loss.h>
#include <tapelm/autograd/tape.h>
#include <tapelm/nn/safetensors.h>
#include <tapelm/optim/adam.h>
#include <tapelm/optim/param_groups.h>
#include "tests/train/finetune_fixture.h"
#include "scratch_dir.h"
#include <tapelm/train/checkpoint/checkpoint.h>
#include <tapelm/train/cli/cli.h>
#include <tapelm/train/cli/commands.h>
#include <tapelm/train/config/errors.h>
#include <tapelm/train/checkpoint/training_checkpoint.h>

namespace tapelm {
namespace {

using testing::ScratchDir;

TEST(Seq2SeqBatch, DecoderReadsBosPlusTargetAndPredictsTargetPlusEos) {
  const int32_t pad = 0, bos = 1, eos = 2, unk = 3;
  const Seq2SeqBatch b =
      make_seq2seq_batch({{10, 11, 12}, {13}}, {{20, 21}, {22, 23, 24}}, kIgnoreIndex, pad, bos, eos, unk, 8, 8);
  EXPECT_EQ(b.B, 2);
  EXPECT_EQ(b.S, 3);
  EXPECT_EQ(b.T, 4);  // the longer target (3) + <eos>
  EXPECT_EQ(b.src, (std::vector<int32_t>{10, 11, 12, 13, pad, pad}));
  EXPECT_EQ(b.src_padding, (std::vector<uint8_t>{1, 1, 1, 1, 0, 0}));
  EXPECT_EQ(b.tgt, (std::vector<int32_t>{bos, 20, 21, pad, bos, 22, 23, 24}));
  EXPECT_EQ(b.tgt_padding, (std::vector<uint8_t>{1, 1, 1, 0, 1, 1, 1, 1}));
  EXPECT_EQ(b.labels, (std::vector<int32_t>{20, 21, eos, kIgnoreIndex, 22, 23, 24, eos}));
}

TEST(Seq2SeqBatch, LongRowsAreCutAndAnEmptySourceBecomesUnk) {
  const Seq2SeqBatch b = make_seq2seq_batch({{}, {5, 6, 7, 8}}, {{20, 21, 22, 23}, {24}}, kIgnoreIndex, 0, 1, 2, 3, 2, 3);
  EXPECT_EQ(b.S, 2);
  EXPECT_EQ(b.src, (std::vector<int32_t>{3, 0, 5, 6}));
  EXPECT_EQ(b.src_padding, (std::vector<uint8_t>{1, 0, 1, 1}));
  // A target cut to 3 tokens keeps teacher forcing aligned and has no <eos>.
  EXPECT_EQ(b.T, 3);
  EXPECT_EQ(b.tgt, (std::vector<int32_t>{1, 20, 21, 1, 24, 0}));
  EXPECT_EQ(b.labels, (std::vector<int32_t>{20, 21, 22, 24, 2, kIgnoreIndex}));
}

TEST(Seq2SeqBatch, MismatchedOrEmptyInputsAreRejected) {
  EXPECT_THROW(make_seq2seq_batch({}, {}, kIgnoreIndex, 0, 1, 2, 3, 4, 4), std::invalid_argument);
  EXPECT_THROW(make_seq2seq_batch({{5}}, {{6}, {7}}, kIgnoreIndex, 0, 1, 2, 3, 4, 4), std::invalid_argument);
  EXPECT_THROW(make_seq2seq_batch({{5}}, {{6}}, kIgnoreIndex, 0, 1, 2, 3, 0, 4), std::invalid_argument);
}

TEST(MultiReferenceScores, AWordIsRightWhenItMatchesAnyPronunciation) {
  MultiReferenceScores scores;
  // "either": two pronunciations; the prediction matches the second.
  scores.add({split_units("IY1 DH ER0"), split_units("AY1 DH ER0")}, split_units("AY1 DH ER0"));
  // "cat": one pronunciation, one substitution.
  scores.add({split_units("K AE1 T")}, split_units("K AH1 T"));
  // "tomato": two references; the prediction is 1 edit from the first (5 phonemes) and 2
  // from the second (6 phonemes), so the first is the one measured against.
  scores.add({split_units("T AH0 M EY1 T"), split_units("T AH0 M AA1 T OW2")}, split_units("T AH0 M EY1 T OW0"));
  EXPECT_EQ(scores.inputs, 3);
  EXPECT_EQ(scores.exact, 1);
  EXPECT_EQ(scores.edits, 0 + 1 + 1);
  EXPECT_EQ(scores.reference_tokens, 3 + 3 + 5);
  EXPECT_DOUBLE_EQ(scores.sequence_error_rate(), 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(scores.token_error_rate(), 2.0 / 11.0);
}

TEST(MultiReferenceScores, EmptyInputsAreErrors) {
  MultiReferenceScores scores;
  EXPECT_THROW(scores.sequence_error_rate(), std::invalid_argument);
  EXPECT_THROW(scores.token_error_rate(), std::invalid_argument);
  EXPECT_THROW(scores.add({}, {"A"}), std::invalid_argument);
}

TEST(SplitUnits, SplitsOnAnyWhitespace) {
  EXPECT_EQ(split_units("  HH AH0\tL  OW1 "), (std::vector<std::string>{"HH", "AH0", "L", "OW1"}));
  EXPECT_TRUE(split_units("").empty());
}

// Toy "g2p": each letter of a..f has a fixed "phoneme"; words are 2-4 letters.
std::vector<LabeledExample> toy_examples() {
  static const char* const sounds[] = {"AA1", "B", "K", "D", "EH0", "F"};
  std::vector<LabeledExample> examples;
  uint64_t state = 5;
  for (int i = 0; i < 48; ++i) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    const int len = 2 + int((state >> 40) % 3);
    LabeledExample e;
    for (int k = 0; k < len; ++k) {
      const int letter = int((state >> (8 + 5 * k)) % 6);
      e.input += char('a' + letter);
      e.target += std::string(k ? " " : "") + sounds[letter];
    }
    e.group = e.input;
    examples.push_back(e);
  }
  return examples;
}

FinetuneConfig toy_config(const ScratchDir& scratch, int64_t beam_size = 1, double label_smoothing = 0.0) {
  return parse_config<FinetuneConfig>(
      "out_dir: " + (scratch / "run").string() + "\nseed: 4\ntask: seq2seq\n"
      "data: {format: tsv, train: [unused.tsv], input_field: word, target_field: phonemes}\n"
      "tokenizer: {type: char, vocab_size: 40, byte_fallback: false, character_coverage: 1.0}\n"
      "target_tokenizer: {type: word, vocab_size: 40, byte_fallback: false, character_coverage: 1.0}\n"
      "model: {n_layer: 1, n_head: 2, n_embd: 32, ffn_hidden: 64, ctx_len: 12, dropout: 0.0, "
      "pos_encoding: sinusoidal}\n"
      "decode: {max_len: 8, beam_size: " + std::to_string(beam_size) + "}\n"
      "train: {label_smoothing: " + std::to_string(label_smoothing) + "}\n",
      "toy.yaml");
}

struct ToyTask {
  std::vector<LabeledExample> examples = toy_examples();
  std::vector<size_t> all;
  std::ostringstream log;
  std::unique_ptr<FinetuneTask> task;

  ToyTask(const ScratchDir& scratch, const FinetuneConfig& config) {
    for (size_t i = 0; i < examples.size(); ++i) all.push_back(i);
    task = make_seq2seq_task(testing::task_setup(config, examples, all, scratch.path(), log));
  }
};

TEST(Seq2SeqTask, TinyEncoderDecoderLearnsAToyMappingThroughTheTaskLoss) {
  ScratchDir scratch;
  const FinetuneConfig config = toy_config(scratch);
  ToyTask toy(scratch, config);
  FinetuneTask& task = *toy.task;
  const TaskEvaluation before = task.evaluate(toy.examples, toy.all, 16);
  EXPECT_DOUBLE_EQ(before.metric("wer"), 1.0);

  const NamedParameters params = task.model().named_parameters();
  AdamW optimizer(weight_decay_groups(params, 0.0));
  for (int step = 0; step < 300; ++step) {
    std::vector<size_t> batch;
    for (size_t k = 0; k < 16; ++k) batch.push_back((size_t(step) * 16 + k) % toy.all.size());
    Var loss = task.loss(toy.examples, whole_examples(toy.examples, batch)).mean;
    backward(loss);
    optimizer.step(3e-3);
    optimizer.zero_grad();
  }
  const TaskEvaluation after = task.evaluate(toy.examples, toy.all, 16);
  EXPECT_LT(after.metric("loss"), 0.1 * before.metric("loss")) << after.report;
  EXPECT_LE(after.metric("wer"), 0.1) << after.report;
  EXPECT_LE(after.metric("per"), 0.05) << after.report;
  EXPECT_TRUE(task.model().is_training()) << "evaluate() must restore train mode";
}

TEST(Seq2SeqTask, LabelSmoothingChangesTheTrainingLossButNotTheEvaluatedLoss) {
  ScratchDir plain_dir, smoothed_dir;
  const FinetuneConfig plain_config = toy_config(plain_dir);
  const FinetuneConfig smoothed_config = toy_config(smoothed_dir, 1, 0.3);
  ToyTask plain(plain_dir, plain_config);
  ToyTask smoothed(smoothed_dir, smoothed_config);
  const std::vector<size_t> batch = {0, 1, 2, 3, 4, 5, 6, 7};
  const float plain_loss = plain.task->loss(plain.examples, whole_examples(plain.examples, batch)).mean.item();
  const float smoothed_loss = smoothed.task->loss(smoothed.examples, whole_examples(smoothed.examples, batch)).mean.item();
  EXPECT_GT(std::abs(smoothed_loss - plain_loss), 1e-4f) << plain_loss << " vs " << smoothed_loss;
  EXPECT_DOUBLE_EQ(plain.task->evaluate(plain.examples, batch, 8).metric("loss"),
                   smoothed.task->evaluate(smoothed.examples, batch, 8).metric("loss"));
}

TEST(Seq2SeqTask, PredictWritesTheInputAndThePhonemeString) {
  ScratchDir scratch;
  ToyTask toy(scratch, toy_config(scratch));
  const std::vector<std::string> lines = toy.task->predict({"abc", "fed \"x\""}, 4);
  ASSERT_EQ(lines.size(), 2u);
  for (size_t i = 0; i < lines.size(); ++i) {
    EXPECT_EQ(lines[i].find('\n'), std::string::npos);
    const nlohmann::json line = nlohmann::json::parse(lines[i]);
    ASSERT_TRUE(line.is_object());
    EXPECT_EQ(line.size(), 2u);
    EXPECT_EQ(line.at("input"), i == 0 ? "abc" : "fed \"x\"");
    ASSERT_TRUE(line.at("prediction").is_string());
    // Whatever an untrained model emits is made of target-vocabulary units.
    for (const std::string& unit : split_units(line.at("prediction").get<std::string>())) {
      EXPECT_NE(std::string("AA1 B K D EH0 F").find(unit), std::string::npos) << unit;
    }
  }
  EXPECT_EQ(lines[0].rfind("{\"input\":\"abc\",\"prediction\":", 0), 0u) << lines[0];
}

TEST(Seq2SeqTask, BothTokenizersGoIntoTheCheckpointAndRestoreTheSameTask) {
  ScratchDir scratch;
  const FinetuneConfig config = toy_config(scratch, /*beam_size=*/2);
  ToyTask toy(scratch, config);
  std::vector<CheckpointFile> files = toy.task->checkpoint_files();
  std::vector<std::string> names;
  for (const CheckpointFile& f : files) names.push_back(f.name);
  EXPECT_EQ(names, (std::vector<std::string>{kTokenizerFile, kTargetTokenizerFile}));
  files.push_back({kWeightsFile, [&](const std::filesystem::path& path) {
                     save_parameters(path.string(), toy.task->model().named_parameters());
                   }});
  const Checkpoint written = write_checkpoint(scratch / "run", 1, files);
  const Checkpoint checkpoint = verify_checkpoint(written.dir);

  TaskSetup setup;
  setup.config = &config;
  setup.restore_from = &checkpoint;
  std::ostringstream log;
  setup.log = &log;
  const std::unique_ptr<FinetuneTask> restored = make_seq2seq_task(setup);
  load_parameters(checkpoint.file(kWeightsFile).string(), restored->model().named_parameters(), /*strict=*/true);
  const std::vector<std::string> words = {"abc", "fade", "cab"};
  EXPECT_EQ(restored->predict(words, 2), toy.task->predict(words, 2));
}

TEST(Seq2SeqTask, FinetuneCommandTrainsEvaluatesAndPredictsTheToyMapping) {
  ScratchDir scratch;
  std::string tsv = "word\tphonemes\tgroup\n";
  for (const LabeledExample& e : toy_examples()) tsv += e.input + "\t" + e.target + "\t" + e.group + "\n";
  testing::write_text(scratch / "toy.tsv", tsv);
  const std::filesystem::path config = scratch / "g2p.yaml";
  testing::write_text(config, "out_dir: " + (scratch / "ft").string() + "\nseed: 4\ntask: seq2seq\n" +
                                  "data: {format: tsv, train: " + (scratch / "toy.tsv").string() +
                                  ", input_field: word, target_field: phonemes, group_field: group, "
                                  "train_fraction: 0.8, val_fraction: 0.1, test_fraction: 0.1}\n"
                                  "tokenizer: {type: char, vocab_size: 40, byte_fallback: false, character_coverage: 1.0}\n"
                                  "target_tokenizer: {type: word, vocab_size: 40, byte_fallback: false, "
                                  "character_coverage: 1.0}\n"
                                  "model: {n_layer: 1, n_head: 2, n_embd: 32, ffn_hidden: 64, ctx_len: 12, dropout: 0.0, "
                                  "pos_encoding: sinusoidal}\n"
                                  "optimizer: {lr: 3.0e-3, weight_decay: 0.0}\n"
                                  "scheduler: {name: constant}\n"
                                  "train: {max_steps: 300, batch_size: 16, threads: 1}\n"
                                  "eval: {interval: 0, batch_size: 16}\nlogging: {interval: 100}\n"
                                  "checkpoint: {interval: 0}\ndecode: {max_len: 8}\n");
  const testing::FinetuneOutcome outcome = testing::run_finetuning(config);
  ASSERT_TRUE(outcome.result.test.has_value()) << outcome.log;
  EXPECT_LE(outcome.result.test->metric("wer"), 0.2) << outcome.log;
  EXPECT_LE(outcome.result.test->metric("per"), 0.1) << outcome.log;

  testing::write_text(scratch / "words.txt", "fade\ncab\n");
  const std::string output = (scratch / "out.jsonl").string();
  run_predict(PredictArgs{best_checkpoint_dir(scratch / "ft").string(), (scratch / "words.txt").string(), output, {}});
  std::istringstream lines(testing::read_text(output));
  std::string first, second;
  ASSERT_TRUE(std::getline(lines, first) && std::getline(lines, second));
  const nlohmann::json fade = nlohmann::json::parse(first);
  EXPECT_EQ(fade.at("index"), 0);
  EXPECT_EQ(fade.at("input"), "fade");
  EXPECT_EQ(fade.at("prediction"), "F AA1 D EH0");
  EXPECT_EQ(nlohmann::json::parse(second).at("prediction"), "K AA1 B");

  // eval --data with the beam widened and the threads doubled for this command only.
  testing::write_text(scratch / "held.tsv", "word\tphonemes\tgroup\nfade\tF AA1 D EH0\tfade\n");
  const std::string best = best_checkpoint_dir(scratch / "ft").string();
  const std::string held = (scratch / "held.tsv").string();
  const testing::CliOutcome eval = testing::run_cli_in_process(
      {"eval", "--checkpoint", best, "--data", held, "--beam-size", "3", "--threads", "2"});
  ASSERT_EQ(eval.exit_code, kExitOk) << eval.out << eval.err;
  EXPECT_NE(eval.out.find("wer 0.0000"), std::string::npos) << eval.out;
  EXPECT_NE(eval.out.find("beam search (beam 3)"), std::string::npos) << eval.out;
  // The run trained on 1 thread; --threads applies to this command.
  EXPECT_NE(eval.out.find(", 2 threads)"), std::string::npos) << eval.out;

  const testing::CliOutcome normalized = testing::run_cli_in_process(
      {"eval", "--checkpoint", best, "--data", held, "--beam-size", "3", "--length-penalty", "0.6"});
  ASSERT_EQ(normalized.exit_code, kExitOk) << normalized.out << normalized.err;
  EXPECT_NE(normalized.out.find("beam search (beam 3, length penalty 0.6)"), std::string::npos) << normalized.out;
}

TEST(Seq2SeqTask, ShippedG2pConfigLoadsWithCharSourceAndWordTargetTokenizers) {
  const FinetuneConfig config = load_config<FinetuneConfig>(std::string(TAPELM_SOURCE_DIR) + "/configs/finetune/g2p.yaml");
  EXPECT_EQ(config.task, "seq2seq");
  EXPECT_EQ(config.tokenizer.type, "char");
  EXPECT_EQ(config.target_tokenizer.type, "word");
  EXPECT_EQ(config.data.group_field, "group");
  EXPECT_EQ(config.data.target_field, "phonemes_no_stress");
  EXPECT_TRUE(config.init_from.empty());
  EXPECT_LE(config.decode.max_len, config.model.ctx_len);
  // Unscaled embeddings of std 0.02 drown under the sinusoidal table's unit amplitude.
  EXPECT_TRUE(config.model.scale_embeddings);
  // WER on the few hundred validation words is too noisy to pick the best checkpoint by.
  EXPECT_EQ(config.eval.metric, "loss");
  // Without dropout the validation loss bottoms out mid-run: a best checkpoint by loss would be
  // an early one, so the test split scores the average of the last checkpoints or the final model.
  EXPECT_FALSE(config.checkpoint.keep_best);
  EXPECT_GE(config.checkpoint.average_last, 2);
}

TEST(Seq2SeqTask, InitFromAndOverlongMaxLenAreRefusedNamingTheKey) {
  ScratchDir scratch;
  const std::vector<LabeledExample> examples = toy_examples();
  const std::vector<size_t> all = {0, 1, 2};
  std::ostringstream log;
  auto make = [&](const FinetuneConfig& config) {
    return make_seq2seq_task(testing::task_setup(config, examples, all, scratch.path(), log));
  };
  FinetuneConfig with_init = toy_config(scratch);
  with_init.init_from = "runs/pretrained";
  try {
    make(with_init);
    ADD_FAILURE() << "init_from was accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("init_from"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("runs/pretrained"), std::string::npos) << e.what();
  }
  FinetuneConfig long_len = toy_config(scratch);
  long_len.data.max_len = 50;
  try {
    make(long_len);
    ADD_FAILURE() << "data.max_len above ctx_len was accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("data.max_len"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace tapelm
