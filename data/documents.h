// The documents of a corpus file: a text file is one document; a JSONL, CSV or TSV file
// (CorpusConfig::format) gives one per record, the text of its CorpusConfig::text_field, so a
// labeled data file can be pretrained on.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace tapelm {

class Corpus;

struct Document {
  std::string text;
  std::string origin;  // the file's path, or "path:line" for a record
};

// The documents of file `file`, in order. Throws std::runtime_error naming file:line and the
// field for a record without the field, or whose field is not a string (and as
// Corpus::read does for unreadable text).
std::vector<Document> read_documents(const Corpus& corpus, size_t file);

}  // namespace tapelm
