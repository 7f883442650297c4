// The shared sections' key tables and rules.
#include <tapelm/train/config/run_config.h>

#include <filesystem>
#include <limits>

#include <tapelm/autograd/gemm_backend.h>
#include <tapelm/data/tokenizer.h>
#include <tapelm/nn/feed_forward.h>
#include <tapelm/nn/norm.h>
#include <tapelm/nn/positional.h>
#include <tapelm/optim/optimizer.h>
#include <tapelm/optim/schedule.h>
#include <tapelm/train/checkpoint/checkpoint.h>

namespace tapelm {
namespace {

// A double the model keeps as a float: it must stay positive and finite after the narrowing.
Check<double> positive_float() {
  return [](const double& v) {
    const bool ok = v > 0 && static_cast<float>(v) > 0 && v <= std::numeric_limits<float>::max();
    return ok ? std::string() : "must be a positive float (a 32-bit float above 0), got " + format_number(v);
  };
}

// The two ways to make a warmup fit a run of `max_steps`: at most `most_warmup` warmup steps
// (the example keeps a tenth of the run), or at least `least_steps` steps.
std::string warmup_fix(int64_t max_steps, int64_t most_warmup, int64_t least_steps) {
  return "set scheduler.warmup_steps to at most " + std::to_string(most_warmup) +
         ", e.g. --set scheduler.warmup_steps=" + std::to_string(max_steps / 10) + ", or train.max_steps to at least " +
         std::to_string(least_steps);
}

}  // namespace

SectionSchema<ModelSection> model_section_schema() {
  using S = ModelSection;
  SectionSchema<S> s;
  s.add("n_layer", &S::n_layer, at_least(1))
      .add("n_head", &S::n_head, at_least(1))
      .add("n_embd", &S::n_embd, at_least(1))
      .add("ctx_len", &S::ctx_len, at_least(1))
      .add("dropout", &S::dropout, in_interval(0, 1, true, false))
      .add("ffn", &S::ffn, one_of(enum_names<FfnKind>()))
      .add("ffn_hidden", &S::ffn_hidden, at_least(0))
      .add("norm", &S::norm, one_of(enum_names<NormKind>()))
      .add("pos_encoding", &S::pos_encoding, one_of(enum_names<PositionalKind>()))
      .add("pre_ln", &S::pre_ln)
      .add("tie_weights", &S::tie_weights)
      .add("bias", &S::bias)
      .add("scale_embeddings", &S::scale_embeddings)
      .add("norm_eps", &S::norm_eps, positive_float())
      .add("gelu_approximation", &S::gelu_approximation, one_of(enum_names<GeluApproximation>()))
      .add("rope_base", &S::rope_base, positive_float())
      .add("sinusoidal_base", &S::sinusoidal_base, positive_float());
  return s;
}

SectionSchema<TokenizerSection> tokenizer_section_schema() {
  using S = TokenizerSection;
  SectionSchema<S> s;
  s.add("type", &S::type, one_of(enum_names<TokenizerType>()))
      .add("vocab_size", &S::vocab_size, in_range(8, kMaxInt32, "token ids are 32-bit ints"))
      .add("character_coverage", &S::character_coverage, in_interval(0, 1, false, true))
      .add("byte_fallback", &S::byte_fallback)
      .add("model", &S::model)
      .add("max_sentences", &S::max_sentences, at_least(0));
  return s;
}

SectionSchema<OptimizerSection> optimizer_section_schema() {
  using S = OptimizerSection;
  SectionSchema<S> s;
  s.add("name", &S::name, one_of(enum_names<OptimizerKind>()))
      .add("lr", &S::lr, above(0))
      .add("beta1", &S::beta1, in_interval(0, 1, true, false))
      .add("beta2", &S::beta2, in_interval(0, 1, true, false))
      .add("eps", &S::eps, above(0))
      .add("weight_decay", &S::weight_decay, non_negative())
      .add("momentum", &S::momentum, in_interval(0, 1, true, false));
  return s;
}

SectionSchema<SchedulerSection> scheduler_section_schema() {
  using S = SchedulerSection;
  SectionSchema<S> s;
  s.add("name", &S::name, one_of(enum_names<ScheduleKind>()))
      .add("warmup_steps", &S::warmup_steps, at_least(0))
      .add("min_lr", &S::min_lr, non_negative());
  return s;
}

// One of the GEMM backends' names, and one this build links.
Check<std::string> built_gemm_backend() {
  return [known = one_of(enum_names<GemmBackend>())](const std::string& value) {
    std::string error = known(value);
    if (!error.empty()) return error;
    const GemmBackend backend = parse_enum<GemmBackend>(value);
    if (!gemm_backend_built(backend)) {
      error = "'" + value + "' is not built into this tapelm (install " + gemm_backend_packages(backend) +
              " and build again); auto uses the fastest one built in";
    }
    return error;
  };
}

SectionSchema<TrainSection> train_section_schema() {
  using S = TrainSection;
  SectionSchema<S> s;
  s.add("max_steps", &S::max_steps, in_range(1, kMaxCheckpointStep, "checkpoint directories name the step with 8 digits"))
      .add("batch_size", &S::batch_size, at_least(1))
      .add("micro_batch_size", &S::micro_batch_size, at_least(0))
      .add("grad_clip", &S::grad_clip, non_negative())
      .add("threads", &S::threads, in_range(0, kMaxThreads, "more threads than any CPU has cores"))
      .add("gemm", &S::gemm, built_gemm_backend())
      .add("precision", &S::precision, one_of(enum_names<GemmPrecision>()))
      .add("max_bad_steps", &S::max_bad_steps, at_least(1))
      .add("label_smoothing", &S::label_smoothing, in_interval(0, 1, true, false))
      .add("ema_decay", &S::ema_decay, in_interval(0, 1, true, false))
      .add("memory_check", &S::memory_check);
  return s;
}

SectionSchema<EvalSection> eval_section_schema() {
  using S = EvalSection;
  SectionSchema<S> s;
  s.add("interval", &S::interval, at_least(0))
      .add("metric", &S::metric)
      .add("patience", &S::patience, at_least(0))
      .add("max_examples", &S::max_examples, at_least(0))
      .add("batch_size", &S::batch_size, at_least(1));
  return s;
}

SectionSchema<LoggingSection> logging_section_schema() {
  SectionSchema<LoggingSection> s;
  s.add("interval", &LoggingSection::interval, at_least(1)).add("tensorboard", &LoggingSection::tensorboard);
  return s;
}

SectionSchema<CheckpointSection> checkpoint_section_schema() {
  SectionSchema<CheckpointSection> s;
  s.add("interval", &CheckpointSection::interval, at_least(0))
      .add("keep_last", &CheckpointSection::keep_last, at_least(0))
      .add("keep_best", &CheckpointSection::keep_best)
      .add("average_last", &CheckpointSection::average_last, at_least(0));
  return s;
}

void check_model_rules(const ModelSection& m, const RuleContext& context, const std::string& section) {
  const std::string n_head = section + ".n_head";
  context.require(m.n_embd % m.n_head == 0, n_head,
                  "must divide " + section + ".n_embd (" + std::to_string(m.n_embd) + "), got " +
                      std::to_string(m.n_head));
  // Rotary embeddings rotate pairs of channels within each head.
  context.require(m.pos_encoding != "rope" || (m.n_embd / m.n_head) % 2 == 0, section + ".pos_encoding",
                  "rope needs an even head size (n_embd / n_head), got " + std::to_string(m.n_embd / m.n_head));
  // Sinusoidal encodings pair a sine and a cosine channel per frequency.
  context.require(m.pos_encoding != "sinusoidal" || m.n_embd % 2 == 0, section + ".pos_encoding",
                  "sinusoidal needs an even n_embd, got " + std::to_string(m.n_embd));
}

void check_tokenizer_rules(const TokenizerSection& t, const RuleContext& context, const std::string& section) {
  // With byte fallback SentencePiece reserves one piece per byte plus <unk>, <s>, </s>.
  context.require(!t.byte_fallback || t.vocab_size > 259, section + ".vocab_size",
                  "must be > 259 with byte_fallback (256 byte pieces + 3 special tokens), got " +
                      std::to_string(t.vocab_size));
  if (!t.model.empty()) {
    std::error_code ec;
    context.require(std::filesystem::is_regular_file(t.model, ec), section + ".model",
                    "tokenizer model file '" + t.model + "' not found");
  }
}

void check_train_rules(const TrainSection& t, const RuleContext& context, const std::string& section) {
  context.require(t.micro_batch_size <= t.batch_size, section + ".micro_batch_size",
                  "must be <= " + section + ".batch_size (" + std::to_string(t.batch_size) + "), got " +
                      std::to_string(t.micro_batch_size));
  context.require(t.batch_size % t.micro_batch_size == 0, section + ".micro_batch_size",
                  "must divide " + section + ".batch_size (" + std::to_string(t.batch_size) + "), got " +
                      std::to_string(t.micro_batch_size));
}

void check_schedule_rules(const OptimizerSection& optimizer, const SchedulerSection& scheduler,
                          const TrainSection& train, const RuleContext& context) {
  context.require(scheduler.min_lr <= optimizer.lr, "scheduler.min_lr",
                  "must be <= optimizer.lr (" + format_number(optimizer.lr) + "), got " +
                      format_number(scheduler.min_lr));
  const int64_t warmup = scheduler.warmup_steps, steps = train.max_steps;
  if (scheduler.name == "constant") {
    context.require(warmup <= steps, "scheduler.warmup_steps",
                    "must be <= train.max_steps (" + std::to_string(steps) + "), got " + std::to_string(warmup) +
                        " (" + warmup_fix(steps, steps, warmup) + ")");
    return;
  }
  context.require(warmup < steps, "scheduler.warmup_steps",
                  "must be < train.max_steps (" + std::to_string(steps) + ") for scheduler.name: " + scheduler.name +
                      ", got " + std::to_string(warmup) + " (the decay needs steps after the warmup: " +
                      warmup_fix(steps, steps - 1, warmup + 1) + ", or use scheduler.name: constant)");
}

void check_checkpoint_rules(const CheckpointSection& c, const RuleContext& context) {
  context.require(c.average_last != 1, "checkpoint.average_last",
                  "must be 0 (off) or >= 2 (checkpoints to average), got 1");
  context.require(c.average_last == 0 || c.keep_last == 0 || c.keep_last >= c.average_last, "checkpoint.average_last",
                  "averages more checkpoints than checkpoint.keep_last (" + std::to_string(c.keep_last) +
                      ") keeps, got " + std::to_string(c.average_last) + " (raise keep_last, or 0 keeps all)");
}

void check_run_rules(const RunConfig& c, const RuleContext& context) {
  check_model_rules(c.model, context);
  check_tokenizer_rules(c.tokenizer, context);
  check_train_rules(c.train, context);
  check_schedule_rules(c.optimizer, c.scheduler, c.train, context);
  check_checkpoint_rules(c.checkpoint, context);
}

}  // namespace tapelm
