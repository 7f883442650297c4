// A classifier reading documents in windows (data.max_windows): the windows cover a document in
// order, each after <bos>; data.truncation picks the windows of a longer document; one window
// is exactly the truncated encoding; a document's logits are the mean of its windows', in
// training (one example per document) as in evaluation, which counts documents.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tests/scratch_dir.h"
#include "tests/train/finetune_fixture.h"
#include <tapelm/data/padding.h>
#include <tapelm/train/tasks/classification_task.h>
#include <tapelm/train/tasks/task_common.h>

namespace tapelm {
namespace {

using testing::ScratchDir;
using Rows = std::vector<std::vector<int32_t>>;

// "w<first> w<first+1> ... ": with a word tokenizer, one token per word.
std::string words(int first, int count) {
  std::string text;
  for (int i = first; i < first + count; ++i) text += (text.empty() ? "w" : " w") + std::to_string(i);
  return text;
}

FinetuneConfig word_config(int64_t max_len, int64_t max_windows, const std::string& truncation = "head") {
  return parse_config<FinetuneConfig>(
      "out_dir: unused\nseed: 5\ntask: classification\n"
      "model: {n_layer: 1, n_head: 1, n_embd: 8, ctx_len: 8, dropout: 0.0}\n"
      "tokenizer: {type: word, vocab_size: 100, byte_fallback: false}\n"
      "data: {train: unused.jsonl, max_len: " + std::to_string(max_len) + ", max_windows: " +
          std::to_string(max_windows) + ", truncation: " + truncation + "}\n",
      "test.yaml");
}

Tokenizer word_tokenizer(const ScratchDir& scratch) {
  return train_tokenizer_on_texts({words(0, 40)}, word_config(5, 1).tokenizer, 5, scratch.path());
}

// The token ids of words w<first> .. w<first+count-1>, after <bos>.
std::vector<int32_t> window_of(const Tokenizer& tokenizer, int first, int count) {
  std::vector<int32_t> ids = tokenizer.encode(words(first, count));
  ids.insert(ids.begin(), tokenizer.bos_id());
  return ids;
}

TEST(ClassificationWindows, CoverALongDocumentInOrderEachStartingWithBos) {
  ScratchDir scratch;
  const Tokenizer tokenizer = word_tokenizer(scratch);
  ASSERT_EQ(tokenizer.encode(words(0, 10)).size(), 10u) << "one token per word";
  // max_len 5 = <bos> + 4 words.
  const Rows rows = classification_windows(tokenizer, word_config(5, 8), words(0, 10));
  EXPECT_EQ(rows, (Rows{window_of(tokenizer, 0, 4), window_of(tokenizer, 4, 4), window_of(tokenizer, 8, 2)}));
  for (const std::vector<int32_t>& row : rows) EXPECT_EQ(row.front(), tokenizer.bos_id());
}

TEST(ClassificationWindows, TruncationPicksTheHeadTheTailOrAQuarterFromTheHead) {
  ScratchDir scratch;
  const Tokenizer tokenizer = word_tokenizer(scratch);
  // 22 words = 6 windows of 4 (the last of 2); 4 are kept.
  const std::string text = words(0, 22);
  EXPECT_EQ(classification_windows(tokenizer, word_config(5, 4, "head"), text),
            (Rows{window_of(tokenizer, 0, 4), window_of(tokenizer, 4, 4), window_of(tokenizer, 8, 4),
                  window_of(tokenizer, 12, 4)}));
  // The tail's windows end at the document's end, so each is full.
  EXPECT_EQ(classification_windows(tokenizer, word_config(5, 4, "tail"), text),
            (Rows{window_of(tokenizer, 6, 4), window_of(tokenizer, 10, 4), window_of(tokenizer, 14, 4),
                  window_of(tokenizer, 18, 4)}));
  EXPECT_EQ(classification_windows(tokenizer, word_config(5, 4, "head_tail"), text),
            (Rows{window_of(tokenizer, 0, 4), window_of(tokenizer, 10, 4), window_of(tokenizer, 14, 4),
                  window_of(tokenizer, 18, 4)}));
  // Fewer than four windows: still at least one from the head.
  EXPECT_EQ(classification_windows(tokenizer, word_config(5, 2, "head_tail"), text),
            (Rows{window_of(tokenizer, 0, 4), window_of(tokenizer, 18, 4)}));
}

TEST(ClassificationWindows, OneWindowIsTheInputCutToMaxLenAsBefore) {
  ScratchDir scratch;
  const Tokenizer tokenizer = word_tokenizer(scratch);
  // Short, long, and long enough (over 2 x 64 bytes per kept token) to be encoded in pieces.
  std::string huge = words(0, 40);
  for (int copies = 0; copies < 5; ++copies) huge += " " + words(0, 40);
  ASSERT_GT(huge.size(), 2u * 4 * 64);
  for (const std::string& text : {words(0, 3), words(0, 30), huge}) {
    for (const Truncation mode : {Truncation::kHead, Truncation::kTail, Truncation::kHeadTail}) {
      std::vector<int32_t> expected = truncate_ids(tokenizer.encode(text), 4, mode);
      expected.insert(expected.begin(), tokenizer.bos_id());
      EXPECT_EQ(classification_windows(tokenizer, word_config(5, 1, enum_name(mode)), text), Rows{expected})
          << enum_name(mode) << ": " << text;
    }
  }
}

TEST(ClassificationWindows, ATextOfNoTokensIsOneWindowOfBos) {
  ScratchDir scratch;
  const Tokenizer tokenizer = word_tokenizer(scratch);
  EXPECT_EQ(classification_windows(tokenizer, word_config(5, 4), ""), (Rows{{tokenizer.bos_id()}}));
}

// Two classifiers with the same weights over documents of 1, 2 and 3 windows (4 words each):
// one reading whole documents in windows, one reading one window at a time.
struct PooledFixture {
  ScratchDir scratch;
  FinetuneConfig one_window = word_config(5, 1);
  FinetuneConfig windows = word_config(5, 3);
  std::vector<LabeledExample> documents = {
      {words(0, 4), "a", "", "doc:1"}, {words(4, 7), "b", "", "doc:2"}, {words(11, 10), "a", "", "doc:3"}};
  std::vector<size_t> all = {0, 1, 2};
  std::unique_ptr<FinetuneTask> single, pooled;

