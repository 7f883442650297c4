// RFC 4180 parsing in one pass over the text, tracking line numbers for messages.
#include <tapelm/data/csv.h>

#include <stdexcept>

namespace tapelm {
namespace {

[[noreturn]] void fail(const std::string& origin, size_t line, const std::string& what) {
  throw std::runtime_error(origin + ":" + std::to_string(line) + ": " + what);
}

}  // namespace

std::vector<DelimitedRecord> parse_delimited(std::string_view text, char delimiter, const std::string& origin) {
  std::vector<DelimitedRecord> records;
  DelimitedRecord record;
  std::string field;
  size_t line = 1;
  record.line = line;
  bool quoted = false;  // the current record has a quoted field (so "" alone is not a blank line)
  size_t i = 0;
  const size_t n = text.size();
  // Length of the line end (LF, CRLF, or a CR as the last byte) at `at`, or 0.
  auto line_end = [&](size_t at) -> size_t {
    if (text[at] == '\n') return 1;
    if (text[at] != '\r') return 0;
    if (at + 1 == n) return 1;
    return text[at + 1] == '\n' ? 2 : 0;
  };
  auto end_record = [&] {
    const bool blank = record.fields.empty() && field.empty() && !quoted;
    record.fields.push_back(std::move(field));
    field.clear();
    if (!blank) records.push_back(std::move(record));
    record = DelimitedRecord{};
    quoted = false;
  };
  while (i < n) {
    if (field.empty() && text[i] == '"') {
      // A quoted field: runs to the next quote that is not doubled.
      quoted = true;
      const size_t opened = line;
      ++i;
      while (true) {
        if (i >= n) fail(origin, opened, "unterminated quoted field (opened on this line, never closed)");
        const char c = text[i];
        if (c == '"') {
          if (i + 1 < n && text[i + 1] == '"') {
            field += '"';
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        if (c == '\n') ++line;
        field += c;
        ++i;
      }
      if (i < n && text[i] != delimiter && line_end(i) == 0) {
        fail(origin, line, std::string("unexpected character '") + text[i] +
                               "' after a closing quote (expected a delimiter or the end of the line; "
                               "write a quote inside a quoted field as \"\")");
      }
      if (i >= n || text[i] != delimiter) {  // the record ends here; a delimiter is handled below
        if (i < n) i += line_end(i);
        end_record();
        ++line;
        record.line = line;
        continue;
      }
    }
    if (i >= n) break;
    const char c = text[i];
    if (c == delimiter) {
      record.fields.push_back(std::move(field));
      field.clear();
      ++i;
    } else if (const size_t end = line_end(i)) {
      i += end;
      end_record();
      ++line;
      record.line = line;
    } else {
      field += c;
      ++i;
    }
  }
  if (!record.fields.empty() || !field.empty() || quoted) end_record();
  return records;
}

}  // namespace tapelm
