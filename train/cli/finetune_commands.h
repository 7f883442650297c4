// The fine-tuning side of the command line: `tapelm predict` and `tapelm eval --data` on a
// fine-tuning checkpoint (run_predict is declared in train/cli/commands.h with the other commands).
#pragma once

#include <string>

#include <tapelm/train/checkpoint/checkpoint.h>
#include <tapelm/train/cli/commands.h>
#include <tapelm/train/tasks/finetune_task.h>

namespace tapelm {

// `tapelm eval --checkpoint DIR --data FILE` for a fine-tuning checkpoint: the task's metrics
// and report on a labeled file (format from the extension: .jsonl, .csv, .tsv, or a
// directory of label folders; other extensions use the checkpoint's data.format). `json`:
// one object with the metrics instead of the text lines. Under mpirun the examples are
// shared out over the ranks (train/tasks/sharded_evaluation.h) and rank 0 prints; so does
// run_predict, whose rank 0 writes every prediction in input order.
int run_eval_labeled(const Checkpoint& checkpoint, const std::string& data_file, const InferenceOptions& inference,
                     bool json);

}  // namespace tapelm
