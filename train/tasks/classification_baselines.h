// Classic baselines beside a classification model (baselines/text_baselines.h): TF-IDF +
// logistic regression and multinomial naive Bayes, trained on the run's training split (the
// texts and labels the model trained on, as read, before tokenization) and scored on the
// examples the model was scored on, so a report shows at once whether the transformer earns
// its cost. Seconds on a few thousand e-mails; callers run it on rank 0 only, so no text
// crosses ranks.
#pragma once

#include <cstddef>
#include <vector>

#include <tapelm/data/labeled_dataset.h>
#include <tapelm/train/config/finetune_config.h>
#include <tapelm/train/loop/training_task.h>

namespace tapelm {

// A classification task with classification.baselines other than none (or false).
bool wants_classification_baselines(const FinetuneConfig& config);

// Trains both baselines on the n-grams `features` (classification.baselines: auto, words or
// chars; auto = suited_ngram_features() of the training texts) of
// train_examples[train_indices] and scores them on scored_examples[scored_indices]; adds their
// accuracy and macro-F1 to evaluation.baselines ("baseline_tfidf_lr_accuracy",
// "baseline_tfidf_lr_macro_f1", "baseline_naive_bayes_accuracy", "baseline_naive_bayes_macro_f1"),
// the n-grams used to evaluation.baseline_features, and a table of them under the model's
// accuracy and macro_f1 (from evaluation.metrics), its heading naming the n-grams, to
// evaluation.report. A label found only among the scored examples is a class the baselines
// never predict.
void add_classification_baselines(TaskEvaluation& evaluation, const std::string& features,
                                  const std::vector<LabeledExample>& train_examples,
                                  const std::vector<size_t>& train_indices,
                                  const std::vector<LabeledExample>& scored_examples,
                                  const std::vector<size_t>& scored_indices);

}  // namespace tapelm
