// The seq2seq task: teacher-forced batches, batched greedy / beam-search decoding,
// multi-reference scoring and predictions.
#include <tapelm/train/tasks/seq2seq_task.h>

#include <tapelm/data/seq2seq_batch.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <numeric>
#include <sstream>
#include <stdexcept>

#include <tapelm/autograd/loss.h>
#include <tapelm/autograd/tape.h>
#include <tapelm/decode/seq2seq_search.h>
#include <tapelm/nn/encoder_decoder.h>
#include <tapelm/train/config/builders.h>
#include <tapelm/train/config/config_schema.h>
#include <tapelm/train/config/errors.h>
#include <tapelm/train/tasks/task_common.h>
#include <tapelm/train/tasks/task_metrics.h>
#include <tapelm/train/checkpoint/training_checkpoint.h>

namespace tapelm {

void MultiReferenceScores::add(const std::vector<std::vector<std::string>>& references,
                               const std::vector<std::string>& prediction) {
  if (references.empty()) throw std::invalid_argument("MultiReferenceScores::add: no reference for the prediction");
  size_t best = 0;
  int64_t best_edits = edit_distance(references[0], prediction);
  for (size_t i = 1; i < references.size() && best_edits > 0; ++i) {
    const int64_t e = edit_distance(references[i], prediction);
    if (e < best_edits) {
      best = i;
      best_edits = e;
    }
  }
  ++inputs;
  exact += best_edits == 0 ? 1 : 0;
  edits += best_edits;
  reference_tokens += int64_t(references[best].size());
}

double MultiReferenceScores::sequence_error_rate() const {
  if (inputs == 0) throw std::invalid_argument("MultiReferenceScores: no input was scored");
  return 1.0 - double(exact) / double(inputs);
}

double MultiReferenceScores::token_error_rate() const {
  if (reference_tokens == 0) throw std::invalid_argument("MultiReferenceScores: no reference token was seen");
  return double(edits) / double(reference_tokens);
}

std::vector<std::string> split_units(const std::string& text) {
  std::vector<std::string> units;
  std::istringstream in(text);
  for (std::string unit; in >> unit;) units.push_back(unit);
  return units;
}

namespace {

EncoderDecoderConfig seq2seq_model_config(const FinetuneConfig& config, int64_t src_vocab, int64_t tgt_vocab) {
  EncoderDecoderConfig cfg;
  // The shared architecture fields read like the GPT's; the rest is the encoder-decoder's.
  static_cast<TransformerConfig&>(cfg) = gpt_config(config.model, tgt_vocab, uint64_t(config.seed));
  cfg.src_vocab_size = src_vocab;
  cfg.tgt_vocab_size = tgt_vocab;
  cfg.n_encoder_layer = config.seq2seq.n_encoder_layer > 0 ? config.seq2seq.n_encoder_layer : config.model.n_layer;
  cfg.n_decoder_layer = config.seq2seq.n_decoder_layer > 0 ? config.seq2seq.n_decoder_layer : config.model.n_layer;
  cfg.tie_weights = config.model.tie_weights;
  cfg.shared_embeddings = false;
  return cfg;
}

Tokenizer target_tokenizer(const TaskSetup& setup) {
  if (setup.restore_from) {
    const std::filesystem::path path = setup.restore_from->file(kTargetTokenizerFile);
    try {
      return Tokenizer::load(path.string());
    } catch (const std::exception& e) {
      throw InputError(path.string() + ": " + e.what());
    }
  }
  const FinetuneConfig& config = *setup.config;
  std::vector<std::string> texts;
  texts.reserve(setup.train_indices->size());
  for (size_t i : *setup.train_indices) texts.push_back((*setup.examples)[i].target);
  Tokenizer tokenizer = train_tokenizer_on_texts(texts, config.target_tokenizer, uint32_t(config.seed),
                                                 setup.work_dir, "target_tokenizer");
  *setup.log << "target_tokenizer: " << config.target_tokenizer.type << ", trained on the training split, "
             << tokenizer.vocab_size() << " pieces" << std::endl;
  return tokenizer;
}

class Seq2SeqTask : public FinetuneTask {
 public:
  explicit Seq2SeqTask(const TaskSetup& setup)
      : config_(*setup.config),
        source_(task_tokenizer(setup, [&] { return example_texts(*setup.examples, *setup.train_indices, false); })),
        target_(target_tokenizer(setup)),
        model_(seq2seq_model_config(config_, source_.vocab_size(), target_.vocab_size())),
        max_source_len_(config_.max_len()),
        max_decode_len_(std::min(config_.decode.max_len, config_.model.ctx_len)) {
    if (target_.bos_id() < 0 || target_.eos_id() < 0) {
      throw InputError("target_tokenizer: the seq2seq task needs <bos> and <eos> pieces, which this tokenizer lacks");
    }
    model_.train();
  }

