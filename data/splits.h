// Train / validation / test splits of labeled examples: a seeded split by fractions,
// stratified by label and keeping groups (examples sharing a group key) on one side, and
// its JSON form so a run can reuse exactly the same split.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <tapelm/data/labeled_dataset.h>

namespace tapelm {

struct SplitConfig {
  double train = 0.8;  // fractions of the groups in each split; must sum to 1
  double val = 0.1;
  double test = 0.1;
  uint64_t seed = 0;
  // Split each label's groups separately so every split has about the same label mix
  // (a group's label is its first example's target). Off for sequence tasks, whose
  // targets are all different.
  bool stratify = true;
};

// Example indices of each split, ascending.
struct DataSplit {
  std::vector<size_t> train;
  std::vector<size_t> val;
  std::vector<size_t> test;
};

// Groups (by LabeledExample::group; an empty group is the example alone) are shuffled with
// Rng(seed) per stratum, in sorted label order; each stratum gives round(n·val) groups to
// val, round(n·test) to test and the rest to train. Deterministic for given examples and
// config. Throws std::invalid_argument for negative fractions or ones not summing to 1.
DataSplit split_examples(const std::vector<LabeledExample>& examples, const SplitConfig& config);

// XXH64 over every example's input, target and group (length-prefixed), as 16 hex digits:
// identifies the data a split file was made for.
std::string examples_fingerprint(const std::vector<LabeledExample>& examples);

// {"num_examples": N, "fingerprint": "...", "train": [...], "val": [...], "test": [...]},
// written atomically.
void write_split(const std::string& path, const DataSplit& split, const std::vector<LabeledExample>& examples);
// Reads a split written by write_split for the same `examples`; throws std::runtime_error
// naming the file for bad JSON, a different example count or fingerprint (the data
// changed), an index out of range, or an index listed twice. A hand-written file may omit
// the fingerprint.
DataSplit read_split(const std::string& path, const std::vector<LabeledExample>& examples);

}  // namespace tapelm
