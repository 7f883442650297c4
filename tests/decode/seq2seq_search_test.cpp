// Encoder-decoder search: beam search against exhaustive enumeration on a tiny random
// encoder-decoder, beam width 1 against greedy, batched greedy and batched beam search against
// one source at a time, and decoding through the KV cache against recomputing the prefix.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cmath>
#include <functional>
#include <limits>

#include <tapelm/autograd/tape.h>
#include "nn/module_gradcheck.h"
#include <tapelm/decode/seq2seq_search.h>

namespace tapelm {
namespace {

constexpr int32_t kBos = 1;
constexpr int32_t kEos = 2;

// Parameters redrawn as N(0, scale²) so the next-token distributions are peaked and differ
// by prefix (the default init gives near-uniform ones, where every search agrees).
void sharpen(Module& model, uint64_t seed, float scale) {
  Rng rng(seed);
  for (auto& [name, param] : model.named_parameters()) {
    for (int64_t i = 0; i < param.numel(); ++i) param.data()[i] = scale * rng.normal();
  }
}

EncoderDecoderConfig tiny_seq2seq(uint64_t seed) {
  EncoderDecoderConfig cfg;
  static_cast<TransformerConfig&>(cfg) = testing::tiny_config();
  cfg.src_vocab_size = 7;
  cfg.tgt_vocab_size = 4;  // 0, 1 = <bos>, 2 = <eos>, 3
  cfg.n_encoder_layer = 1;
  cfg.n_decoder_layer = 1;
  cfg.seed = seed;
  return cfg;
}

// Sum of log-probabilities of `tokens` given the source, from one decoder pass over the
// whole sequence (independent of the search code's step-by-step scoring).
double sequence_log_prob(EncoderDecoder& model, const std::vector<int32_t>& src, const std::vector<int32_t>& tokens) {
  const NoGradGuard no_grad;
  std::vector<int32_t> input{kBos};
  input.insert(input.end(), tokens.begin(), tokens.end() - 1);
  const int64_t T = static_cast<int64_t>(input.size());
  const int64_t V = model.config().tgt_vocab_size;
  const Var logits = model.forward(src, input, 1, static_cast<int64_t>(src.size()), T);
  double total = 0;
  for (int64_t t = 0; t < T; ++t) {
    const float* row = logits.data() + t * V;
    double z = 0;
    for (int64_t v = 0; v < V; ++v) z += std::exp(static_cast<double>(row[v]));
    total += static_cast<double>(row[tokens[static_cast<size_t>(t)]]) - std::log(z);
  }
  return total;
}

struct Best {
  std::vector<int32_t> tokens;  // with the final <eos> when finished
  double score = -std::numeric_limits<double>::infinity();
};

// Every sequence a decoder can emit within max_len tokens: those ending at their first <eos>,
// and those of exactly max_len tokens without one.
Best exhaustive_best(EncoderDecoder& model, const std::vector<int32_t>& src, int64_t max_len, double alpha) {
  const int32_t V = static_cast<int32_t>(model.config().tgt_vocab_size);
  Best best;
  std::function<void(std::vector<int32_t>&)> visit = [&](std::vector<int32_t>& prefix) {
    for (int32_t v = 0; v < V; ++v) {
      prefix.push_back(v);
      if (v == kEos || static_cast<int64_t>(prefix.size()) == max_len) {
        const double raw = sequence_log_prob(model, src, prefix);
        const double norm = alpha == 0 ? raw : raw / std::pow((5.0 + prefix.size()) / 6.0, alpha);
        if (norm > best.score) best = {prefix, norm};
      } else {
        visit(prefix);
      }
      prefix.pop_back();
    }
  };
  std::vector<int32_t> prefix;
  visit(prefix);
  return best;
}

std::vector<int32_t> emitted(const DecodedSequence& seq) {
  std::vector<int32_t> out = seq.tokens;
  if (seq.finished) out.push_back(kEos);
  return out;
}

TEST(Decoding, WideBeamEqualsExhaustiveSearchAndGreedyCanBeWorse) {
  const std::vector<int32_t> src = {3, 5, 1, 6};
  const int64_t max_len = 3;
  int greedy_suboptimal = 0;
  for (uint64_t seed = 1; seed <= 6; ++seed) {
    EncoderDecoder model(tiny_seq2seq(seed));
    sharpen(model, seed, 0.6f);
    model.eval();
    const Best best = exhaustive_best(model, src, max_len, 0.0);
    BeamSearchOptions options;
    options.max_len = max_len;
    options.bos_id = kBos;
    options.eos_id = kEos;
    options.beam_size = 64;  // 4^3: no candidate is ever dropped
    const BeamResult beam = beam_search(model, src, 4, {}, options);
    EXPECT_EQ(emitted(beam.best), best.tokens) << "seed " << seed;
    EXPECT_NEAR(beam.best.score, best.score, 1e-4) << "seed " << seed;
    EXPECT_DOUBLE_EQ(beam.normalized_score, beam.best.score);

    const DecodedSequence greedy = greedy_decode(model, src, 1, 4, {}, options).front();
    // The searches batch different rows, so equal sequences may score a few ulps apart.
    EXPECT_LE(greedy.score, beam.best.score + 1e-5);
    greedy_suboptimal += greedy.score < beam.best.score - 1e-3 ? 1 : 0;
  }
  RecordProperty("greedy_suboptimal", greedy_suboptimal);
  EXPECT_GT(greedy_suboptimal, 0) << "the test models should include a case where the beam beats greedy";
}

TEST(Decoding, WideBeamWithLengthPenaltyEqualsExhaustiveNormalisedSearch) {
  const std::vector<int32_t> src = {2, 4, 6};
  EncoderDecoder model(tiny_seq2seq(11));
  sharpen(model, 11, 0.6f);
  BeamSearchOptions options;
  options.max_len = 3;
  options.beam_size = 64;
  options.length_penalty = 1.0;
  const Best best = exhaustive_best(model, src, 3, 1.0);
  const BeamResult beam = beam_search(model, src, 3, {}, options);
  EXPECT_EQ(emitted(beam.best), best.tokens);
  EXPECT_NEAR(beam.normalized_score, best.score, 1e-4);
  const double length = static_cast<double>(emitted(beam.best).size());
  EXPECT_NEAR(beam.normalized_score, beam.best.score / ((5 + length) / 6), 1e-12);
}

TEST(Decoding, BeamOfOneIsGreedy) {
  for (uint64_t seed = 1; seed <= 4; ++seed) {
    EncoderDecoder model(tiny_seq2seq(seed));
    sharpen(model, seed + 100, 0.6f);
    const std::vector<int32_t> src = {1, 2, 3, 4, 5};
    BeamSearchOptions options;
    options.beam_size = 1;
    options.max_len = 8;
    const BeamResult beam = beam_search(model, src, 5, {}, options);
    const DecodedSequence greedy = greedy_decode(model, src, 1, 5, {}, options).front();
    EXPECT_EQ(beam.best.tokens, greedy.tokens) << "seed " << seed;
    EXPECT_EQ(beam.best.finished, greedy.finished);
    EXPECT_NEAR(beam.best.score, greedy.score, 1e-5);
  }
}

TEST(Decoding, BatchedGreedyWithPaddingMatchesOneRowAtATime) {
  EncoderDecoder model(tiny_seq2seq(5));
  sharpen(model, 5, 0.6f);
  // Row 0 has 5 source tokens, row 1 has 3 and two padding positions.
  const std::vector<int32_t> src = {1, 2, 3, 4, 5, 6, 5, 4, 0, 0};
  const std::vector<uint8_t> padding = {1, 1, 1, 1, 1, 1, 1, 1, 0, 0};
  Seq2SeqDecodeOptions options;
  options.max_len = 6;
  const auto batched = greedy_decode(model, src, 2, 5, padding, options);
  ASSERT_EQ(batched.size(), 2u);
  const auto row0 = greedy_decode(model, {1, 2, 3, 4, 5}, 1, 5, {}, options).front();
  const auto row1 = greedy_decode(model, {6, 5, 4}, 1, 3, {}, options).front();
  EXPECT_EQ(batched[0].tokens, row0.tokens);
  EXPECT_EQ(batched[1].tokens, row1.tokens);
  EXPECT_EQ(batched[1].finished, row1.finished);
  EXPECT_NEAR(batched[0].score, row0.score, 1e-4);
  EXPECT_NEAR(batched[1].score, row1.score, 1e-4);
}

TEST(Decoding, BatchedBeamSearchWithPaddingMatchesOneSourceAtATime) {
  // Three sources of 5, 3 and 4 tokens; their beams finish at different steps, so later steps
  // run with fewer rows for some sources than for others.
  const std::vector<std::vector<int32_t>> sources = {{1, 2, 3, 4, 5}, {6, 5, 4}, {3, 3, 1, 6}};
  std::vector<int32_t> src;
  std::vector<uint8_t> padding;
  for (const std::vector<int32_t>& source : sources) {
    for (size_t i = 0; i < 5; ++i) {
      src.push_back(i < source.size() ? source[i] : 0);
      padding.push_back(i < source.size() ? 1 : 0);
    }
  }
  int finished_early = 0;
  for (uint64_t seed = 1; seed <= 4; ++seed) {
    for (const bool kv_cache : {true, false}) {
      EncoderDecoder model(tiny_seq2seq(seed));
      sharpen(model, seed + 40, 0.6f);
      BeamSearchOptions options;
      options.beam_size = 3;
      options.max_len = 6;
      options.kv_cache = kv_cache;
      const std::vector<BeamResult> batched = beam_search(model, src, 3, 5, padding, options);
      ASSERT_EQ(batched.size(), sources.size());
      for (size_t b = 0; b < sources.size(); ++b) {
        const int64_t S = static_cast<int64_t>(sources[b].size());
        const BeamResult alone = beam_search(model, sources[b], S, {}, options);
        EXPECT_EQ(batched[b].best.tokens, alone.best.tokens) << "seed " << seed << " source " << b;
        EXPECT_EQ(batched[b].best.finished, alone.best.finished) << "seed " << seed << " source " << b;
        EXPECT_NEAR(batched[b].best.score, alone.best.score, 1e-4) << "seed " << seed << " source " << b;
        finished_early += alone.best.finished && alone.best.tokens.size() + 1 < size_t(options.max_len) ? 1 : 0;
      }
    }
  }
  EXPECT_GT(finished_early, 0) << "some beam should end before max_len, leaving the batch uneven";
}

TEST(Decoding, DecodingRestoresTrainModeAndRecordsNoTape) {
  EncoderDecoder model(tiny_seq2seq(2));
  model.train();
  BeamSearchOptions options;
  options.max_len = 4;
  beam_search(model, {1, 2}, 2, {}, options);
  greedy_decode(model, {1, 2}, 1, 2, {}, options);
  EXPECT_TRUE(model.is_training());
}

TEST(Decoding, BadOptionsAreErrors) {
  EncoderDecoder model(tiny_seq2seq(2));
  BeamSearchOptions options;
  options.eos_id = 4;
  EXPECT_THROW(greedy_decode(model, {1}, 1, 1, {}, options), std::invalid_argument);
  options.eos_id = kEos;
  options.max_len = 17;  // ctx_len is 16
  EXPECT_THROW(beam_search(model, {1}, 1, {}, options), std::invalid_argument);
  options.max_len = 4;
  options.beam_size = 0;
  EXPECT_THROW(beam_search(model, {1}, 1, {}, options), std::invalid_argument);
  options.beam_size = 2;
  options.length_penalty = -1;
  EXPECT_THROW(beam_search(model, {1}, 1, {}, options), std::invalid_argument);
}

TEST(Decoding, CachedGreedyAndBeamDecodingEqualRecomputation) {
  std::size_t emitted = 0;  // guards against a trivial pass (every search stopping at once)
  for (uint64_t seed : {1, 2, 3}) {
    EncoderDecoderConfig cfg = tiny_seq2seq(seed);
    cfg.src_vocab_size = 9;
    cfg.tgt_vocab_size = 6;
    cfg.n_encoder_layer = 2;
    cfg.n_decoder_layer = 2;
    EncoderDecoder model(cfg);
    sharpen(model, 100 + seed, 0.6f);
    const std::vector<int32_t> src = {3, 4, 5, 6, 7, 8, 3, 2, 0};
    const std::vector<uint8_t> src_padding = {1, 1, 1, 1, 1, 1, 1, 1, 0};
    Seq2SeqDecodeOptions options;
    options.max_len = 12;
    options.kv_cache = false;
    const std::vector<DecodedSequence> recomputed = greedy_decode(model, src, 3, 3, src_padding, options);
    options.kv_cache = true;
    const std::vector<DecodedSequence> cached = greedy_decode(model, src, 3, 3, src_padding, options);
    for (std::size_t b = 0; b < 3; ++b) {
      EXPECT_EQ(cached[b].tokens, recomputed[b].tokens) << "seed " << seed << " row " << b;
      EXPECT_EQ(cached[b].finished, recomputed[b].finished);
      EXPECT_NEAR(cached[b].score, recomputed[b].score, 1e-4);
      emitted += recomputed[b].tokens.size();
    }
    for (const int64_t beam : {1, 3, 5}) {
      BeamSearchOptions beam_options;
      beam_options.max_len = 12;
      beam_options.beam_size = beam;
      beam_options.length_penalty = 0.6;
      beam_options.kv_cache = false;
      const BeamResult slow = beam_search(model, {3, 4, 5, 6, 0}, 5, {1, 1, 1, 1, 0}, beam_options);
      beam_options.kv_cache = true;
      const BeamResult fast = beam_search(model, {3, 4, 5, 6, 0}, 5, {1, 1, 1, 1, 0}, beam_options);
      EXPECT_EQ(fast.best.tokens, slow.best.tokens) << "seed " << seed << " beam " << beam;
      EXPECT_EQ(fast.best.finished, slow.best.finished);
      EXPECT_NEAR(fast.normalized_score, slow.normalized_score, 1e-4);
      emitted += slow.best.tokens.size();
    }
  }
  std::printf("[seq2seq kv cache] %zu tokens decoded by each path\n", emitted);
  EXPECT_GT(emitted, 40u);
}

}  // namespace
}  // namespace tapelm
