// The text corpus: which files make it up (from files, folders and glob patterns), how each
// is read as UTF-8, and how it splits into documents (data/documents.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <tapelm/data/enum_names.h>
#include <tapelm/data/utf8.h>

namespace tapelm {

// How a file becomes documents: kText, the whole file is one; kJsonl / kCsv / kTsv, every
// record (JSON line, or CSV/TSV row under a header) is one, the text of its text_field.
enum class CorpusFormat { kText, kJsonl, kCsv, kTsv };

template <>
const EnumNames<CorpusFormat>& enum_names<CorpusFormat>();

struct CorpusConfig {
  // Each entry is a file, a folder (scanned recursively, skipping hidden names that start
  // with '.'), or a glob(3) pattern (anything containing * ? or [). Files keep the order of
  // the entries; a folder's or pattern's files are sorted by path (byte order) so the corpus
  // is the same on every machine. A file reached twice is kept once, at its first place.
  std::vector<std::string> sources;
  // Folder scans keep only files ending in one of these (e.g. ".txt"); empty keeps all.
  // Files named directly or matched by a pattern are always kept.
  std::vector<std::string> extensions;
  Utf8Policy utf8 = Utf8Policy::kError;
  CorpusFormat format = CorpusFormat::kText;
  std::string text_field = "text";  // the JSON field / CSV column read by the record formats
};

struct CorpusFile {
  std::string path;  // as reached from the source entry (not made absolute)
  uint64_t size = 0;
};

class Corpus {
 public:
  // Resolves the sources. Throws std::invalid_argument for: no sources, a source that does
  // not exist (named), a folder or pattern that yields no files (named), or a corpus whose
  // files are all empty.
  explicit Corpus(CorpusConfig config);

  const CorpusConfig& config() const { return config_; }
  const std::vector<CorpusFile>& files() const { return files_; }
  size_t size() const { return files_.size(); }
  uint64_t total_bytes() const { return total_bytes_; }

  // Document `index` as UTF-8 text: a leading byte-order mark is dropped, and ill-formed
  // UTF-8 is handled by the policy. Under kError, throws std::runtime_error naming the file,
  // byte offset, line number and offending bytes. `repaired`, if given, receives the number
  // of ill-formed subparts replaced or skipped.
  std::string read(size_t index, uint64_t* repaired = nullptr) const;

 private:
  CorpusConfig config_;
  std::vector<CorpusFile> files_;
  uint64_t total_bytes_ = 0;
};

}  // namespace tapelm
