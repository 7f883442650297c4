// Tokenizers for fine-tuning runs from scratch: a SentencePiece model trained on in-memory
// texts (the training split's inputs, and targets where the model generates them), with
// the settings of a config `tokenizer` section.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "data/tokenizer.h"
#include "train/config/config.h"

namespace tapelm {

// The data/ tokenizer options a config section describes (one training thread, so the same
// config gives the same tokenizer on every machine).
TokenizerConfig tokenizer_config(const TokenizerSection& section, uint32_t seed);

// Trains on `texts` (one document each), written to a scratch file in `scratch_dir` that is
// removed afterwards. Throws ConfigError naming `section_name` when SentencePiece cannot
// train (e.g. vocab_size too large for so little text).
Tokenizer train_tokenizer_on_texts(const std::vector<std::string>& texts, const TokenizerSection& section,
                                   uint32_t seed, const std::filesystem::path& scratch_dir,
                                   const std::string& section_name = "tokenizer");

}  // namespace tapelm
