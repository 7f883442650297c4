// Greedy and beam search over the encoder-decoder, one decoder pass per step for all rows.
#include <tapelm/decode/seq2seq_search.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include <tapelm/autograd/shape_ops.h>
#include <tapelm/autograd/tape.h>
#include <tapelm/decode/token_choice.h>

namespace tapelm {
namespace {

void validate(const char* who, const Seq2SeqDecodeOptions& options, const EncoderDecoderConfig& cfg) {
  const int64_t vocab = cfg.tgt_vocab_size;
  for (const auto& [name, id] : {std::pair<const char*, int32_t>{"bos_id", options.bos_id}, {"eos_id", options.eos_id}}) {
    if (id < 0 || id >= vocab) {
      throw std::invalid_argument(std::string(who) + ": " + name + " " + std::to_string(id) +
                                  " is outside the target vocabulary [0, " + std::to_string(vocab) + ")");
    }
  }
  if (options.max_len < 1 || options.max_len > cfg.ctx_len) {
    throw std::invalid_argument(std::string(who) + ": max_len " + std::to_string(options.max_len) +
                                " must be in [1, ctx_len = " + std::to_string(cfg.ctx_len) + "]");
  }
}

// The source padding mask [B · S] (or empty: no padding) gathered to one row per decoder
// row: row r is source sources[r].
std::vector<uint8_t> gather_mask(const std::vector<uint8_t>& mask, int64_t S, const std::vector<int32_t>& sources) {
  if (mask.empty()) return mask;
  std::vector<uint8_t> out;
  out.reserve(sources.size() * static_cast<size_t>(S));
  for (const int32_t b : sources) out.insert(out.end(), mask.begin() + b * S, mask.begin() + (b + 1) * S);
  return out;
}

double gnmt_length_norm(double score, size_t length, double alpha) {
  return alpha == 0 ? score : score / std::pow((5.0 + static_cast<double>(length)) / 6.0, alpha);
}

// The decoder's logits for the newest position of every row, one step at a time: through a
// KV cache, feeding each row's newest token, or without one, the whole prefix.
class StepDecoder {
 public:
  StepDecoder(const EncoderDecoder& model, bool use_cache)
      : model_(model), use_cache_(use_cache), cache_(model.config().ctx_len) {}

  // rows: each row's decoder input so far (<bos> first), all of the same length t. memory and
  // src_padding: the encoder output and mask with one row per decoder row. Afterwards
  // last_row(b) points at the logits of row b's newest position.
  void step(const std::vector<std::vector<int32_t>>& rows, const Var& memory, const std::vector<uint8_t>& src_padding) {
    const int64_t B = static_cast<int64_t>(rows.size());
    t_ = static_cast<int64_t>(rows.front().size());
    std::vector<int32_t> tgt;
    tgt.reserve(static_cast<size_t>(B * (use_cache_ ? 1 : t_)));
    for (const std::vector<int32_t>& row : rows) {
      if (use_cache_) tgt.push_back(row.back());
      else tgt.insert(tgt.end(), row.begin(), row.end());
    }
    const int64_t T = use_cache_ ? 1 : t_;
    logits_ = model_.decode(tgt, B, T, memory, src_padding, {}, use_cache_ ? &cache_ : nullptr);
  }

  const float* last_row(int64_t b) const {
    const int64_t T = use_cache_ ? 1 : t_;
    const int64_t vocab = logits_.size(2);
    return logits_.data() + (b * T + T - 1) * vocab;
  }

  // The next step continues rows[i] of this one as its row i; `same_memory` as in
  // KVCache::reorder.
  void keep_rows(const std::vector<int32_t>& rows, bool same_memory) {
    if (use_cache_) cache_.reorder(rows, same_memory);
  }

