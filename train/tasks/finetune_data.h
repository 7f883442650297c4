// The labeled examples of a fine-tuning run and their train / validation / test split:
// read from the config's data sources, split by seeded fractions (stratified by label for
// classification, groups kept together) unless val/test files are given, and the split kept
// in <out_dir>/split.json so a resumed run trains on exactly the same examples.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <tapelm/data/labeled_dataset.h>
#include <tapelm/data/splits.h>
#include <tapelm/train/config/finetune_config.h>

namespace tapelm {

struct FinetuneData {
  std::vector<LabeledExample> examples;  // train sources, then val sources, then test sources
  DataSplit split;  // indices into examples
};

// How the config's data section reads `sources` (data.train, data.val, data.test, or a file
// given on the command line).
LabeledDataConfig labeled_data_config(const FinetuneConfig& config, std::vector<std::string> sources);

// Reads every source; errors are InputError prefixed with the config key ("data.train: ...").
std::vector<LabeledExample> read_examples(const FinetuneConfig& config, const std::vector<std::string>& sources,
                                          const std::string& key);

// Loads the data and splits it. `split_file`: when it exists (a resumed run), the split is
// read from it (refusing one made for other data); otherwise the new split is written there.
// An empty `split_file` splits anew and writes nothing (`tapelm check`).
FinetuneData load_finetune_data(const FinetuneConfig& config, const std::filesystem::path& split_file);

}  // namespace tapelm
