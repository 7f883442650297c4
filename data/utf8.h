// UTF-8 validation and repair for corpus text (Unicode 15, Table 3-7 well-formed sequences:
// no overlongs, no surrogates, nothing above U+10FFFF).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <tapelm/data/enum_names.h>

namespace tapelm {

// What to do with ill-formed UTF-8 in a corpus file:
//   kError   - throw, naming the file, byte offset and line (the default: bad input is loud);
//   kReplace - replace each maximal ill-formed subpart with U+FFFD (the W3C/WHATWG rule);
//   kSkip    - drop each maximal ill-formed subpart, keeping the valid text around it.
enum class Utf8Policy { kError, kReplace, kSkip };

// error | replace | skip.
template <>
const EnumNames<Utf8Policy>& enum_names<Utf8Policy>();

// Byte offset of the first ill-formed sequence, or std::string_view::npos if `text` is valid.
size_t find_invalid_utf8(std::string_view text);

// Applies kReplace or kSkip to `text` in place; returns how many ill-formed subparts it
// found. Valid text is left untouched (and not copied).
uint64_t repair_utf8(std::string& text, Utf8Policy policy);

}  // namespace tapelm
