// Sharded evaluation and prediction: contiguous shares per rank, totals summed, texts
// gathered on rank 0 in rank order.
#include <tapelm/train/tasks/sharded_evaluation.h>

namespace tapelm {
namespace {

bool one_process(const Distributed* dist) { return dist == nullptr || dist->world_size() == 1; }

Shard shard_of(const Distributed& dist) { return {dist.rank(), dist.world_size()}; }

// Texts as one byte string, each as "<length>\n<bytes>": any bytes survive (decoded samples
// need not be valid UTF-8).
std::string pack(const std::vector<std::string>& texts) {
  std::string packed;
  for (const std::string& text : texts) packed += std::to_string(text.size()) + '\n' + text;
  return packed;
}

std::vector<std::string> unpack(const std::string& packed) {
  std::vector<std::string> texts;
  for (size_t at = 0; at < packed.size();) {
    const size_t newline = packed.find('\n', at);
    const size_t size = std::stoull(packed.substr(at, newline - at));
    texts.push_back(packed.substr(newline + 1, size));
    at = newline + 1 + size;
  }
  return texts;
}

// Every rank's texts, concatenated in rank order, on rank 0; empty on the others.
std::vector<std::string> gather_in_rank_order(const Distributed& dist, const std::vector<std::string>& mine) {
  std::vector<std::string> all;
  for (const std::string& packed : dist.gather_bytes(pack(mine))) {
    const std::vector<std::string> texts = unpack(packed);
    all.insert(all.end(), texts.begin(), texts.end());
  }
  return all;
}

}  // namespace

TaskEvaluation evaluate_sharded(FinetuneTask& task, const std::vector<LabeledExample>& examples,
                                const std::vector<size_t>& indices, int64_t batch_size, const Distributed* dist) {
  if (one_process(dist)) return task.evaluate(examples, indices, batch_size);
  EvalTotals totals = task.evaluate_part(examples, indices, batch_size, shard_of(*dist));
  dist->all_reduce_sum(totals.sums);
  std::string samples = pack(gather_in_rank_order(*dist, totals.samples));
  dist->broadcast(samples);
  totals.samples = unpack(samples);
  return task.summarize(totals);
}

std::vector<std::string> predict_sharded(FinetuneTask& task, const std::vector<std::string>& inputs,
                                         int64_t batch_size, const Distributed* dist) {
  if (one_process(dist)) return task.predict(inputs, batch_size);
  const auto [begin, end] = shard_range(inputs.size(), batch_size, shard_of(*dist));
  const std::vector<std::string> share(inputs.begin() + long(begin), inputs.begin() + long(end));
  return gather_in_rank_order(*dist, task.predict(share, batch_size));
}

}  // namespace tapelm
