// The classification task: batching, loss, metrics and predictions.
#include <tapelm/train/tasks/classification_task.h>

#include <algorithm>
#include <cmath>
#include <deque>
#include <nlohmann/json.hpp>

#include <tapelm/autograd/loss.h>
#include <tapelm/autograd/matmul.h>
#include <tapelm/autograd/tape.h>
#include <tapelm/data/label_vocab.h>
#include <tapelm/data/padding.h>
#include <tapelm/nn/safetensors.h>
#include <tapelm/nn/sequence_classifier.h>
#include <tapelm/train/config/builders.h>
#include <tapelm/train/tasks/class_weights.h>
#include <tapelm/data/atomic_file.h>
#include <tapelm/train/tasks/task_common.h>
#include <tapelm/train/tasks/task_metrics.h>
#include <tapelm/train/checkpoint/training_checkpoint.h>

namespace tapelm {
namespace {

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& name : names) out += (out.empty() ? "" : ", ") + name;
  return out;
}

bool starts_with(const std::string& text, const std::string& prefix) { return text.rfind(prefix, 0) == 0; }

LabelVocab task_labels(const TaskSetup& setup) {
  if (setup.restore_from) {
    const std::filesystem::path path = setup.restore_from->file(kLabelsFile);
    try {
      return LabelVocab::from_json(read_file(path), path.string());
    } catch (const std::exception& e) {
      throw CheckpointError(e.what());
    }
  }
  const std::vector<LabeledExample>& examples = *setup.examples;
  const LabelVocab labels = LabelVocab::from_examples(examples, *setup.train_indices);
  if (labels.size() < 2) {
    throw InputError("data.train: the training split has only the label '" + labels.label(0) +
                     "'; classification needs at least two");
  }
  *setup.log << "labels: " << join(labels.labels()) << "\nclass balance (training split):\n"
             << class_balance_report(examples, *setup.train_indices);
  return labels;
}

SequenceClassifierConfig classifier_config(const FinetuneConfig& config, int64_t vocab_size, int64_t n_classes) {
  const GPTConfig gpt = gpt_config(config.model, vocab_size, uint64_t(config.seed));
  SequenceClassifierConfig cfg;
  static_cast<TransformerConfig&>(cfg) = gpt;
  cfg.vocab_size = gpt.vocab_size;
  cfg.n_layer = gpt.n_layer;
  cfg.n_classes = n_classes;
  cfg.pooling = config_enum<Pooling>("classification.pooling", config.classification.pooling);
  cfg.causal = true;
  return cfg;
}

// A document's class scores: the mean of its windows' logits, as in training (mean_over_windows),
// and their softmax. The probabilities are floats and the loss takes their log floored at
// 1e-30, as the evaluation always did, so a document of one window scores exactly as before.
class PooledScores {
 public:
  explicit PooledScores(size_t n_classes) : logit_sums_(n_classes), probabilities_(n_classes) {}

  void add(const float* logits) {
    for (size_t c = 0; c < logit_sums_.size(); ++c) logit_sums_[c] += double(logits[c]);
    ++windows_;
  }

  // Computes the probabilities once all windows are in.
  void finish() {
    std::vector<float> mean(logit_sums_.size());
    for (size_t c = 0; c < mean.size(); ++c) mean[c] = float(logit_sums_[c] / double(windows_));
    const float top = *std::max_element(mean.begin(), mean.end());
    double sum = 0;
    for (float logit : mean) sum += std::exp(double(logit - top));
    for (size_t c = 0; c < mean.size(); ++c) probabilities_[c] = float(std::exp(double(mean[c] - top)) / sum);
  }

  double log_prob(int32_t label) const { return std::log(std::max(double(probabilities_[size_t(label)]), 1e-30)); }
  int32_t predicted() const {
    return int32_t(std::max_element(probabilities_.begin(), probabilities_.end()) - probabilities_.begin());
  }
  const std::vector<float>& probabilities() const { return probabilities_; }

  void clear() {
    std::fill(logit_sums_.begin(), logit_sums_.end(), 0.0);
    windows_ = 0;
  }

 private:
  std::vector<double> logit_sums_;
  std::vector<float> probabilities_;
  int64_t windows_ = 0;
};

