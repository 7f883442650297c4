// Evaluation and prediction spread over the ranks of an MPI job (train/loop/distributed.h): each
// rank computes a contiguous share of the examples (in whole batches, so every forward pass
// is one a single process would run) and the results are combined, so the numbers and the
// report equal one process's (up to the order of floating-point sums) whatever the number
// of ranks. Every rank must call these together, with the same arguments. A null or
// single-rank Distributed is the plain one-process call.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <tapelm/train/loop/distributed.h>
#include <tapelm/train/tasks/finetune_task.h>

namespace tapelm {

// task.evaluate(examples, indices, batch_size), sharded: each rank's evaluate_part, the
// totals summed over the ranks (all_reduce_sum) and the report samples gathered in rank
// order; every rank returns the same evaluation.
TaskEvaluation evaluate_sharded(FinetuneTask& task, const std::vector<LabeledExample>& examples,
                                const std::vector<size_t>& indices, int64_t batch_size, const Distributed* dist);

// task.predict(inputs, batch_size), sharded: rank 0 returns every input's line in input
// order, the other ranks an empty vector.
std::vector<std::string> predict_sharded(FinetuneTask& task, const std::vector<std::string>& inputs,
                                         int64_t batch_size, const Distributed* dist);

}  // namespace tapelm
