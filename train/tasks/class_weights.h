// The per-class loss weights that classification.class_weights asks for, resolved against
// the label vocabulary and the training split, and their line in the run log.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <tapelm/data/label_vocab.h>
#include <tapelm/data/labeled_dataset.h>
#include <tapelm/train/config/finetune_config.h>

namespace tapelm {

// One weight per label id, or empty for none (the unweighted loss). auto: N / (K · n_c) for
// N training examples, K classes and n_c examples of class c; a map: its weights, 1 for labels
// it leaves out. Throws ConfigError naming classification.class_weights and a label that is
// not in `labels`.
std::vector<float> resolve_class_weights(const ClassWeights& setting, const LabelVocab& labels,
                                         const std::vector<LabeledExample>& examples,
                                         const std::vector<size_t>& train_indices);

// "class weights (auto): ham 0.5822, spam 3.537" for the run log.
std::string class_weights_line(const ClassWeights& setting, const LabelVocab& labels,
                               const std::vector<float>& weights);

}  // namespace tapelm
