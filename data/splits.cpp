// Seeded, stratified, group-preserving splits and their JSON files.
#include <tapelm/data/splits.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <unordered_map>

#include <tapelm/autograd/rng.h>
#include <tapelm/data/atomic_file.h>
#include <tapelm/data/hash.h>

namespace tapelm {
namespace {

void check_fractions(const SplitConfig& config) {
  if (!(config.train >= 0 && config.val >= 0 && config.test >= 0) ||
      std::abs(config.train + config.val + config.test - 1.0) > 1e-9) {
    throw std::invalid_argument("split: fractions train " + std::to_string(config.train) + ", val " +
                                std::to_string(config.val) + ", test " + std::to_string(config.test) +
                                " must be non-negative and sum to 1");
  }
}

// Example indices per group, groups in order of first appearance.
std::vector<std::vector<size_t>> group_examples(const std::vector<LabeledExample>& examples) {
  std::vector<std::vector<size_t>> groups;
  std::unordered_map<std::string, size_t> group_of;
  groups.reserve(examples.size());
  group_of.reserve(examples.size());
  for (size_t i = 0; i < examples.size(); ++i) {
    const std::string& key = examples[i].group;
    if (key.empty()) {
      groups.push_back({i});
      continue;
    }
    const auto [it, inserted] = group_of.emplace(key, groups.size());
    if (inserted) groups.emplace_back();
    groups[it->second].push_back(i);
  }
  return groups;
}

size_t rounded_share(size_t n, double fraction) { return static_cast<size_t>(std::floor(n * fraction + 0.5)); }

std::vector<size_t> read_indices(const nlohmann::json& doc, const char* key, const std::string& path,
                                 size_t num_examples, std::vector<uint8_t>& seen) {
  const auto it = doc.find(key);
  if (it == doc.end()) return {};
  if (!it->is_array()) throw std::runtime_error("split file '" + path + "': '" + key + "' must be an array of indices");
  std::vector<size_t> out;
  for (const nlohmann::json& value : *it) {
    if (!value.is_number_unsigned() && !(value.is_number_integer() && value.get<int64_t>() >= 0)) {
      throw std::runtime_error("split file '" + path + "': '" + key + "' holds " + value.dump() +
                               ", expected a non-negative integer index");
    }
    const uint64_t index = value.get<uint64_t>();
    if (index >= num_examples) {
      throw std::runtime_error("split file '" + path + "': index " + std::to_string(index) + " in '" + key +
                               "' is out of range for " + std::to_string(num_examples) + " examples");
    }
    if (seen[index]) {
      throw std::runtime_error("split file '" + path + "': index " + std::to_string(index) + " is listed twice");
    }
    seen[index] = 1;
    out.push_back(static_cast<size_t>(index));
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

DataSplit split_examples(const std::vector<LabeledExample>& examples, const SplitConfig& config) {
  check_fractions(config);
  const std::vector<std::vector<size_t>> groups = group_examples(examples);
  std::map<std::string, std::vector<size_t>> strata;  // label -> group numbers; sorted by label
  for (size_t g = 0; g < groups.size(); ++g) {
    strata[config.stratify ? examples[groups[g].front()].target : std::string()].push_back(g);
  }
  Rng rng(config.seed);
  DataSplit split;
  for (auto& [label, members] : strata) {
    for (size_t i = members.size(); i > 1; --i) std::swap(members[i - 1], members[rng.below(i)]);
    const size_t n = members.size();
    const size_t n_val = std::min(n, rounded_share(n, config.val));
    const size_t n_test = std::min(n - n_val, rounded_share(n, config.test));
    for (size_t k = 0; k < n; ++k) {
      std::vector<size_t>& target = k < n_val ? split.val : k < n_val + n_test ? split.test : split.train;
      const std::vector<size_t>& group = groups[members[k]];
      target.insert(target.end(), group.begin(), group.end());
    }
  }
  for (std::vector<size_t>* part : {&split.train, &split.val, &split.test}) std::sort(part->begin(), part->end());
  return split;
}

std::string examples_fingerprint(const std::vector<LabeledExample>& examples) {
  std::string bytes;
  for (const LabeledExample& example : examples) {
    for (const std::string* field : {&example.input, &example.target, &example.group}) {
      bytes += std::to_string(field->size()) + ":" + *field;
    }
  }
  return hex64(hash64(bytes));
}

void write_split(const std::string& path, const DataSplit& split, const std::vector<LabeledExample>& examples) {
  nlohmann::json doc;
  doc["num_examples"] = examples.size();
  doc["fingerprint"] = examples_fingerprint(examples);
  doc["train"] = split.train;
  doc["val"] = split.val;
  doc["test"] = split.test;
  write_file_atomic(path, doc.dump() + "\n");
}

DataSplit read_split(const std::string& path, const std::vector<LabeledExample>& examples) {
  const size_t num_examples = examples.size();
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(read_file(path));
  } catch (const nlohmann::json::parse_error& e) {
    throw std::runtime_error("split file '" + path + "': bad JSON: " + e.what());
  }
  if (!doc.is_object()) throw std::runtime_error("split file '" + path + "': expected a JSON object");
  const auto count = doc.find("num_examples");
  if (count == doc.end() || !count->is_number_unsigned() || count->get<uint64_t>() != num_examples) {
    throw std::runtime_error("split file '" + path + "': num_examples is " +
                             (count == doc.end() ? std::string("missing") : count->dump()) + " but the dataset has " +
                             std::to_string(num_examples) + " examples (was the data changed?)");
  }
  const auto fingerprint = doc.find("fingerprint");
  if (fingerprint != doc.end()) {
    const std::string expected = examples_fingerprint(examples);
    if (!fingerprint->is_string() || fingerprint->get<std::string>() != expected) {
      throw std::runtime_error("split file '" + path + "': fingerprint " + fingerprint->dump() +
                               " does not match the data (" + expected +
                               "): the examples changed since the split was written");
    }
  }
  std::vector<uint8_t> seen(num_examples, 0);
  DataSplit split;
  split.train = read_indices(doc, "train", path, num_examples, seen);
  split.val = read_indices(doc, "val", path, num_examples, seen);
  split.test = read_indices(doc, "test", path, num_examples, seen);
  return split;
}

}  // namespace tapelm