  Module& model() override { return model_; }
  void set_dropout_batch(int64_t step, int64_t first_example) override {
    model_.set_dropout_batch(step, first_example);
  }

  std::vector<MetricSpec> metrics() const override { return {{"wer", false}, {"per", false}, {"loss", false}}; }

  WeightedLoss loss(const std::vector<LabeledExample>& examples, const std::vector<TrainingItem>& batch) override {
    const Seq2SeqBatch b = make_batch(examples, item_examples(batch));
    return {model_.loss(b.src, b.tgt, b.labels, b.B, b.S, b.T, b.src_padding, b.tgt_padding, kIgnoreIndex,
                        float(config_.train.label_smoothing)),
            double(counted_targets(b.labels))};
  }

  // The teacher-forced loss is computed in whole batches of examples, the decoding over
  // whole distinct inputs (all of an input's references in one part), each split into
  // contiguous blocks by `shard`. sums: the summed token loss, its token count, then
  // MultiReferenceScores' inputs, exact, edits and reference_tokens, then the examples of the
  // part's inputs.
  EvalTotals evaluate_part(const std::vector<LabeledExample>& examples, const std::vector<size_t>& indices,
                           int64_t batch_size, Shard shard) override {
    check_batch_size("seq2seq evaluate", batch_size);
    const bool was_training = model_.is_training();
    const NoGradGuard no_grad;
    model_.eval();
    double loss_sum = 0;
    int64_t loss_tokens = 0;
    const auto [first, last] = shard_range(indices.size(), batch_size, shard);
    for (size_t begin = first; begin < last; begin += size_t(batch_size)) {
      const size_t end = std::min(last, begin + size_t(batch_size));
      const Seq2SeqBatch b = make_batch(examples, std::vector<size_t>(indices.begin() + long(begin),
                                                                      indices.begin() + long(end)));
      const int64_t counted = counted_targets(b.labels);
      loss_sum += double(model_.loss(b.src, b.tgt, b.labels, b.B, b.S, b.T, b.src_padding, b.tgt_padding).item()) *
                  double(counted);
      loss_tokens += counted;
    }

    // Every reference of an input, inputs in order of first appearance: the input is
    // decoded once and right if it matches any of them.
    std::vector<std::string> inputs;
    std::map<std::string, std::vector<std::vector<std::string>>> references;
    for (size_t i : indices) {
      auto [it, added] = references.try_emplace(examples[i].input);
      if (added) inputs.push_back(examples[i].input);
      it->second.push_back(split_units(examples[i].target));
    }
    const auto [first_input, last_input] = shard_range(inputs.size(), 1, shard);
    inputs = std::vector<std::string>(inputs.begin() + long(first_input), inputs.begin() + long(last_input));
    const std::vector<std::string> predictions = decode_inputs(inputs, batch_size);
    model_.train(was_training);

    MultiReferenceScores scores;
    EvalTotals totals;
    int64_t part_examples = 0;
    for (size_t k = 0; k < inputs.size(); ++k) {
      const std::vector<std::vector<std::string>>& refs = references.at(inputs[k]);
      const int64_t exact_before = scores.exact;
      scores.add(refs, split_units(predictions[k]));
      part_examples += int64_t(refs.size());
      if (k < kSamples) totals.samples.push_back(sample_line(inputs[k], predictions[k], refs, scores.exact > exact_before));
    }
    totals.sums = {loss_sum,
                   double(loss_tokens),
                   double(scores.inputs),
                   double(scores.exact),
                   double(scores.edits),
                   double(scores.reference_tokens),
                   double(part_examples)};
    return totals;
  }

