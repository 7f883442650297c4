// Tokenizing the corpus: every document (data/documents.h) becomes <bos> tokens... <eos>,
// documents follow each other in corpus order, and empty documents are left out.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace tapelm {

class Corpus;
class Tokenizer;

// All documents' tokens back to back; document d is tokens[offsets[d], offsets[d + 1]).
struct EncodedCorpus {
  std::vector<int32_t> tokens;
  std::vector<uint64_t> offsets;
  std::vector<std::string> origins;  // Document::origin of each (non-empty) document
};

// Encodes every document on the OpenMP threads (omp_set_num_threads / OMP_NUM_THREADS).
// Documents are cut into chunks at line ends and the chunks encoded in parallel; the result
// does not depend on the thread count because the tokenizer encodes line by line. Requires
// an <eos> piece.
EncodedCorpus encode_corpus(const Corpus& corpus, const Tokenizer& tokenizer);

}  // namespace tapelm
