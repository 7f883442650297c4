// <out_dir>/metrics.jsonl: one JSON object per line, appended as training goes.
//   train: {"step", "loss", "lr", "grad_norm", "tokens_per_s" or "examples_per_s", "skipped_steps"}
//   eval:  {"step", "val_<metric>", ...}: "val_loss", "val_ppl" for pretraining, the task's metrics otherwise
//   test:  {"step", "test_<metric>", ...} at the end of a run whose task has a test split, with
//          classification's baselines beside them ("test_baseline_tfidf_lr_accuracy", ...)
// Numbers are written with the shortest text that reads back to the same double (a skipped
// step's non-finite loss is null), so identical losses show as identical text. The log also
// keeps the loss curves for the plot and, when asked, writes every value and text sample to a
// TensorBoard event file beside metrics.jsonl too (train/loop/tensorboard.h), under the same names.
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace tapelm {

class TensorBoardLog;

struct TrainRecord {
  int64_t step = 0;  // optimizer steps completed, counting this one
  double loss = 0;   // this step's loss (mean over its micro-batches)
  double lr = 0;
  double grad_norm = 0;  // before clipping
  double per_second = 0;  // throughput: tokens or examples per second (the progress display's rate_unit)
  int64_t skipped_steps = 0;  // non-finite steps so far in the run
};

struct LossHistory {
  std::vector<std::pair<int64_t, double>> train;  // (step, loss) of logged steps
  std::vector<std::pair<int64_t, double>> val;    // (step, val_loss)
};

class MetricsLog {
 public:
  // Opens `path` for appending. `resume_step` nullopt: a new run, any old file is replaced.
  // Otherwise the records up to resume_step are kept and later ones (from a run abandoned
  // after the checkpoint being resumed) dropped, as is a torn last line. Throws
  // std::runtime_error naming the path if it cannot be written. `tensorboard`: also write a
  // TensorBoard event file in the same folder.
  MetricsLog(std::filesystem::path path, std::optional<int64_t> resume_step, bool tensorboard = false);
  ~MetricsLog();

  // A training step's line; `rate_name` names the throughput field ("tokens_per_s",
  // "examples_per_s").
  void log(const TrainRecord& record, const std::string& rate_name);
  // {"step": step, "<name>": value, ...}: a "loss" field joins the training curve, a
  // "val_loss" field the validation curve.
  void log(int64_t step, const std::vector<std::pair<std::string, double>>& fields);
  // Text such as a generated sample: TensorBoard only (metrics.jsonl holds numbers).
  void log_text(int64_t step, const std::string& tag, const std::string& text);

  const LossHistory& history() const { return history_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  void append(const std::string& line);
  void add_scalars(int64_t step, const std::vector<std::pair<std::string, double>>& fields);

  std::filesystem::path path_;
  std::ofstream out_;
  LossHistory history_;
  std::unique_ptr<TensorBoardLog> tensorboard_;  // null unless asked for
};

}  // namespace tapelm
