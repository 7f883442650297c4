// Corpus: source resolution (stat / recursive scan / glob) and policy-checked reading.
#include <tapelm/data/corpus.h>

#include <glob.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <unordered_set>
#include <utility>

#include <tapelm/data/atomic_file.h>

namespace fs = std::filesystem;

namespace tapelm {
namespace {

bool is_pattern(const std::string& source) {
  return source.find_first_of("*?[") != std::string::npos;
}

bool has_kept_extension(const std::string& name, const std::vector<std::string>& extensions) {
  if (extensions.empty()) return true;
  for (const std::string& ext : extensions) {
    if (name.size() >= ext.size() && name.compare(name.size() - ext.size(), ext.size(), ext) == 0) {
      return true;
    }
  }
  return false;
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

// Regular files under `folder`, sorted; hidden files and folders are not entered.
std::vector<std::string> scan_folder(const std::string& folder, const std::vector<std::string>& extensions) {
  std::vector<std::string> found;
  std::error_code ec;
  fs::recursive_directory_iterator it(folder, ec), end;
  if (ec) throw std::runtime_error("corpus: cannot read folder '" + folder + "': " + ec.message());
  for (; it != end; it.increment(ec)) {
    if (ec) throw std::runtime_error("corpus: cannot scan folder '" + folder + "': " + ec.message());
    const std::string name = it->path().filename().string();
    if (!name.empty() && name[0] == '.') {
      if (it->is_directory(ec)) it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file(ec) && has_kept_extension(name, extensions)) {
      found.push_back(it->path().string());
    }
  }
  std::sort(found.begin(), found.end());
  if (found.empty()) {
    throw std::invalid_argument("corpus: folder '" + folder + "' contains no files" +
                                (extensions.empty() ? "" : " ending in " + join(extensions)));
  }
  return found;
}

std::vector<std::string> expand_pattern(const std::string& pattern, const std::vector<std::string>& extensions) {
  glob_t matches{};
  const int rc = ::glob(pattern.c_str(), 0, nullptr, &matches);
  std::vector<std::string> paths(matches.gl_pathv, matches.gl_pathv + matches.gl_pathc);
  ::globfree(&matches);
  if (rc == GLOB_NOMATCH) throw std::invalid_argument("corpus: no files match pattern '" + pattern + "'");
  if (rc != 0) throw std::runtime_error("corpus: cannot expand pattern '" + pattern + "'");
  std::sort(paths.begin(), paths.end());  // glob sorts by locale collation; we want byte order
  std::vector<std::string> files;
  for (const std::string& path : paths) {
    if (fs::is_directory(path)) {
      const std::vector<std::string> inner = scan_folder(path, extensions);
      files.insert(files.end(), inner.begin(), inner.end());
    } else {
      files.push_back(path);
    }
  }
  return files;
}

std::vector<std::string> expand_source(const std::string& source, const std::vector<std::string>& extensions) {
  if (is_pattern(source) && !fs::exists(source)) return expand_pattern(source, extensions);
  std::error_code ec;
  const fs::file_status status = fs::status(source, ec);
  if (ec || !fs::exists(status)) {
    throw std::invalid_argument("corpus: source '" + source + "' does not exist");
  }
  if (fs::is_directory(status)) return scan_folder(source, extensions);
  if (!fs::is_regular_file(status)) {
    throw std::invalid_argument("corpus: source '" + source + "' is neither a file nor a folder");
  }
  return {source};
}

size_t line_of(const std::string& text, size_t offset) {
  return 1 + static_cast<size_t>(std::count(text.begin(), text.begin() + offset, '\n'));
}

std::string bytes_at(const std::string& text, size_t offset) {
  std::string out;
  for (size_t i = offset; i < text.size() && i < offset + 4; ++i) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "%s0x%02X", out.empty() ? "" : " ", static_cast<unsigned char>(text[i]));
    out += buf;
  }
  return out;
}

}  // namespace

template <>
const EnumNames<CorpusFormat>& enum_names<CorpusFormat>() {
  static const EnumNames<CorpusFormat> names("corpus format", {{CorpusFormat::kText, "text"},
                                                               {CorpusFormat::kJsonl, "jsonl"},
                                                               {CorpusFormat::kCsv, "csv"},
                                                               {CorpusFormat::kTsv, "tsv"}});
  return names;
}

Corpus::Corpus(CorpusConfig config) : config_(std::move(config)) {
  if (config_.sources.empty()) throw std::invalid_argument("corpus: no sources given (expected files, folders or glob patterns)");
  std::unordered_set<std::string> seen;
  for (const std::string& source : config_.sources) {
    for (std::string& path : expand_source(source, config_.extensions)) {
      if (!seen.insert(fs::weakly_canonical(path).string()).second) continue;
      const uint64_t size = fs::file_size(path);
      total_bytes_ += size;
      files_.push_back({std::move(path), size});
    }
  }
  if (total_bytes_ == 0) {
    throw std::invalid_argument("corpus is empty: " + std::to_string(files_.size()) +
                                " file(s) matched (first: '" + files_.front().path + "') but all are empty");
  }
}

std::string Corpus::read(size_t index, uint64_t* repaired) const {
  if (index >= files_.size()) {
    throw std::out_of_range("corpus: document " + std::to_string(index) + " requested, corpus has " +
                            std::to_string(files_.size()));
  }
  const std::string& path = files_[index].path;
  std::string text = read_file(path);
  const size_t bom = text.compare(0, 3, "\xEF\xBB\xBF") == 0 ? 3 : 0;
  text.erase(0, bom);
  uint64_t fixed = 0;
  if (config_.utf8 == Utf8Policy::kError) {
    const size_t bad = find_invalid_utf8(text);
    if (bad != std::string::npos) {
      throw std::runtime_error("corpus: invalid UTF-8 in '" + path + "' at byte offset " + std::to_string(bad + bom) +
                               " (line " + std::to_string(line_of(text, bad)) + "): bytes " + bytes_at(text, bad) +
                               "; set the utf8 policy (data.utf8) to 'replace' or 'skip' to accept such files");
    }
  } else {
    fixed = repair_utf8(text, config_.utf8);
  }
  if (repaired != nullptr) *repaired = fixed;
  return text;
}

}  // namespace tapelm
