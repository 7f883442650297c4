// task: classification — a SequenceClassifier (decoder-only backbone, pooled hidden state,
// linear head) over [<bos>] + the input's tokens, in up to data.max_windows windows of
// data.max_len tokens chosen by data.truncation. A document's logits are the mean of its
// windows', in training (one example per document) as in evaluation.
// With init_from, the backbone and tokenizer come from a pretraining checkpoint (the new
// head and the unused lm_head are reported); optional freezing of the embeddings and the
// first N blocks; the head may have its own learning rate. The label vocabulary is built
// from the training split and saved as labels.json.
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include <tapelm/data/tokenizer.h>

#include <tapelm/train/tasks/finetune_task.h>

namespace tapelm {

inline constexpr const char* kLabelsFile = "labels.json";

// The rows the classifier reads `text` in: encode_windows (train/tasks/task_common.h) of
// data.max_len tokens less the <bos> slot, at most data.max_windows of them, each after <bos>
// when classification.prepend_bos (and the tokenizer has one). A row of no tokens holds <unk>.
std::vector<std::vector<int32_t>> classification_windows(const Tokenizer& tokenizer, const FinetuneConfig& config,
                                                         std::string_view text);

std::unique_ptr<FinetuneTask> make_classification_task(const TaskSetup& setup);

}  // namespace tapelm
