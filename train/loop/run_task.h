// Running a task as the tapelm commands do: the process's threads and GEMM backend set from
// the train section, the run's first log line, then the one training loop. For tasks defined
// outside the library (train/loop/task_config.h, examples/custom_task) and for the commands.
#pragma once

#include <filesystem>
#include <ostream>
#include <string>

#include <tapelm/train/config/run_config.h>
#include <tapelm/train/loop/training_loop.h>

namespace tapelm {

class Distributed;

// The loop's sections of a config, with its resolved YAML (<out_dir>/config.yaml and every
// checkpoint's).
LoopConfig loop_config(const RunConfig& config, std::string resolved_yaml);

// Starts the threads (train.threads) and the GEMM backend (train.gemm, train.precision) and
// logs the run's first line, "tapelm " + what + "out_dir runs/x, 2 ranks x 1 thread each, gemm
// onednn, fp32" (what: "pretrain: ", "finetune: task seq2seq, "). Refuses a batch the ranks
// cannot share (ConfigError) before any data work. `dist`: null for one process.
void start_run_log(const std::string& what, const std::string& out_dir, const TrainSection& train,
                   const Distributed* dist, std::ostream& log);

// The process group of `options` when it has more than one rank, else null (one process).
const Distributed* several_ranks(const TrainerOptions& options);

// Trains a new run of `task`: out_dir created and locked (train/checkpoint/run_dir.h), start_run_log
// ("tapelm <task name>: out_dir ..."), then train(). Throws as train() does, and InputError
// when out_dir cannot be written, another run holds it, or it holds checkpoints of an earlier
// run (continue those with resume_task).
TrainResult run_task(TrainingTask& task, const LoopConfig& config, const TrainerOptions& options = {});

// Continues a run of `task` as `tapelm ... --resume` does: from `from`, a checkpoint directory
// or a run directory (its newest checkpoint that verifies; each newer one skipped is logged as
// a warning), bit for bit as if the run had not stopped with the same ranks and threads. The
// task must be built as the run's was (the checkpoint restores weights, optimizer, schedule,
// sampler and random streams, not the architecture); `config` may change what resuming allows
// (max_steps, intervals, ...). With several ranks, rank 0 picks the checkpoint and the others
// open the one it chose. Throws CheckpointError when `from` holds no usable checkpoint, and as
// run_task does.
TrainResult resume_task(TrainingTask& task, const LoopConfig& config, const std::filesystem::path& from,
                        const TrainerOptions& options = {});

}  // namespace tapelm
