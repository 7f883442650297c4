// task: classification — a SequenceClassifier (decoder-only backbone, pooled hidden state,
// linear head) over [<bos>] + the input's tokens, cut to data.max_len by data.truncation.
// With init_from, the backbone and tokenizer come from a pretraining checkpoint (the new
// head and the unused lm_head are reported); optional freezing of the embeddings and the
// first N blocks; the head may have its own learning rate. The label vocabulary is built
// from the training split and saved as labels.json.
#pragma once

#include <memory>

#include <tapelm/train/tasks/finetune_task.h>

namespace tapelm {

inline constexpr const char* kLabelsFile = "labels.json";

std::unique_ptr<FinetuneTask> make_classification_task(const TaskSetup& setup);

}  // namespace tapelm