  PooledFixture() {
    single = make(one_window);
    pooled = make(windows);
    // A wide head spreads the windows' probabilities, so the mean of their log-probabilities is
    // far from, say, the log of their mean.
    for (auto& [name, param] : single->model().named_parameters()) {
      if (name.rfind("head.", 0) != 0) continue;
      float* values = param.value().data();
      for (int64_t i = 0; i < param.value().numel(); ++i) values[i] *= 30;
    }
    auto from = single->model().named_parameters();
    auto to = pooled->model().named_parameters();
    for (size_t i = 0; i < from.size(); ++i) to[i].second.value() = from[i].second.value();
  }

  std::unique_ptr<FinetuneTask> make(const FinetuneConfig& config) {
    std::ostringstream log;
    return make_finetune_task(testing::task_setup(config, documents, all, scratch.path(), log));
  }

  // The texts of a document's windows, each read alone as one window.
  static std::vector<std::string> window_texts(int first, int count) {
    std::vector<std::string> texts;
    for (int at = first; at < first + count; at += 4) texts.push_back(words(at, std::min(4, first + count - at)));
    return texts;
  }
};

// The mean over a document's windows, each read alone, of their log-probabilities: the
// document's mean logits up to a constant, so their softmax is the document's distribution.
std::vector<double> mean_log_probabilities(PooledFixture& f, int first, int count) {
  const std::vector<std::string> parts = PooledFixture::window_texts(first, count);
  std::vector<double> mean(2, 0.0);
  for (const std::string& line : f.single->predict(parts, 8)) {
    const nlohmann::json record = nlohmann::json::parse(line);
    size_t c = 0;
    for (const auto& [label, p] : record.at("probabilities").items()) mean[c++] += std::log(double(p)) / double(parts.size());
  }
  return mean;
}

// -log softmax(scores)[truth]
double cross_entropy_of(const std::vector<double>& scores, size_t truth) {
  return std::log(std::exp(scores[0]) + std::exp(scores[1])) - scores[truth];
}

std::vector<double> probabilities_of(const std::string& line) {
  const nlohmann::json record = nlohmann::json::parse(line);
  std::vector<double> values;
  for (const auto& [label, p] : record.at("probabilities").items()) values.push_back(p);
  return values;
}

// The support column of a label's row in a confusion table.
std::string support_of(const std::string& report, const std::string& label) {
  std::istringstream lines(report);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream cells(line);
    std::string first, cell, last;
    cells >> first;
    while (cells >> cell) last = cell;
    if (first == label) return last;
  }
  return "(no row)";
}

const int kSpans[3][2] = {{0, 4}, {4, 7}, {11, 10}};  // the fixture's documents' words

TEST(ClassificationWindows, ADocumentIsOneTrainingExampleWhoseLogitsAreItsWindowsMean) {
  PooledFixture f;
  double expected = 0, per_window = 0;
  for (size_t d = 0; d < 3; ++d) {
    const size_t truth = f.documents[d].target == "a" ? 0 : 1;  // labels in sorted order: a, b
    expected += cross_entropy_of(mean_log_probabilities(f, kSpans[d][0], kSpans[d][1]), truth) / 3;
    for (const std::string& line : f.single->predict(PooledFixture::window_texts(kSpans[d][0], kSpans[d][1]), 8)) {
      per_window -= std::log(probabilities_of(line)[truth]) / 6;
    }
  }
  f.pooled->set_dropout_batch(0, 0);
  const WeightedLoss loss = f.pooled->loss(f.documents, whole_examples(f.documents, f.all));
  EXPECT_NEAR(loss.mean.item(), expected, 1e-5);
  EXPECT_EQ(loss.weight, 3.0) << "documents, not windows, are the examples";
  EXPECT_GT(std::abs(per_window - expected), 1e-2) << "the windows disagree too little to tell the poolings apart";
}

TEST(ClassificationWindows, DropoutMasksOfADocumentsWindowsDoNotDependOnTheMicroBatch) {
  PooledFixture f;
  FinetuneConfig config = f.windows;
  config.model.dropout = 0.5;
  const std::unique_ptr<FinetuneTask> task = f.make(config);
  const std::vector<TrainingItem> items = whole_examples(f.documents, f.all);
  auto loss_sum = [&](int64_t first_example, size_t begin, size_t end) {
    task->set_dropout_batch(7, first_example);
    const WeightedLoss loss =
        task->loss(f.documents, std::vector<TrainingItem>(items.begin() + long(begin), items.begin() + long(end)));
    return double(loss.mean.item()) * loss.weight;
  };
  const double whole = loss_sum(0, 0, 3);
  EXPECT_NEAR(loss_sum(0, 0, 2) + loss_sum(2, 2, 3), whole, 1e-5);
  EXPECT_GT(std::abs(loss_sum(0, 0, 2) + loss_sum(1, 2, 3) - whole), 1e-4)
      << "the last document drawn as the step's second one should get other masks";
}

TEST(ClassificationWindows, ADocumentScoresTheSoftmaxOfItsWindowsMeanLogitsAndEvaluationCountsDocuments) {
  PooledFixture f;
  double expected_loss = 0;
  int correct = 0;
  std::vector<std::string> texts;
  for (size_t d = 0; d < 3; ++d) {
    texts.push_back(f.documents[d].input);
    const std::vector<double> mean = mean_log_probabilities(f, kSpans[d][0], kSpans[d][1]);
    const size_t truth = f.documents[d].target == "a" ? 0 : 1;
    expected_loss += cross_entropy_of(mean, truth) / 3;
    correct += (mean[0] >= mean[1]) == (truth == 0);
    const double sum = std::exp(mean[0]) + std::exp(mean[1]);
    // Batches of 2 windows: the documents' windows span forward passes.
    const std::vector<double> pooled = probabilities_of(f.pooled->predict({f.documents[d].input}, 2).at(0));
    EXPECT_NEAR(pooled[0], std::exp(mean[0]) / sum, 1e-6) << "document " << d;
    EXPECT_NEAR(pooled[1], std::exp(mean[1]) / sum, 1e-6) << "document " << d;
  }
  EXPECT_EQ(f.pooled->predict(texts, 2).size(), 3u) << "one line per document";
  const TaskEvaluation evaluation = f.pooled->evaluate(f.documents, f.all, 2);
  EXPECT_NEAR(evaluation.metric("loss"), expected_loss, 1e-6);
  EXPECT_DOUBLE_EQ(evaluation.metric("accuracy"), correct / 3.0);
  EXPECT_EQ(support_of(evaluation.report, "a"), "2") << evaluation.report;
  EXPECT_EQ(support_of(evaluation.report, "b"), "1") << evaluation.report;
}

}  // namespace
}  // namespace tapelm
