// The fine-tuning side of the command line: `tapelm finetune`, `tapelm predict` and
// `tapelm eval --data` on a fine-tuning checkpoint (run_finetune and run_predict are declared
// in train/commands.h with the other commands).
#pragma once

#include <string>

#include "train/checkpoint.h"
#include "train/commands.h"
#include "train/finetune_trainer.h"

namespace tapelm {

// The validated config, with a model that cannot fit in memory refused before any data work.
FinetuneConfig load_finetune_run_config(const std::string& path, const std::vector<std::string>& overrides);

// Loads the config, locks out_dir (train/run_dir.h), refuses an out_dir holding checkpoints
// unless resuming, locates the checkpoint to resume from or the init_from checkpoint (fixing
// the architecture). The trainer writes the resolved <out_dir>/config.yaml once it accepted
// the run.
FinetuneRun prepare_finetune(const FinetuneArgs& args);

// `tapelm eval --checkpoint DIR --data FILE` for a fine-tuning checkpoint: the task's metrics
// and report on a labeled file (format from the extension: .jsonl, .csv, .tsv, or a
// directory of label folders; other extensions use the checkpoint's data.format). `json`:
// one object with the metrics instead of the text lines. Under mpirun the examples are
// shared out over the ranks (train/sharded_evaluation.h) and rank 0 prints; so does
// run_predict, whose rank 0 writes every prediction in input order.
int run_eval_labeled(const Checkpoint& checkpoint, const std::string& data_file, const InferenceOptions& inference,
                     bool json);

}  // namespace tapelm
