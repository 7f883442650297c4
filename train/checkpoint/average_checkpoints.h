// Averaging the weights of several checkpoints (`tapelm average`): their element-wise mean,
// written as a checkpoint to evaluate, predict or generate with, or to start another run from
// (init_from). The last checkpoints of a run sit around the minimum the final steps circle;
// their mean is often nearer to it than any one of them (Vaswani et al. 2017 average the last
// 5 or 20 checkpoints; fairseq's scripts/average_checkpoints.py).
//
// The result, <out_dir>/checkpoints/step_<the newest input's step>/, holds weights.safetensors
// (the mean), the newest input's config.yaml and task files (tokenizer.model,
// target_tokenizer.model, labels.json, ...) and average.json naming the inputs. It has no
// optimizer or trainer state: it is a model, not a point to resume training from.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <tapelm/train/checkpoint/checkpoint.h>

namespace tapelm {

inline constexpr const char* kAverageFile = "average.json";

// The `count` highest-step checkpoints of a run directory that verify, newest first (fewer
// when fewer verify); each newer one refused on the way is reported in `skipped`.
std::vector<Checkpoint> newest_checkpoints(const std::filesystem::path& run_dir, int64_t count,
                                           std::vector<std::string>* skipped = nullptr);

// The files of the average's checkpoint, for write_checkpoint at the newest input's step. The
// inputs (at least 2, no directory twice) must hold the same tensors with the same shapes, the
// same model section in config.yaml (dropout aside) and byte-identical task files; the errors name the checkpoint, file and tensor (InputError /
// CheckpointError, exit 2). The mean is summed in double precision in the order given, so it is
// deterministic.
std::vector<CheckpointFile> averaged_checkpoint_files(const std::vector<Checkpoint>& inputs);

// Writes the average as <out_dir>/checkpoints/step_<newest step>/ (`tapelm average`). `out_dir`
// must not exist, be empty, or hold nothing but the temporaries of an interrupted average: a
// run's own checkpoints are never replaced.
Checkpoint average_checkpoints(const std::vector<Checkpoint>& inputs, const std::filesystem::path& out_dir);

// CheckpointError for an average: training cannot continue from it.
void require_resumable(const Checkpoint& checkpoint);

}  // namespace tapelm
