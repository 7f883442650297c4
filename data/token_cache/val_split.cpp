// Validation splits by token position or by hashed document origins.
#include <tapelm/data/token_cache/val_split.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

#include <tapelm/data/hash.h>

using nlohmann::json;

namespace tapelm {
namespace {

TokenSplit split_by_tokens(const EncodedCorpus& encoded, double fraction) {
  TokenSplit split;
  const size_t total = encoded.tokens.size();
  const auto val_tokens = static_cast<size_t>(std::llround(fraction * static_cast<double>(total)));
  if (fraction > 0.0 && val_tokens < 2) {
    throw std::invalid_argument("data split: val_fraction " + json(fraction).dump() + " of " +
                                std::to_string(total) + " tokens leaves " + std::to_string(val_tokens) +
                                " validation tokens; need at least 2 (raise val_fraction or add text)");
  }
  const size_t cut = total - val_tokens;
  split.train.push_back({encoded.tokens.data(), cut});
  if (val_tokens > 0) split.val.push_back({encoded.tokens.data() + cut, val_tokens});
  // Documents are counted by where they start.
  const auto starts_before_cut = std::lower_bound(encoded.offsets.begin(), encoded.offsets.end() - 1, cut);
  split.train_documents = static_cast<uint64_t>(starts_before_cut - encoded.offsets.begin());
  split.val_documents = encoded.origins.size() - split.train_documents;
  return split;
}

TokenSplit split_by_documents(const EncodedCorpus& encoded, double fraction) {
  TokenSplit split;
  const size_t documents = encoded.origins.size();
  if (fraction == 0.0) {
    split.train.push_back({encoded.tokens.data(), encoded.tokens.size()});
    split.train_documents = documents;
    return split;
  }
  const size_t val_count = std::max<size_t>(1, static_cast<size_t>(std::llround(fraction * documents)));
  if (val_count >= documents) {
    throw std::invalid_argument("data split: holding out " + std::to_string(val_count) + " of " +
                                std::to_string(documents) + " documents leaves none for training; split by "
                                "documents needs more documents (or use mode 'tokens')");
  }
  std::vector<size_t> order(documents);
  std::vector<uint64_t> keys(documents);
  for (size_t d = 0; d < documents; ++d) {
    order[d] = d;
    keys[d] = hash64(encoded.origins[d]);
  }
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return keys[a] != keys[b] ? keys[a] < keys[b] : a < b; });
  std::vector<bool> is_val(documents, false);
  for (size_t i = 0; i < val_count; ++i) is_val[order[i]] = true;
  for (size_t d = 0; d < documents; ++d) {
    std::vector<int32_t>& target = is_val[d] ? split.gathered_val : split.gathered_train;
    target.insert(target.end(), encoded.tokens.begin() + static_cast<ptrdiff_t>(encoded.offsets[d]),
                  encoded.tokens.begin() + static_cast<ptrdiff_t>(encoded.offsets[d + 1]));
  }
  split.train.push_back({split.gathered_train.data(), split.gathered_train.size()});
  split.val.push_back({split.gathered_val.data(), split.gathered_val.size()});
  split.train_documents = documents - val_count;
  split.val_documents = val_count;
  return split;
}

}  // namespace

SplitMode parse_split_mode(std::string_view name) {
  if (name == "tokens") return SplitMode::kTokens;
  if (name == "documents") return SplitMode::kDocuments;
  throw std::invalid_argument("split mode '" + std::string(name) + "' is not one of: tokens, documents");
}

const char* split_mode_name(SplitMode mode) { return mode == SplitMode::kTokens ? "tokens" : "documents"; }

void validate(const ValSplitConfig& config) {
  const double f = config.val_fraction;
  if (!(f >= 0.0 && f < 1.0)) {
    throw std::invalid_argument("data split: val_fraction " + json(f).dump() + " must be in [0, 1)");
  }
}

TokenSplit split_validation(const EncodedCorpus& encoded, const ValSplitConfig& config) {
  if (config.mode == SplitMode::kTokens) return split_by_tokens(encoded, config.val_fraction);
  return split_by_documents(encoded, config.val_fraction);
}

TokenSplit separate_validation(const EncodedCorpus& train, const EncodedCorpus& val) {
  TokenSplit split;
  split.train.push_back({train.tokens.data(), train.tokens.size()});
  split.val.push_back({val.tokens.data(), val.tokens.size()});
  split.train_documents = train.origins.size();
  split.val_documents = val.origins.size();
  return split;
}

}  // namespace tapelm
