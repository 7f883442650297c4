// How much memory a run will need, estimated from its config alone before anything is
// allocated: weights (and fixed position tables), gradients, optimizer state, the activations
// one forward/backward pass keeps, and a generation KV cache. Pure functions of the config, so
// a run can be refused up front (train/config/memory_budget.h) and the plan printed.
//
// The figures are deliberately a floor, not a ceiling: they count the large tensors only
// (no allocator slack, no temporary copies, no tokenizer or data), so a run refused for
// needing more than the machine has cannot fit, while one that passes may still be tight.
// Arithmetic is in double so absurd sizes (2^59-wide layers, 10^9 layers) give huge numbers
// instead of overflowing.
#pragma once

#include <cstdint>
#include <string>

#include <tapelm/train/config/pretrain_config.h>
#include <tapelm/train/config/finetune_config.h>

namespace tapelm {

// The shape of the work, apart from the architecture (the model section).
struct MemoryPlan {
  int64_t embedding_rows = 0;     // token embedding rows over every embedded vocabulary; 0 = not known yet
  int64_t output_rows = 0;        // logits per token (output vocabulary or classes); 0 = not known yet
  bool output_tied = false;       // the output projection reuses an embedding table
  int64_t positional_tables = 1;  // one per embedded side: 2 for encoder-decoder models
  int64_t layers = 0;             // transformer blocks
  int64_t cross_attention_layers = 0;  // of those, the ones that also attend to an encoder
  int64_t batch = 0;              // sequences per forward pass
  int64_t seq_len = 0;            // tokens per sequence
  bool training = false;          // gradients, optimizer state and saved activations
  int64_t optimizer_slots = 0;    // optimizer floats per parameter (2 for Adam, +1 with train.ema_decay)
  int64_t cached_sequences = 0;   // sequences a generation KV cache holds (ctx_len positions each)
  // The products run in bf16 and keep a bf16 copy of each weight matrix they read
  // (autograd/bf16_weights.h): train.precision is bf16 and this build and CPU run it.
  bool bf16_copies = false;
};

struct MemoryEstimate {
  double parameters = 0;  // count
  double weight_bytes = 0;
  double gradient_bytes = 0;
  double optimizer_bytes = 0;
  double activation_bytes = 0;
  double kv_cache_bytes = 0;
  double bf16_copy_bytes = 0;  // 2 bytes per element of each weight matrix a product reads
  // Training only: 2 bytes per element of each layer's linear inputs, kept for the weight
  // gradients (autograd/bf16_weights.h).
  double bf16_activation_copy_bytes = 0;

  double total_bytes() const {
    return weight_bytes + gradient_bytes + optimizer_bytes + activation_bytes + kv_cache_bytes + bf16_copy_bytes +
           bf16_activation_copy_bytes;
  }
};

MemoryEstimate estimate_memory(const ModelSection& model, const MemoryPlan& plan);

// The vocabulary a tokenizer section will produce when that is known from the config alone
// (a BPE or unigram tokenizer trained to exactly vocab_size pieces); 0 otherwise (a given
// model file, or char/word models, whose vocab_size is only a cap).
int64_t planned_vocab_size(const TokenizerSection& tokenizer);

// Pretraining `config` with a tokenizer of `vocab_size` pieces (0 = not known yet).
MemoryPlan pretrain_memory_plan(const PretrainConfig& config, int64_t vocab_size);
// Fine-tuning `config`; vocabularies from planned_vocab_size (unknown with init_from).
MemoryPlan finetune_memory_plan(const FinetuneConfig& config);
// Loading a language model of `model` and `vocab_size` pieces to generate one sequence.
MemoryPlan generation_memory_plan(const ModelSection& model, int64_t vocab_size);
// Loading a fine-tuned model to evaluate or predict eval.batch_size examples at a time
// (seq2seq: decoding them with decode.beam_size beams each).
MemoryPlan finetune_inference_memory_plan(const FinetuneConfig& config);

// "512 B", "17.6 KiB", "1.50 TiB".
std::string format_bytes(double bytes);
// "weights 1.2 GiB, gradients 1.2 GiB, optimizer state 2.4 GiB, activations 300 MiB", the
// non-zero parts only (and "bf16 weight copies 600 MiB" with train.precision: bf16).
std::string describe_memory(const MemoryEstimate& estimate);

}  // namespace tapelm
