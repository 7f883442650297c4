// The pretraining config (`tapelm pretrain`): RunConfig's shared sections plus the corpus
// (data) and the sample printed at the end. Keys and their meaning are documented in
// configs/pretrain/*.yaml and train/README.md.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <tapelm/train/config/config_schema.h>
#include <tapelm/train/config/run_config.h>

namespace tapelm {

struct DataSection {
  std::vector<std::string> train;  // paths or globs (required)
  std::vector<std::string> val;    // empty = hold out val_fraction of train
  double val_fraction = 0.05;      // [0, 1); used only when val is empty
  std::string cache_dir;           // empty in the file = <parent of out_dir>/cache
  std::string utf8 = "error";      // error | replace | skip
  // text: one file = one document. jsonl | csv | tsv: one record = one document, the text of
  // its `text_field` (so a labeled file can be pretrained on).
  std::string format = "text";
  std::string text_field = "text";  // JSON field / CSV column holding the text
};

struct SampleSection {
  std::string prompt;
  int64_t max_new_tokens = 100;
  double temperature = 1.0;  // 0 = greedy
  int64_t top_k = 0;         // 0 = off
  double top_p = 1.0;        // (0, 1]; 1 = off
};

struct PretrainConfig : RunConfig {
  DataSection data;
  SampleSection sample;
};

SectionSchema<DataSection> data_section_schema();
SectionSchema<SampleSection> sample_section_schema();

template <>
ConfigSchema<PretrainConfig> make_config_schema<PretrainConfig>();

// A checkpoint's config.yaml as written by an earlier tapelm, in today's keys: eval.batches (B
// micro-batches of validation windows) becomes eval.max_examples = B x train.micro_batch_size
// with eval.batch_size = train.micro_batch_size. Text in today's keys is returned unchanged.
std::string upgrade_pretrain_config_yaml(const std::string& yaml_text);

}  // namespace tapelm
