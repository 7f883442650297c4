// Training the classic baselines on a run's split and reporting them beside the model.
#include <tapelm/train/tasks/classification_baselines.h>

#include <string>

#include <tapelm/baselines/text_baselines.h>
#include <tapelm/data/label_vocab.h>
#include <tapelm/train/loop/progress.h>
#include <tapelm/train/tasks/task_metrics.h>

namespace tapelm {
namespace {

std::vector<const std::string*> inputs_of(const std::vector<LabeledExample>& examples,
                                          const std::vector<size_t>& indices) {
  std::vector<const std::string*> texts;
  texts.reserve(indices.size());
  for (size_t i : indices) texts.push_back(&examples[i].input);
  return texts;
}

std::vector<int32_t> label_ids(const LabelVocab& labels, const std::vector<LabeledExample>& examples,
                               const std::vector<size_t>& indices) {
  std::vector<int32_t> ids;
  ids.reserve(indices.size());
  for (size_t i : indices) ids.push_back(labels.id(examples[i].target));
  return ids;
}

constexpr size_t kNameWidth = 32;  // the table's first column, indent included

// "  <name, padded>  0.9851    0.9822"
std::string table_row(const std::string& name, double accuracy, double macro_f1) {
  std::string row = "  " + name;
  row.resize(kNameWidth, ' ');
  return row + format_double("%8.4f", accuracy) + "  " + format_double("%8.4f", macro_f1) + "\n";
}

}  // namespace

bool wants_classification_baselines(const FinetuneConfig& config) {
  const std::string& features = config.classification.baselines;
  return features != "none" && features != "false" &&
         config_enum<TaskKind>("task", config.task) == TaskKind::kClassification;
}

void add_classification_baselines(TaskEvaluation& evaluation, const std::string& features,
                                  const std::vector<LabeledExample>& train_examples,
                                  const std::vector<size_t>& train_indices,
                                  const std::vector<LabeledExample>& scored_examples,
                                  const std::vector<size_t>& scored_indices) {
  std::vector<std::string> names;
  for (size_t i : train_indices) names.push_back(train_examples[i].target);
  for (size_t i : scored_indices) names.push_back(scored_examples[i].target);
  const LabelVocab labels(names);
  const int32_t n_classes = int32_t(labels.size());
  const std::vector<int32_t> truth = label_ids(labels, scored_examples, scored_indices);
  const std::vector<const std::string*> train_texts = inputs_of(train_examples, train_indices);
  TextBaselineOptions options;
  options.ngrams.features = features == "words"   ? NgramFeatures::kWords
                            : features == "chars" ? NgramFeatures::kChars
                                                  : suited_ngram_features(train_texts);
  const TextBaselinePredictions predictions =
      train_text_baselines(train_texts, label_ids(labels, train_examples, train_indices), n_classes,
                           inputs_of(scored_examples, scored_indices), options);
  evaluation.baseline_features = describe_ngram_features(options.ngrams);

  std::string table = "baselines on " + evaluation.baseline_features + " (trained on the " +
                      std::to_string(train_indices.size()) +
                      " training examples, scored on the same " + std::to_string(scored_indices.size()) + "):\n";
  table += std::string(kNameWidth, ' ') + "accuracy  macro_f1\n" +
           table_row("model", evaluation.metric("accuracy"), evaluation.metric("macro_f1"));
  const struct {
    const char* key;
    const char* name;
    const std::vector<int32_t>& predicted;
  } baselines[] = {{"tfidf_lr", "tf-idf + logistic regression", predictions.tfidf_logistic_regression},
                   {"naive_bayes", "naive bayes", predictions.naive_bayes}};
  for (const auto& baseline : baselines) {
    const ConfusionMatrix confusion = confusion_matrix(truth, baseline.predicted, n_classes);
    const std::string key = std::string("baseline_") + baseline.key;
    evaluation.baselines.emplace_back(key + "_accuracy", confusion.accuracy());
    evaluation.baselines.emplace_back(key + "_macro_f1", confusion.macro_f1());
    table += table_row(baseline.name, confusion.accuracy(), confusion.macro_f1());
  }
  if (!evaluation.report.empty() && evaluation.report.back() != '\n') evaluation.report += '\n';
  evaluation.report += (evaluation.report.empty() ? "" : "\n") + table;
}

}  // namespace tapelm