  TaskEvaluation summarize(const EvalTotals& totals) const override {
    require_sums(totals, 7, "seq2seq");
    MultiReferenceScores scores;
    scores.inputs = int64_t(totals.sums[2]);
    scores.exact = int64_t(totals.sums[3]);
    scores.edits = int64_t(totals.sums[4]);
    scores.reference_tokens = int64_t(totals.sums[5]);
    if (scores.inputs == 0) throw std::invalid_argument("seq2seq evaluate: no examples to evaluate");
    std::string samples;
    for (size_t k = 0; k < std::min(kSamples, totals.samples.size()); ++k) samples += totals.samples[k];
    TaskEvaluation result;
    result.metrics = {{"wer", scores.sequence_error_rate()},
                      {"per", scores.token_error_rate()},
                      {"loss", totals.sums[1] > 0 ? totals.sums[0] / totals.sums[1] : 0.0}};
    result.report = std::to_string(scores.inputs) + " distinct inputs (" + std::to_string(int64_t(totals.sums[6])) +
                    " examples), " + decoding_name() + "; first predictions:\n" + samples;
    return result;
  }

  std::vector<std::string> predict(const std::vector<std::string>& inputs, int64_t batch_size) override {
    check_batch_size("seq2seq predict", batch_size);
    const std::vector<std::string> predictions = decode_inputs(inputs, batch_size);
    std::vector<std::string> lines;
    lines.reserve(inputs.size());
    for (size_t i = 0; i < inputs.size(); ++i) {
      nlohmann::ordered_json line;
      line["input"] = inputs[i];
      line["prediction"] = predictions[i];
      lines.push_back(line.dump());
    }
    return lines;
  }

  std::vector<CheckpointFile> checkpoint_files() const override {
    return {tokenizer_checkpoint_file(source_),
            CheckpointFile::from_bytes(kTargetTokenizerFile, target_.model_bytes())};
  }

 private:
  // Predictions shown in the report.
  static constexpr size_t kSamples = 8;

  static void check_batch_size(const char* who, int64_t batch_size) {
    if (batch_size < 1) {
      throw std::invalid_argument(std::string(who) + ": batch_size must be >= 1, got " + std::to_string(batch_size));
    }
  }

  // "  word -> prediction  (right)" or "... (wrong; expected REF | REF)".
  static std::string sample_line(const std::string& input, const std::string& prediction,
                                 const std::vector<std::vector<std::string>>& refs, bool right) {
    std::string line = "  " + input + " -> " + prediction;
    if (right) return line + "  (right)\n";
    line += "  (wrong; expected ";
    for (size_t r = 0; r < refs.size(); ++r) {
      if (r > 0) line += " | ";
      for (size_t u = 0; u < refs[r].size(); ++u) line += (u > 0 ? " " : "") + refs[r][u];
    }
    return line + ")\n";
  }

  std::string decoding_name() const {
    if (config_.decode.beam_size == 1) return "greedy decoding";
    std::string name = "beam search (beam " + std::to_string(config_.decode.beam_size);
    if (config_.decode.length_penalty > 0) name += ", length penalty " + format_number(config_.decode.length_penalty);
    return name + ")";
  }

