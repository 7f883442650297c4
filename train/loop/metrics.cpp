// metrics.jsonl writing and recovery on resume.
#include <tapelm/train/loop/metrics.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <string>

#include <tapelm/data/atomic_file.h>
#include <tapelm/train/loop/tensorboard.h>

namespace tapelm {
namespace {

// JSON has no NaN or infinity: a non-finite value is written as null.
nlohmann::ordered_json number(double value) {
  return std::isfinite(value) ? nlohmann::ordered_json(value) : nlohmann::ordered_json(nullptr);
}

void remember(const nlohmann::json& record, LossHistory& history) {
  const int64_t step = record.at("step").get<int64_t>();
  const auto add = [&](const char* key, std::vector<std::pair<int64_t, double>>& series) {
    const auto it = record.find(key);
    if (it != record.end() && it->is_number()) series.emplace_back(step, it->get<double>());
  };
  add("loss", history.train);
  add("val_loss", history.val);
}

}  // namespace

MetricsLog::MetricsLog(std::filesystem::path path, std::optional<int64_t> resume_step, bool tensorboard)
    : path_(std::move(path)) {
  std::string kept;
  if (resume_step && std::filesystem::exists(path_)) {
    std::istringstream lines(read_file(path_));
    std::string line;
    while (std::getline(lines, line)) {
      const nlohmann::json record = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (record.is_discarded() || !record.is_object() || !record.contains("step") || !record["step"].is_number_integer()) {
        continue;  // a line torn by a crash
      }
      if (record["step"].get<int64_t>() > *resume_step) continue;
      kept += line + "\n";
      remember(record, history_);
    }
  }
  write_file_atomic(path_, kept);
  out_.open(path_, std::ios::app);
  if (!out_) throw std::runtime_error(path_.string() + ": cannot open for appending");
  if (tensorboard) tensorboard_ = std::make_unique<TensorBoardLog>(path_.parent_path(), resume_step);
}

MetricsLog::~MetricsLog() = default;

void MetricsLog::append(const std::string& line) {
  out_ << line << '\n';
  out_.flush();
  if (!out_) throw std::runtime_error(path_.string() + ": write failed");
}

void MetricsLog::log(const TrainRecord& r, const std::string& rate_name) {
  const nlohmann::ordered_json record = {{"step", r.step},
                                         {"loss", number(r.loss)},
                                         {"lr", number(r.lr)},
                                         {"grad_norm", number(r.grad_norm)},
                                         {rate_name, number(r.per_second)},
                                         {"skipped_steps", r.skipped_steps}};
  append(record.dump());
  add_scalars(r.step, {{"loss", r.loss},
                       {"lr", r.lr},
                       {"grad_norm", r.grad_norm},
                       {rate_name, r.per_second},
                       {"skipped_steps", double(r.skipped_steps)}});
  if (std::isfinite(r.loss)) history_.train.emplace_back(r.step, r.loss);
}

void MetricsLog::log(int64_t step, const std::vector<std::pair<std::string, double>>& fields) {
  nlohmann::ordered_json record = {{"step", step}};
  for (const auto& [name, value] : fields) record[name] = number(value);
  append(record.dump());
  add_scalars(step, fields);
  remember(nlohmann::json(record), history_);
}

void MetricsLog::log_text(int64_t step, const std::string& tag, const std::string& text) {
  if (tensorboard_) tensorboard_->add_text(tag, step, text);
}

void MetricsLog::add_scalars(int64_t step, const std::vector<std::pair<std::string, double>>& fields) {
  if (!tensorboard_) return;
  for (const auto& [name, value] : fields) tensorboard_->add_scalar(name, step, value);
}

}  // namespace tapelm
