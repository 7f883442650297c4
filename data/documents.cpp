// Documents: whole files, or one field of each record through the labeled-data readers.
#include <tapelm/data/documents.h>

#include <stdexcept>

#include <tapelm/data/corpus.h>
#include <tapelm/data/labeled_dataset.h>

namespace tapelm {
namespace {

LabeledFormat record_format(CorpusFormat format) {
  switch (format) {
    case CorpusFormat::kJsonl: return LabeledFormat::kJsonl;
    case CorpusFormat::kCsv: return LabeledFormat::kCsv;
    case CorpusFormat::kTsv: return LabeledFormat::kTsv;
    case CorpusFormat::kText: break;
  }
  throw std::logic_error("record_format: format 'text' has no records");
}

}  // namespace

std::vector<Document> read_documents(const Corpus& corpus, size_t file) {
  const CorpusConfig& config = corpus.config();
  const std::string& path = corpus.files().at(file).path;
  if (config.format == CorpusFormat::kText) return {{corpus.read(file), path}};
  std::vector<Document> documents;
  for (FieldRecord& record : read_field_records(record_format(config.format), path, corpus.read(file),
                                                {config.text_field}, FieldValues::kStrings)) {
    documents.push_back({std::move(record.values[0]), std::move(record.origin)});
  }
  return documents;
}

}  // namespace tapelm