  Seq2SeqBatch make_batch(const std::vector<LabeledExample>& examples, const std::vector<size_t>& indices) const {
    std::vector<std::vector<int32_t>> sources, targets;
    sources.reserve(indices.size());
    targets.reserve(indices.size());
    for (size_t i : indices) {
      sources.push_back(source_ids(examples[i].input));
      targets.push_back(target_.encode(examples[i].target));
    }
    return make_seq2seq_batch(sources, targets, kIgnoreIndex, batch_pad_id(target_), target_.bos_id(), target_.eos_id(),
                              source_unk_id(), max_source_len_, config_.model.ctx_len);
  }

  std::vector<int32_t> source_ids(const std::string& text) const {
    std::vector<int32_t> ids = encode_truncated(source_, text, max_source_len_, Truncation::kHead);
    if (ids.empty()) ids.push_back(source_unk_id());
    return ids;
  }

  int32_t source_unk_id() const { return std::max(source_.unk_id(), 0); }

  // The decoded target text of every input, decoded (greedy or beam search) in batches of
  // inputs of similar length: less padding to compute through. `batch_size` counts decoder
  // rows, so a beam search batch holds batch_size / beam_size inputs.
  std::vector<std::string> decode_inputs(const std::vector<std::string>& inputs, int64_t batch_size) {
    std::vector<std::vector<int32_t>> ids;
    ids.reserve(inputs.size());
    for (const std::string& input : inputs) ids.push_back(source_ids(input));
    BeamSearchOptions options;
    set_decode_options(options);
    options.beam_size = config_.decode.beam_size;
    options.length_penalty = config_.decode.length_penalty;
    std::vector<size_t> order(ids.size());
    std::iota(order.begin(), order.end(), size_t(0));
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return ids[a].size() < ids[b].size(); });
    const size_t inputs_per_batch = size_t(std::max<int64_t>(1, batch_size / options.beam_size));
    std::vector<std::string> out(inputs.size());
    for (size_t begin = 0; begin < order.size(); begin += inputs_per_batch) {
      const size_t end = std::min(order.size(), begin + inputs_per_batch);
      std::vector<std::vector<int32_t>> rows;
      for (size_t k = begin; k < end; ++k) rows.push_back(ids[order[k]]);
      const PaddedBatch batch = pad_batch(rows, batch_pad_id(source_), max_source_len_);
      if (options.beam_size > 1) {
        const std::vector<BeamResult> decoded = beam_search(model_, batch.ids, batch.B, batch.T, batch.padding, options);
        for (size_t k = begin; k < end; ++k) out[order[k]] = target_.decode(decoded[k - begin].best.tokens);
      } else {
        const std::vector<DecodedSequence> decoded =
            greedy_decode(model_, batch.ids, batch.B, batch.T, batch.padding, options);
        for (size_t k = begin; k < end; ++k) out[order[k]] = target_.decode(decoded[k - begin].tokens);
      }
    }
    return out;
  }

  void set_decode_options(Seq2SeqDecodeOptions& options) const {
    options.bos_id = target_.bos_id();
    options.eos_id = target_.eos_id();
    options.max_len = max_decode_len_;
  }

  const FinetuneConfig config_;
  Tokenizer source_;
  Tokenizer target_;
  EncoderDecoder model_;
  int64_t max_source_len_;
  int64_t max_decode_len_;
};

}  // namespace

std::unique_ptr<FinetuneTask> make_seq2seq_task(const TaskSetup& setup) {
  const FinetuneConfig& config = *setup.config;
  if (!config.init_from.empty() || setup.init_from) {
    throw ConfigError("init_from: the seq2seq task trains its encoder-decoder from scratch; a pretrained "
                      "checkpoint cannot initialise it (remove init_from, got '" + config.init_from + "')");
  }
  if (config.max_len() > config.model.ctx_len) {
    throw ConfigError("data.max_len: must be <= the model's ctx_len (" + std::to_string(config.model.ctx_len) +
                      "), got " + std::to_string(config.max_len()));
  }
  if (!setup.restore_from && (!setup.examples || !setup.train_indices)) {
    throw std::invalid_argument("make_seq2seq_task: a new run needs the examples and the training indices");
  }
  return std::make_unique<Seq2SeqTask>(setup);
}

}  // namespace tapelm