// logits [R, K] of the windows of documents in order (windows[d] rows each) → [D, K], each
// document's row the mean of its windows' rows.
Var mean_over_windows(const Var& logits, const std::vector<int64_t>& windows) {
  const int64_t R = logits.size(0);
  Tensor weights = Tensor::zeros({int64_t(windows.size()), R});
  float* values = weights.data();
  int64_t row = 0;
  for (size_t d = 0; d < windows.size(); ++d) {
    for (int64_t w = 0; w < windows[d]; ++w) values[int64_t(d) * R + row++] = 1.0f / float(windows[d]);
  }
  return matmul(Var(weights), logits);
}

class ClassificationTask : public FinetuneTask {
 public:
  explicit ClassificationTask(const TaskSetup& setup)
      : config_(*setup.config),
        tokenizer_(task_tokenizer(setup, [&] { return example_texts(*setup.examples, *setup.train_indices, false); })),
        labels_(task_labels(setup)),
        model_(classifier_config(config_, tokenizer_.vocab_size(), int64_t(labels_.size()))),
        truncation_(config_enum<Truncation>("data.truncation", config_.data.truncation)),
        class_weights_(training_class_weights(setup)) {
    if (config_.max_len() > config_.model.ctx_len) {
      throw ConfigError("data.max_len: must be <= the model's ctx_len (" + std::to_string(config_.model.ctx_len) +
                        "), got " + std::to_string(config_.max_len()));
    }
    if (setup.init_from) load_backbone(*setup.init_from, *setup.log);
    freeze(*setup.log);
    model_.train();
  }

  Module& model() override { return model_; }
  void set_dropout_batch(int64_t step, int64_t first_example) override {
    model_.set_dropout_batch(step, first_example);
    dropout_step_ = step;
    dropout_first_example_ = first_example;
  }

  std::vector<MetricSpec> metrics() const override {
    return {{"accuracy", true}, {"macro_f1", true}, {"loss", false}};
  }

  bool is_head_parameter(const std::string& name) const override { return starts_with(name, "head."); }

  // A document read in several windows is one training example: its logits are the mean of
  // its windows' (as evaluation scores it), so a window of headers alone is not pushed toward
  // the document's label on its own.
  WeightedLoss loss(const std::vector<LabeledExample>& examples, const std::vector<TrainingItem>& batch) override {
    std::vector<std::vector<int32_t>> rows;
    std::vector<int64_t> windows_per_document;
    std::vector<int64_t> dropout_rows;  // window w of the step's document d: d * max_windows + w
    std::vector<int32_t> targets;
    double weight = 0;
    for (size_t d = 0; d < batch.size(); ++d) {
      std::vector<std::vector<int32_t>> document = windows(examples[batch[d].example].input);
      windows_per_document.push_back(int64_t(document.size()));
      for (size_t w = 0; w < document.size(); ++w) {
        rows.push_back(std::move(document[w]));
        dropout_rows.push_back((dropout_first_example_ + int64_t(d)) * config_.data.max_windows + int64_t(w));
      }
      targets.push_back(label_id(examples[batch[d].example]));
      weight += class_weights_.empty() ? 1.0 : double(class_weights_[size_t(targets.back())]);
    }
    const PaddedBatch padded = pad_batch(rows, batch_pad_id(tokenizer_), config_.max_len(), truncation_);
    const float smoothing = float(config_.train.label_smoothing);
    if (config_.data.max_windows == 1) {
      return {model_.loss(padded.ids, targets, padded.B, padded.T, padded.padding, smoothing, class_weights_), weight};
    }
    model_.set_dropout_batch(dropout_step_, DropoutRows::listed(std::move(dropout_rows)));
    const Var logits = mean_over_windows(model_.forward(padded.ids, padded.B, padded.T, padded.padding),
                                         windows_per_document);
    return {cross_entropy(logits, targets, kIgnoreIndex, smoothing, class_weights_), weight};
  }

  // sums: [0] the summed cross-entropy, [1 + truth * classes + predicted] the confusion matrix.
  EvalTotals evaluate_part(const std::vector<LabeledExample>& examples, const std::vector<size_t>& indices,
                           int64_t batch_size, Shard shard) override {
    const auto [begin, end] = shard_range(indices.size(), batch_size, shard);
    const std::vector<size_t> part(indices.begin() + long(begin), indices.begin() + long(end));
    const int64_t n_classes = int64_t(labels_.size());
    EvalTotals totals;
    totals.sums.assign(size_t(1 + n_classes * n_classes), 0.0);
    score_documents(inputs_of(examples, part), batch_size, [&](size_t row, const PooledScores& scores) {
      const int32_t truth = label_id(examples[part[row]]);
      totals.sums[size_t(1 + truth * n_classes + scores.predicted())] += 1;
      totals.sums[0] -= scores.log_prob(truth);
    });
    return totals;
  }

