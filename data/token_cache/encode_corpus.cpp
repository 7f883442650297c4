// Corpus encoding in rounds of about kBatchBytes of text, each round's chunks in parallel.
#include <tapelm/data/token_cache/encode_corpus.h>

#include <exception>
#include <stdexcept>
#include <string>
#include <string_view>

#include <tapelm/data/corpus.h>
#include <tapelm/data/documents.h>
#include <tapelm/data/tokenizer.h>

namespace tapelm {
namespace {

constexpr size_t kBatchBytes = size_t{32} << 20;  // text read per parallel encoding round
constexpr size_t kChunkBytes = size_t{64} << 10;  // unit of parallel work, cut at a line end

struct Chunk {
  size_t document;  // index into the round's documents
  std::string_view text;
};

// Line-wise encoding makes a cut after any "\n" invisible in the output; a model without
// the "\n" piece sees each document whole.
std::vector<Chunk> cut_into_chunks(const std::vector<Document>& documents, const Tokenizer& tokenizer) {
  std::vector<Chunk> chunks;
  for (size_t d = 0; d < documents.size(); ++d) {
    const std::string_view text = documents[d].text;
    size_t pos = 0;
    while (pos < text.size()) {
      size_t end = text.size();
      if (tokenizer.newline_id() >= 0 && text.size() - pos > kChunkBytes) {
        const size_t newline = text.find('\n', pos + kChunkBytes);
        if (newline != std::string_view::npos) end = newline + 1;
      }
      chunks.push_back({d, text.substr(pos, end - pos)});
      pos = end;
    }
  }
  return chunks;
}

// Each chunk writes only its own slot, so any thread count and schedule give the same result.
std::vector<std::vector<int32_t>> encode_chunks(const std::vector<Chunk>& chunks, const Tokenizer& tokenizer) {
  std::vector<std::vector<int32_t>> encoded(chunks.size());
  std::exception_ptr error;  // exceptions must not leave an OpenMP region
  const auto count = static_cast<int64_t>(chunks.size());
#pragma omp parallel for schedule(dynamic)
  for (int64_t i = 0; i < count; ++i) {
    try {
      tokenizer.encode_append(chunks[i].text, encoded[i]);
    } catch (...) {
#pragma omp critical(tapelm_encode_error)
      if (!error) error = std::current_exception();
    }
  }
  if (error) std::rethrow_exception(error);
  return encoded;
}

}  // namespace

EncodedCorpus encode_corpus(const Corpus& corpus, const Tokenizer& tokenizer) {
  if (tokenizer.eos_id() < 0) {
    throw std::invalid_argument("encode_corpus: the tokenizer model has no <eos> piece, needed to end documents");
  }
  EncodedCorpus out;
  out.offsets.push_back(0);
  size_t next_file = 0;
  while (next_file < corpus.size()) {
    std::vector<Document> documents;
    size_t batch_bytes = 0;
    while (next_file < corpus.size() && batch_bytes < kBatchBytes) {
      for (Document& document : read_documents(corpus, next_file)) {
        if (document.text.empty()) continue;
        batch_bytes += document.text.size();
        documents.push_back(std::move(document));
      }
      ++next_file;
    }
    const std::vector<Chunk> chunks = cut_into_chunks(documents, tokenizer);
    std::vector<std::vector<int32_t>> encoded = encode_chunks(chunks, tokenizer);
    for (size_t i = 0; i < chunks.size(); ++i) {
      const bool first = i == 0 || chunks[i - 1].document != chunks[i].document;
      const bool last = i + 1 == chunks.size() || chunks[i + 1].document != chunks[i].document;
      if (first && tokenizer.bos_id() >= 0) out.tokens.push_back(tokenizer.bos_id());
      out.tokens.insert(out.tokens.end(), encoded[i].begin(), encoded[i].end());
      std::vector<int32_t>().swap(encoded[i]);
      if (last) {
        out.tokens.push_back(tokenizer.eos_id());
        out.offsets.push_back(out.tokens.size());
        out.origins.push_back(documents[chunks[i].document].origin);
      }
    }
  }
  return out;
}

}  // namespace tapelm
