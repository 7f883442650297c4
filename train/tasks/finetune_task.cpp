// Task dispatch, and training on whole examples.
#include <tapelm/train/tasks/finetune_task.h>

#include <stdexcept>

#include <tapelm/train/tasks/classification_task.h>
#include <tapelm/train/tasks/completion_task.h>
#if __has_include(<tapelm/train/tasks/seq2seq_task.h>)
#include <tapelm/train/tasks/seq2seq_task.h>
#define TAPELM_HAVE_SEQ2SEQ_TASK 1
#endif

namespace tapelm {

std::vector<TrainingItem> whole_examples(const std::vector<LabeledExample>& examples,
                                         const std::vector<size_t>& indices) {
  std::vector<TrainingItem> items;
  items.reserve(indices.size());
  for (size_t i : indices) items.push_back({i, examples[i].input.size() + examples[i].target.size()});
  return items;
}

std::vector<size_t> item_examples(const std::vector<TrainingItem>& items) {
  std::vector<size_t> indices;
  indices.reserve(items.size());
  for (const TrainingItem& item : items) indices.push_back(item.example);
  return indices;
}

std::unique_ptr<FinetuneTask> make_finetune_task(const TaskSetup& setup) {
  switch (config_enum<TaskKind>("task", setup.config->task)) {
    case TaskKind::kClassification: return make_classification_task(setup);
    case TaskKind::kCompletion: return make_completion_task(setup);
    case TaskKind::kSeq2Seq:
#ifdef TAPELM_HAVE_SEQ2SEQ_TASK
      return make_seq2seq_task(setup);
#else
      throw ConfigError("task: seq2seq: not built (train/tasks/seq2seq_task.h is missing)");
#endif
  }
  throw std::logic_error("make_finetune_task: task '" + setup.config->task + "' has no builder");
}

}  // namespace tapelm