  TaskEvaluation summarize(const EvalTotals& totals) const override {
    const int64_t n_classes = int64_t(labels_.size());
    require_sums(totals, size_t(1 + n_classes * n_classes), "classification");
    ConfusionMatrix confusion(n_classes);
    for (int32_t truth = 0; truth < n_classes; ++truth) {
      for (int32_t predicted = 0; predicted < n_classes; ++predicted) {
        confusion.add(truth, predicted, int64_t(totals.sums[size_t(1 + truth * n_classes + predicted)]));
      }
    }
    TaskEvaluation result;
    result.metrics = {{"accuracy", confusion.accuracy()},
                      {"macro_f1", confusion.macro_f1()},
                      {"loss", totals.sums[0] / double(confusion.total())}};
    result.report = confusion.table(labels_.labels());
    return result;
  }

  std::vector<std::string> predict(const std::vector<std::string>& inputs, int64_t batch_size) override {
    std::vector<std::string> lines(inputs.size());
    std::vector<const std::string*> texts;
    for (const std::string& input : inputs) texts.push_back(&input);
    score_documents(texts, batch_size, [&](size_t row, const PooledScores& scores) {
      const std::vector<float>& probabilities = scores.probabilities();
      nlohmann::ordered_json line;
      line["label"] = labels_.label(scores.predicted());
      nlohmann::ordered_json by_label = nlohmann::ordered_json::object();
      for (size_t c = 0; c < labels_.size(); ++c) by_label[labels_.labels()[c]] = probabilities[c];
      line["probabilities"] = by_label;
      lines[row] = line.dump();
    });
    return lines;
  }

  std::vector<CheckpointFile> checkpoint_files() const override {
    return {tokenizer_checkpoint_file(tokenizer_), CheckpointFile::from_bytes(kLabelsFile, labels_.to_json())};
  }

 private:
  static std::vector<const std::string*> inputs_of(const std::vector<LabeledExample>& examples,
                                                   const std::vector<size_t>& indices) {
    std::vector<const std::string*> texts;
    texts.reserve(indices.size());
    for (size_t i : indices) texts.push_back(&examples[i].input);
    return texts;
  }

  int32_t label_id(const LabeledExample& example) const {
    try {
      return labels_.id(example.target);
    } catch (const std::invalid_argument& e) {
      throw InputError(example.origin + ": " + e.what());
    }
  }

  std::vector<std::vector<int32_t>> windows(const std::string& text) const {
    return classification_windows(tokenizer_, config_, text);
  }

  // Each document's pooled scores, in order, reading `batch_size` windows per forward pass
  // (a document's windows may span two), in eval mode.
  template <class Visit>
  void score_documents(const std::vector<const std::string*>& texts, int64_t batch_size, Visit visit) {
    const NoGradGuard no_grad;
    model_.eval();
    const int64_t n_classes = int64_t(labels_.size());
    struct Window {
      size_t document;
      std::vector<int32_t> ids;
      bool last;  // the document's last window
    };
    std::deque<Window> pending;
    size_t next_text = 0;
    PooledScores scores(labels_.size());
    while (true) {
      for (; pending.size() < size_t(batch_size) && next_text < texts.size(); ++next_text) {
        std::vector<std::vector<int32_t>> rows = windows(*texts[next_text]);
        for (size_t w = 0; w < rows.size(); ++w) pending.push_back({next_text, std::move(rows[w]), w + 1 == rows.size()});
      }
      if (pending.empty()) break;
      const size_t take = std::min(pending.size(), size_t(batch_size));
      std::vector<std::vector<int32_t>> rows;
      for (size_t i = 0; i < take; ++i) rows.push_back(std::move(pending[i].ids));
      const PaddedBatch batch = pad_batch(rows, batch_pad_id(tokenizer_), config_.max_len(), truncation_);
      const Var logits = model_.forward(batch.ids, batch.B, batch.T, batch.padding);
      for (int64_t b = 0; b < batch.B; ++b) {
        scores.add(logits.value().data() + b * n_classes);
        const Window& window = pending[size_t(b)];
        if (window.last) {
          scores.finish();
          visit(window.document, scores);
          scores.clear();
        }
      }
      pending.erase(pending.begin(), pending.begin() + long(take));
    }
    model_.train();
  }

