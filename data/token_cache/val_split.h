// The train/validation split of an encoded corpus: the last fraction of the token stream,
// whole documents chosen by a hash of their origins, or separate validation files.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include <tapelm/data/token_cache/encode_corpus.h>

namespace tapelm {

// kTokens cuts the token stream: the last val_fraction of it is validation.
// kDocuments holds out round(val_fraction * documents) whole documents (at least one),
// chosen by a hash of their origins (paths, or path:line for records), so the choice is
// stable and spread over the corpus.
enum class SplitMode { kTokens, kDocuments };

// "tokens" | "documents"; throws std::invalid_argument listing the choices otherwise.
SplitMode parse_split_mode(std::string_view name);
const char* split_mode_name(SplitMode mode);

struct ValSplitConfig {
  double val_fraction = 0.05;  // in [0, 1); 0 = no validation split. Ignored with separate val files.
  SplitMode mode = SplitMode::kTokens;
};

// A contiguous run of tokens, written as one or more shards.
struct TokenSpan {
  const int32_t* data;
  size_t size;
};

// Spans point into the EncodedCorpus split, or into gathered_* (documents copied out of it).
struct TokenSplit {
  std::vector<TokenSpan> train, val;
  uint64_t train_documents = 0, val_documents = 0;
  std::vector<int32_t> gathered_train, gathered_val;
};

// Throws std::invalid_argument for a fraction outside [0, 1).
void validate(const ValSplitConfig& config);

// Splits `encoded` per a validated `config`. Throws std::invalid_argument when
// the split would leave fewer than 2 validation tokens or no training documents.
TokenSplit split_validation(const EncodedCorpus& encoded, const ValSplitConfig& config);

// All of `train` for training and all of `val` for validation.
TokenSplit separate_validation(const EncodedCorpus& train, const EncodedCorpus& val);

}  // namespace tapelm
