// Translation of a pretraining config (train/config/pretrain_config.h, the file format) into the option
// structs of the libraries that do the work: the GPT architecture (nn/), the data pipeline
// (data/), the optimizer and schedule (optim/) and the decoding settings. Only train/ knows
// YAML; everything below it takes these plain structs.
#pragma once

#include <cstdint>
#include <memory>
#include <ostream>
#include <string>

#include <tapelm/autograd/gemm_backend.h>
#include <tapelm/data/dataset.h>
#include <tapelm/decode/generate.h>
#include <tapelm/nn/gpt.h>
#include <tapelm/optim/optimizer.h>
#include <tapelm/optim/schedule.h>
#include <tapelm/train/config/pretrain_config.h>

namespace tapelm {

// The GPT the model section describes, for a tokenizer of `vocab_size` pieces; `seed` seeds
// the initialisation stream and the dropout masks.
GPTConfig gpt_config(const ModelSection& model, int64_t vocab_size, uint64_t seed);

// The data pipeline settings; `tokenizer_model` (when non-empty) replaces tokenizer.model,
// e.g. the tokenizer saved in a checkpoint being resumed.
DataConfig data_config(const PretrainConfig& config, const std::string& tokenizer_model = "");

// The data/ tokenizer options a config section describes (one training thread, so the same
// config gives the same tokenizer on every machine).
TokenizerConfig tokenizer_config(const TokenizerSection& section, uint32_t seed);

// Warmup then decay to scheduler.min_lr at train.max_steps; valid for any config that passed
// check_schedule_rules (train/config/pretrain_config.h), which loading runs.
ScheduleConfig schedule_config(const PretrainConfig& config);
// The same from the sections themselves (shared with fine-tuning configs).
ScheduleConfig schedule_config(const OptimizerSection& optimizer, const SchedulerSection& scheduler, int64_t max_steps);

// AdamW / Adam / SGD over weight_decay_groups(params, optimizer.weight_decay).
std::unique_ptr<Optimizer> make_optimizer(const OptimizerSection& optimizer, const NamedParameters& params);
// The same optimizer over given parameter groups (e.g. a head with its own lr_scale).
std::unique_ptr<Optimizer> make_optimizer(const OptimizerSection& optimizer, std::vector<ParamGroup> groups);

// The sample section as decoding options, seeded with `seed`.
DecodingOptions decoding_options(const SampleSection& sample, uint64_t seed);

// OpenMP threads for `threads` (0 = every core); returns the count in use.
int use_threads(int64_t threads);

// Selects the GEMM backend and precision train.gemm and train.precision name
// (autograd/gemm_backend.h). Returns how products run, for the run log ("gemm onednn, fp32");
// when bf16 cannot run, writes one warning line to `warn` and products stay fp32.
std::string use_gemm(const TrainSection& train, std::ostream& warn);

// "1 thread", "2 threads": how the commands report the count use_threads returned.
std::string thread_count_text(int threads);

}  // namespace tapelm
