// Delimited text (CSV, TSV) per RFC 4180: fields separated by a delimiter, records by LF or
// CRLF; a field that starts with '"' is quoted and may hold delimiters, newlines and doubled
// quotes (""). A quote inside an unquoted field is kept as a literal character (as Python's
// csv module does), which TSV files without quoting rely on. Empty lines are skipped.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace tapelm {

struct DelimitedRecord {
  std::vector<std::string> fields;
  size_t line = 0;  // 1-based line the record starts on
};

// Throws std::runtime_error "<origin>:<line>: ..." for an unterminated quoted field (naming
// the line it opened on) or a character other than a delimiter or line end after a closing
// quote.
std::vector<DelimitedRecord> parse_delimited(std::string_view text, char delimiter, const std::string& origin);

}  // namespace tapelm
