// Encoder-decoder decoding at the grapheme-to-phoneme fine-tuning size (configs/finetune/
// g2p.yaml: 3 + 3 layers, width 192, 4 heads, ReLU FFN 768, pre-LN, ctx 40, source vocab 32,
// target vocab 44), with and without the decoder KV cache (arg 1 / 0). Greedy decodes a batch
// of 32 eight-letter words; beam search (width 4) one word or the batch of 32, up to 24
// target tokens. The model is randomly initialised and fixed, so every iteration decodes the
// same tokens. Time is per batch, or per word for the one-word beam search.
#include <benchmark/benchmark.h>

#include <vector>

#include <tapelm/decode/seq2seq_search.h>

namespace tapelm {
namespace {

constexpr int64_t kWord = 8, kBatch = 32, kMaxLen = 24;
constexpr int64_t kSourceVocab = 32, kTargetVocab = 44;
// The last target id stands for <eos>: whether the random model emits it is fixed, so every
// iteration decodes the same number of tokens.
constexpr int32_t kEos = int32_t(kTargetVocab - 1);

EncoderDecoderConfig g2p_config() {
  EncoderDecoderConfig cfg;
  cfg.n_embd = 192;
  cfg.n_head = 4;
  cfg.ffn_hidden = 768;
  cfg.ffn = FfnKind::Relu;
  cfg.pre_ln = true;
  cfg.ctx_len = 40;
  cfg.dropout = 0.0f;
  cfg.src_vocab_size = kSourceVocab;
  cfg.tgt_vocab_size = kTargetVocab;
  cfg.n_encoder_layer = 3;
  cfg.n_decoder_layer = 3;
  return cfg;
}

std::vector<int32_t> words(int64_t count) {
  std::vector<int32_t> ids(static_cast<size_t>(count * kWord));
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int32_t>(3 + (i * 7) % (kSourceVocab - 3));
  return ids;
}

void BM_Seq2SeqGreedyBatch(benchmark::State& state) {
  EncoderDecoder model(g2p_config());
  Seq2SeqDecodeOptions options;
  options.eos_id = kEos;
  options.max_len = kMaxLen;
  options.kv_cache = state.range(0) != 0;
  const std::vector<int32_t> src = words(kBatch);
  for (auto _ : state) benchmark::DoNotOptimize(greedy_decode(model, src, kBatch, kWord, {}, options));
}
BENCHMARK(BM_Seq2SeqGreedyBatch)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();

// Beam search (width 4) over `count` words at once: one decoder pass per step serves all
// their hypotheses.
void beam_search_words(benchmark::State& state, int64_t count) {
  EncoderDecoder model(g2p_config());
  BeamSearchOptions options;
  options.eos_id = kEos;
  options.max_len = kMaxLen;
  options.beam_size = 4;
  options.kv_cache = state.range(0) != 0;
  const std::vector<int32_t> src = words(count);
  for (auto _ : state) benchmark::DoNotOptimize(beam_search(model, src, count, kWord, {}, options));
}

void BM_Seq2SeqBeamSearchWord(benchmark::State& state) { beam_search_words(state, 1); }
BENCHMARK(BM_Seq2SeqBeamSearchWord)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_Seq2SeqBeamSearchBatch(benchmark::State& state) { beam_search_words(state, kBatch); }
BENCHMARK(BM_Seq2SeqBeamSearchBatch)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace tapelm

BENCHMARK_MAIN();
