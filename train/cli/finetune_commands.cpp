// `tapelm finetune`, `tapelm predict` and `tapelm eval --data` (labeled files).
#include <tapelm/train/cli/finetune_commands.h>

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include <tapelm/data/csv.h>
#include <tapelm/data/utf8.h>
#include <tapelm/train/config/builders.h>
#include <tapelm/train/cli/cli.h>
#include <tapelm/train/checkpoint/finetune_checkpoint.h>
#include <tapelm/train/tasks/classification_baselines.h>
#include <tapelm/train/tasks/finetune_data.h>
#include <tapelm/train/config/memory_budget.h>
#include <tapelm/train/cli/rank_errors.h>
#include <tapelm/train/tasks/sharded_evaluation.h>
#include <tapelm/data/atomic_file.h>
#include <tapelm/train/loop/signals.h>

namespace tapelm {
namespace fs = std::filesystem;
namespace {

std::string extension_of(const std::string& path) {
  std::string ext = fs::path(path).extension().string();
  for (char& c : ext) c = char(std::tolower(static_cast<unsigned char>(c)));
  return ext;
}

Checkpoint open_checkpoint(const std::string& path) {
  std::vector<std::string> skipped;
  Checkpoint checkpoint = locate_checkpoint(path, &skipped);
  for (const std::string& reason : skipped) print_warning(reason);
  return checkpoint;
}

// Refuses, before any work is done, an output path that cannot be written: a directory, or a
// file in a directory that does not exist or is not writable.
void require_output_file(const std::string& option, const std::string& path) {
  const fs::path file(path);
  std::error_code ec;
  if (fs::is_directory(file, ec)) throw InputError(option + " " + path + ": is a directory, expected a file");
  const fs::path dir = file.parent_path().empty() ? fs::path(".") : file.parent_path();
  if (!fs::exists(dir, ec)) throw InputError(option + " " + path + ": directory " + dir.string() + " does not exist");
  if (!fs::is_directory(dir, ec)) throw InputError(option + " " + path + ": " + dir.string() + " is not a directory");
  if (::access(dir.c_str(), W_OK | X_OK) != 0) {
    throw InputError(option + " " + path + ": cannot write in " + dir.string() + ": " + std::strerror(errno));
  }
}

// One example to predict: its text and, for JSONL input, an "id" field to carry over.
struct PredictInput {
  std::string text;
  nlohmann::json id;  // null when absent
};

// --input: JSONL objects with the config's input field (and an optional "id"), CSV/TSV with a
// header naming the input column, or plain text with one example per non-empty line.
std::vector<PredictInput> read_predict_inputs(const std::string& path, const std::string& field) {
  std::string text = read_file(path);
  if (text.rfind("\xEF\xBB\xBF", 0) == 0) text.erase(0, 3);
  const size_t bad = find_invalid_utf8(text);
  if (bad != std::string::npos) {
    throw InputError("--input " + path + ": invalid UTF-8 at byte offset " + std::to_string(bad) + " (line " +
                     std::to_string(1 + std::count(text.begin(), text.begin() + long(bad), '\n')) + ")");
  }
  std::vector<PredictInput> inputs;
  const std::string ext = extension_of(path);
  if (ext == ".jsonl") {
    std::istringstream lines(text);
    std::string line;
    for (size_t number = 1; std::getline(lines, line); ++number) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      const std::string where = "--input " + path + ":" + std::to_string(number);
      const nlohmann::json record = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (record.is_discarded() || !record.is_object()) throw InputError(where + ": not a JSON object");
      const auto value = record.find(field);
      if (value == record.end()) throw InputError(where + ": no field '" + field + "' (data.input_field)");
      if (!value->is_string()) throw InputError(where + ": field '" + field + "' is not a string");
      inputs.push_back({value->get<std::string>(), record.contains("id") ? record["id"] : nlohmann::json()});
    }
  } else if (ext == ".csv" || ext == ".tsv") {
    std::vector<DelimitedRecord> records;
    try {
      records = parse_delimited(text, ext == ".csv" ? ',' : '\t', "--input " + path);
    } catch (const std::runtime_error& e) {
      throw InputError(e.what());
    }
    if (records.empty()) throw InputError("--input " + path + ": no header row");
    const std::vector<std::string>& header = records.front().fields;
    const auto column = std::find(header.begin(), header.end(), field);
    if (column == header.end()) {
      throw InputError("--input " + path + ":1: the header has no column '" + field + "' (data.input_field)");
    }
    const size_t index = size_t(column - header.begin());
    for (size_t r = 1; r < records.size(); ++r) {
      if (records[r].fields.size() != header.size()) {
        throw InputError("--input " + path + ":" + std::to_string(records[r].line) + ": " +
                         std::to_string(records[r].fields.size()) + " fields, but the header has " +
                         std::to_string(header.size()));
      }
      inputs.push_back({records[r].fields[index], nullptr});
    }
  } else {
    std::istringstream lines(text);
    std::string line;
    while (std::getline(lines, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (!line.empty()) inputs.push_back({line, nullptr});
    }
  }
  if (inputs.empty()) throw InputError("--input " + path + ": no examples in the file");
  return inputs;
}

// The checkpoint's task with eval's or predict's --beam-size, --length-penalty and --threads applied; the
// caller starts the threads (use_threads(model.config.train.threads)).
FinetunedModel load_for_inference(const Checkpoint& checkpoint, const InferenceOptions& inference) {
  std::ostringstream log;
  FinetunedModel model = load_finetuned_model(checkpoint, log, [&](FinetuneConfig& config) {
    if (const std::string option = inference.decoding_option(); !option.empty() && config.task != "seq2seq") {
      throw InputError(option + ": " + checkpoint.dir.string() + " holds a " + config.task +
                       " model; only seq2seq models decode with a beam");
    }
    if (inference.beam_size) config.decode.beam_size = *inference.beam_size;
    if (inference.length_penalty) config.decode.length_penalty = *inference.length_penalty;
    if (inference.threads) config.train.threads = *inference.threads;
  });
  return model;
}

// The baselines on eval --data's examples, trained on the run's training split: the split
// recorded in the run's out_dir when it is still there, else the same seeded split made again
// from the config's data. Returns why they were skipped, or "" when they were added.
std::string add_eval_baselines(TaskEvaluation& evaluation, const FinetuneConfig& config,
                               const std::vector<LabeledExample>& examples, const std::vector<size_t>& indices) {
  FinetuneData training;
  try {
    const fs::path split_file = fs::path(config.out_dir) / "split.json";
    std::error_code ec;
    training = load_finetune_data(config, fs::exists(split_file, ec) ? split_file : fs::path());
  } catch (const std::exception& e) {
    return std::string("the run's training data cannot be read: ") + e.what();
  }
  add_classification_baselines(evaluation, config.classification.baselines, training.examples, training.split.train, examples, indices);
  return "";
}

}  // namespace

namespace {

int predict(const PredictArgs& args, const Distributed& dist) {
  if (!fs::is_regular_file(args.input)) throw InputError("--input " + args.input + ": file not found");
  if (dist.is_root() && !args.output.empty()) require_output_file("--output", args.output);
  FinetunedModel model = load_for_inference(open_checkpoint(args.checkpoint), args.inference);
  start_threads(model.config.train.threads, &dist);
  use_gemm(model.config.train, std::cerr);
  const std::vector<PredictInput> inputs = read_predict_inputs(args.input, model.config.data.input_field);
  std::vector<std::string> texts;
  for (const PredictInput& input : inputs) texts.push_back(input.text);
  const std::vector<std::string> predictions = predict_sharded(*model.task, texts, model.config.eval.batch_size, &dist);
  if (!dist.is_root()) return kExitOk;
  std::string out;
  for (size_t i = 0; i < inputs.size(); ++i) {
    nlohmann::ordered_json line;
    line["index"] = i;
    if (!inputs[i].id.is_null()) line["id"] = inputs[i].id;
    const nlohmann::ordered_json prediction = nlohmann::ordered_json::parse(predictions[i]);
    for (const auto& [key, value] : prediction.items()) line[key] = value;
    out += line.dump() + "\n";
  }
  if (args.output.empty()) {
    std::cout << out << std::flush;
  } else {
    write_file_atomic(args.output, out);
  }
  return kExitOk;
}

int eval_labeled(const Checkpoint& checkpoint, const std::string& data_file, const InferenceOptions& inference,
                 bool json, const Distributed& dist) {
  FinetunedModel model = load_for_inference(checkpoint, inference);
  const int threads = start_threads(model.config.train.threads, &dist);
  use_gemm(model.config.train, std::cerr);
  FinetuneConfig config = model.config;
  const std::string ext = extension_of(data_file);
  if (fs::is_directory(data_file)) config.data.format = "folders";
  if (ext == ".jsonl" || ext == ".csv" || ext == ".tsv") config.data.format = ext.substr(1);
  const std::vector<LabeledExample> examples = read_examples(config, {data_file}, "--data " + data_file);
  std::vector<size_t> all(examples.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = i;
  TaskEvaluation evaluation = evaluate_sharded(*model.task, examples, all, config.eval.batch_size, &dist);
  if (!dist.is_root()) return kExitOk;
  const std::string baselines_skipped =
      wants_classification_baselines(model.config) ? add_eval_baselines(evaluation, model.config, examples, all) : "";
  if (json) {
    nlohmann::ordered_json record = eval_record(data_file, checkpoint, threads);
    record["examples"] = examples.size();
    for (const auto& [name, value] : evaluation.metrics) record["metrics"][name] = value;
    for (const auto& [name, value] : evaluation.baselines) record["metrics"][name] = value;
    if (!evaluation.baseline_features.empty()) record["baseline_features"] = evaluation.baseline_features;
    if (!baselines_skipped.empty()) record["baselines_skipped"] = baselines_skipped;
    record["report"] = evaluation.report;
    print_json(record);
    return kExitOk;
  }
  std::cout << data_file << ": " << format_metrics(evaluation) << " over " << examples.size() << " examples (checkpoint "
            << checkpoint.dir.string() << ", step " << checkpoint.step << ", " << thread_count_text(threads) << ")\n"
            << evaluation.report << (evaluation.report.empty() || evaluation.report.back() == '\n' ? "" : "\n");
  if (!baselines_skipped.empty()) std::cout << "baselines: skipped, " << baselines_skipped << "\n";
  std::cout << std::flush;
  return kExitOk;
}

}  // namespace

int run_predict(const PredictArgs& args) {
  const Distributed dist;
  return run_on_every_rank(dist, [&] { return predict(args, dist); });
}

int run_eval_labeled(const Checkpoint& checkpoint, const std::string& data_file, const InferenceOptions& inference,
                     bool json) {
  const Distributed dist;
  return run_on_every_rank(dist, [&] { return eval_labeled(checkpoint, data_file, inference, json, dist); });
}

}  // namespace tapelm