  // Empty (the unweighted loss) unless the run trains with classification.class_weights. A
  // function of the config and the training split (split.json on resume), so a resumed run
  // gets the same weights without them being stored in the checkpoint.
  std::vector<float> training_class_weights(const TaskSetup& setup) const {
    const ClassWeights& setting = config_.classification.class_weights;
    if (setting.kind == ClassWeights::Kind::kNone || setup.examples == nullptr) return {};
    std::vector<float> weights = resolve_class_weights(setting, labels_, *setup.examples, *setup.train_indices);
    *setup.log << class_weights_line(setting, labels_, weights) << std::endl;
    return weights;
  }

  // The pretrained backbone: every parameter but the head must come from the checkpoint.
  void load_backbone(const Checkpoint& init_from, std::ostream& log) {
    const std::filesystem::path weights = init_from.file(kWeightsFile);
    ParameterLoadReport report;
    try {
      report = load_parameters(weights.string(), model_.named_parameters(), /*strict=*/false);
    } catch (const std::exception& e) {
      throw CheckpointError("init_from: " + std::string(e.what()));
    }
    std::vector<std::string> not_head;
    for (const std::string& name : report.missing) {
      if (!is_head_parameter(name)) not_head.push_back(name);
    }
    if (!not_head.empty()) {
      throw CheckpointError("init_from: " + weights.string() + " lacks backbone parameters " + join(not_head) +
                            " (is it a GPT pretraining checkpoint?)");
    }
    log << "init_from: " << report.loaded.size() << " backbone tensors loaded from " << weights.string()
        << "; new: " << join(report.missing)
        << (report.unexpected.empty() ? std::string() : "; unused: " + join(report.unexpected)) << std::endl;
  }

  void freeze(std::ostream& log) {
    const ClassificationSection& c = config_.classification;
    if (c.freeze_layers > model_.n_layer()) {
      throw ConfigError("classification.freeze_layers: must be <= the model's n_layer (" +
                        std::to_string(model_.n_layer()) + "), got " + std::to_string(c.freeze_layers));
    }
    int64_t frozen = 0;
    for (auto& [name, param] : model_.named_parameters()) {
      bool frozen_here = c.freeze_embeddings && (starts_with(name, "tok_emb.") || starts_with(name, "pos_emb."));
      for (int64_t layer = 0; layer < c.freeze_layers && !frozen_here; ++layer) {
        frozen_here = starts_with(name, "blocks." + std::to_string(layer) + ".");
      }
      if (frozen_here) {
        param.set_requires_grad(false);
        frozen += param.value().numel();
      }
    }
    if (frozen > 0) log << "frozen: " << frozen << " parameters" << std::endl;
  }

  const FinetuneConfig config_;
  Tokenizer tokenizer_;
  LabelVocab labels_;
  SequenceClassifier model_;
  Truncation truncation_;
  std::vector<float> class_weights_;  // per label id; empty = unweighted
  // The micro-batch set_dropout_batch announced, for the rows of documents' windows.
  int64_t dropout_step_ = 0;
  int64_t dropout_first_example_ = 0;
};

}  // namespace

std::vector<std::vector<int32_t>> classification_windows(const Tokenizer& tokenizer, const FinetuneConfig& config,
                                                         std::string_view text) {
  const bool bos = config.classification.prepend_bos && tokenizer.bos_id() >= 0;
  std::vector<std::vector<int32_t>> rows =
      encode_windows(tokenizer, text, config.max_len() - (bos ? 1 : 0), config.data.max_windows,
                     config_enum<Truncation>("data.truncation", config.data.truncation));
  for (std::vector<int32_t>& ids : rows) {
    if (bos) ids.insert(ids.begin(), tokenizer.bos_id());
    // An input that encodes to nothing (e.g. only a BOM) still needs one token to classify.
    if (ids.empty()) ids.push_back(tokenizer.unk_id() >= 0 ? tokenizer.unk_id() : 0);
  }
  return rows;
}

std::unique_ptr<FinetuneTask> make_classification_task(const TaskSetup& setup) {
  return std::make_unique<ClassificationTask>(setup);
}

}  // namespace tapelm