 private:
  const EncoderDecoder& model_;
  bool use_cache_;
  KVCache cache_;
  Var logits_;
  int64_t t_ = 0;
};

struct Hypothesis {
  std::vector<int32_t> tokens;  // emitted so far (an <eos> last when finished)
  double score = 0;
};

struct Candidate {
  size_t parent;
  int32_t token;
  double score;
};

}  // namespace

std::vector<DecodedSequence> greedy_decode(EncoderDecoder& model, const std::vector<int32_t>& src, int64_t B, int64_t S,
                                           const std::vector<uint8_t>& src_padding,
                                           const Seq2SeqDecodeOptions& options) {
  validate("greedy_decode", options, model.config());
  const EvalMode eval(model);
  const NoGradGuard no_grad;
  const int64_t vocab = model.config().tgt_vocab_size;
  const Var memory = model.encode(src, B, S, src_padding);
  std::vector<DecodedSequence> out(static_cast<size_t>(B));
  std::vector<std::vector<int32_t>> prefix(static_cast<size_t>(B), std::vector<int32_t>{options.bos_id});
  StepDecoder decoder(model, options.kv_cache);
  int64_t live = B;
  for (int64_t t = 1; t <= options.max_len && live > 0; ++t) {
    decoder.step(prefix, memory, src_padding);
    for (int64_t b = 0; b < B; ++b) {
      DecodedSequence& seq = out[static_cast<size_t>(b)];
      std::vector<int32_t>& row = prefix[static_cast<size_t>(b)];
      if (seq.finished) {
        row.push_back(options.eos_id);  // rows are independent; this only keeps the batch rectangular
        continue;
      }
      const std::vector<double> lp = log_probabilities(decoder.last_row(b), vocab);
      const int32_t next = most_likely(lp);
      seq.score += lp[static_cast<size_t>(next)];
      row.push_back(next);
      if (next == options.eos_id) {
        seq.finished = true;
        --live;
      } else {
        seq.tokens.push_back(next);
      }
    }
  }
  return out;
}

std::vector<BeamResult> beam_search(EncoderDecoder& model, const std::vector<int32_t>& src, int64_t B, int64_t S,
                                    const std::vector<uint8_t>& src_padding, const BeamSearchOptions& options) {
  validate("beam_search", options, model.config());
  if (options.beam_size < 1) {
    throw std::invalid_argument("beam_search: beam_size must be >= 1, got " + std::to_string(options.beam_size));
  }
  if (!(options.length_penalty >= 0)) {
    throw std::invalid_argument("beam_search: length_penalty must be >= 0, got " +
                                std::to_string(options.length_penalty));
  }
  const EvalMode eval(model);
  const NoGradGuard no_grad;
  const int64_t vocab = model.config().tgt_vocab_size;
  const Var memory = model.encode(src, B, S, src_padding);
  StepDecoder decoder(model, options.kv_cache);
  // Each source's beam. The decoder's rows are every source's live hypotheses, source by
  // source, so one forward pass per step serves the whole batch.
  std::vector<std::vector<Hypothesis>> live(static_cast<size_t>(B), std::vector<Hypothesis>(1));
  std::vector<std::vector<Hypothesis>> finished(static_cast<size_t>(B));
  // The sources row_memory, row_padding and the cache's cross-attention entries were built
  // for, one per decoder row.
  std::vector<int32_t> row_source;
  Var row_memory;
  std::vector<uint8_t> row_padding;
  for (int64_t t = 1; t <= options.max_len; ++t) {
    std::vector<std::vector<int32_t>> rows;
    std::vector<int32_t> sources;
    for (int64_t b = 0; b < B; ++b) {
      for (const Hypothesis& h : live[static_cast<size_t>(b)]) {
        rows.push_back({options.bos_id});
        rows.back().insert(rows.back().end(), h.tokens.begin(), h.tokens.end());
        sources.push_back(static_cast<int32_t>(b));
      }
    }
    if (rows.empty()) break;
    // Gathered again only on steps where some beam changed size.
    if (sources != row_source) {
      row_source = std::move(sources);
      row_memory = index_select(memory, 0, row_source);
      row_padding = gather_mask(src_padding, S, row_source);
    }
    decoder.step(rows, row_memory, row_padding);
    std::vector<int32_t> parents;  // the decoder rows the next step continues, in order
    int64_t first_row = 0;         // the current source's first decoder row
    for (int64_t b = 0; b < B; ++b) {
      std::vector<Hypothesis>& beam = live[static_cast<size_t>(b)];
      const int64_t k = static_cast<int64_t>(beam.size());
      std::vector<Candidate> candidates;
      candidates.reserve(static_cast<size_t>(k * vocab));
      for (int64_t h = 0; h < k; ++h) {
        const std::vector<double> lp = log_probabilities(decoder.last_row(first_row + h), vocab);
        for (int64_t v = 0; v < vocab; ++v) {
          candidates.push_back({static_cast<size_t>(h), static_cast<int32_t>(v), beam[h].score + lp[v]});
        }
      }
      const size_t keep = std::min(candidates.size(), static_cast<size_t>(options.beam_size));
      // Candidates are in (hypothesis, token) order, so a stable sort breaks ties that way.
      std::stable_sort(candidates.begin(), candidates.end(),
                       [](const Candidate& x, const Candidate& y) { return x.score > y.score; });
      std::vector<Hypothesis> next;
      for (size_t c = 0; c < keep; ++c) {
        Hypothesis h{beam[candidates[c].parent].tokens, candidates[c].score};
        h.tokens.push_back(candidates[c].token);
        if (candidates[c].token == options.eos_id) {
          finished[static_cast<size_t>(b)].push_back(std::move(h));
        } else {
          next.push_back(std::move(h));
          parents.push_back(static_cast<int32_t>(first_row + static_cast<int64_t>(candidates[c].parent)));
        }
      }
      first_row += k;
      beam = std::move(next);
    }
    if (!parents.empty()) {
      // New row r reads source row_source[parents[r]]; the cross-attention entries it
      // inherits in place (old row r's) serve it only if that is row_source[r].
      bool same_sources = parents.size() == row_source.size();
      for (size_t r = 0; same_sources && r < parents.size(); ++r) {
        same_sources = row_source[static_cast<size_t>(parents[r])] == row_source[r];
      }
      decoder.keep_rows(parents, same_sources);
    }
  }
  std::vector<BeamResult> results(static_cast<size_t>(B));
  for (size_t b = 0; b < results.size(); ++b) {
    const Hypothesis* best = nullptr;
    double best_norm = -std::numeric_limits<double>::infinity();
    for (const std::vector<Hypothesis>* pool : {&finished[b], &live[b]}) {
      for (const Hypothesis& h : *pool) {
        const double norm = gnmt_length_norm(h.score, h.tokens.size(), options.length_penalty);
        if (best == nullptr || norm > best_norm) {
          best = &h;
          best_norm = norm;
        }
      }
    }
    BeamResult& result = results[b];
    result.best.finished = !best->tokens.empty() && best->tokens.back() == options.eos_id;
    result.best.tokens.assign(best->tokens.begin(), best->tokens.end() - (result.best.finished ? 1 : 0));
    result.best.score = best->score;
    result.normalized_score = best_norm;
  }
  return results;
}

BeamResult beam_search(EncoderDecoder& model, const std::vector<int32_t>& src, int64_t S,
                       const std::vector<uint8_t>& src_padding, const BeamSearchOptions& options) {
  return beam_search(model, src, 1, S, src_padding, options).front();
}

}  // namespace tapelm
