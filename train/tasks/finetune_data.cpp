// Reading and splitting a fine-tuning run's labeled data.
#include <tapelm/train/tasks/finetune_data.h>

#include <algorithm>
#include <stdexcept>

#include <tapelm/data/splits.h>

#include <tapelm/train/config/errors.h>

namespace tapelm {
namespace fs = std::filesystem;

LabeledDataConfig labeled_data_config(const FinetuneConfig& config, std::vector<std::string> sources) {
  const FinetuneDataSection& d = config.data;
  LabeledDataConfig result;
  result.format = config_enum<LabeledFormat>("data.format", d.format);
  result.sources = std::move(sources);
  result.input_field = d.input_field;
  result.target_field = d.target_field;
  result.group_field = d.group_field;
  result.label_map = d.label_map.entries;
  result.labels = d.labels;
  result.utf8 = config_enum<Utf8Policy>("data.utf8", d.utf8);
  return result;
}

std::vector<LabeledExample> read_examples(const FinetuneConfig& config, const std::vector<std::string>& sources,
                                          const std::string& key) {
  try {
    return load_labeled_examples(labeled_data_config(config, sources));
  } catch (const std::exception& e) {  // a missing file, a bad line: both fixable by the user
    throw InputError(key + ": " + e.what());
  }
}

namespace {

std::vector<size_t> index_range(size_t begin, size_t end) {
  std::vector<size_t> indices;
  for (size_t i = begin; i < end; ++i) indices.push_back(i);
  return indices;
}

// The seeded split of the train sources, with the parts given as files taken out.
DataSplit split_by_fractions(const FinetuneConfig& config, const std::vector<LabeledExample>& examples) {
  const FinetuneDataSection& d = config.data;
  SplitConfig split;
  split.train = d.train_fraction;
  split.val = d.val.empty() ? d.val_fraction : 0.0;
  split.test = d.test.empty() ? d.test_fraction : 0.0;
  const double total = split.train + split.val + split.test;
  split.train /= total;
  split.val /= total;
  split.test = std::max(0.0, 1.0 - split.train - split.val);  // rounding must not make it negative
  split.seed = config.split_seed();
  split.stratify = config.task == "classification";
  return split_examples(examples, split);
}

}  // namespace

FinetuneData load_finetune_data(const FinetuneConfig& config, const fs::path& split_file) {
  const FinetuneDataSection& d = config.data;
  FinetuneData data;
  data.examples = read_examples(config, d.train, "data.train");
  const size_t n_train_sources = data.examples.size();
  std::vector<LabeledExample> val, test;
  if (!d.val.empty()) val = read_examples(config, d.val, "data.val");
  if (!d.test.empty()) test = read_examples(config, d.test, "data.test");

  std::error_code ec;
  if (!split_file.empty() && fs::exists(split_file, ec)) {
    data.examples.insert(data.examples.end(), val.begin(), val.end());
    data.examples.insert(data.examples.end(), test.begin(), test.end());
    try {
      data.split = read_split(split_file.string(), data.examples);
    } catch (const std::exception& e) {
      throw InputError(std::string(e.what()) + " (the data changed since the run started; restore it, or start a " +
                       "new run in another out_dir)");
    }
    return data;
  }

  DataSplit split = split_by_fractions(config, data.examples);
  const size_t val_begin = data.examples.size();
  data.examples.insert(data.examples.end(), val.begin(), val.end());
  const size_t test_begin = data.examples.size();
  data.examples.insert(data.examples.end(), test.begin(), test.end());
  if (!d.val.empty()) split.val = index_range(val_begin, test_begin);
  if (!d.test.empty()) split.test = index_range(test_begin, data.examples.size());
  const auto require = [&](const std::vector<size_t>& part, const std::string& name, const std::string& key) {
    if (part.empty()) {
      throw InputError(key + ": the " + name + " split is empty (" + std::to_string(n_train_sources) +
                       " examples in data.train; give more data or a larger fraction)");
    }
  };
  require(split.train, "training", "data.train_fraction");
  require(split.val, "validation", d.val.empty() ? "data.val_fraction" : "data.val");
  require(split.test, "test", d.test.empty() ? "data.test_fraction" : "data.test");
  if (!split_file.empty()) {
    fs::create_directories(split_file.parent_path());
    write_split(split_file.string(), split, data.examples);
  }
  data.split = std::move(split);
  return data;
}

}  // namespace tapelm
