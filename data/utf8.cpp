// UTF-8 scanning: an 8-bytes-at-a-time ASCII fast path, then the Table 3-7 state checks.
#include <tapelm/data/utf8.h>

#include <cstring>
#include <stdexcept>

namespace tapelm {
namespace {

// Length of the well-formed sequence at p (> 0), or minus the length of the maximal
// ill-formed subpart starting there (< 0). `avail` > 0 bytes are readable.
int sequence_length(const unsigned char* p, size_t avail) {
  const unsigned char lead = p[0];
  if (lead < 0x80) return 1;
  int need;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (lead >= 0xC2 && lead <= 0xDF) {
    need = 1;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    need = 2;
    if (lead == 0xE0) lo = 0xA0;   // overlong
    if (lead == 0xED) hi = 0x9F;   // surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    need = 3;
    if (lead == 0xF0) lo = 0x90;   // overlong
    if (lead == 0xF4) hi = 0x8F;   // above U+10FFFF
  } else {
    return -1;  // continuation byte, C0/C1 or F5..FF: never valid as a lead
  }
  for (int i = 1; i <= need; ++i) {
    if (static_cast<size_t>(i) >= avail) return -i;  // truncated at end of text
    const unsigned char c = p[i];
    const unsigned char min = i == 1 ? lo : 0x80;
    const unsigned char max = i == 1 ? hi : 0xBF;
    if (c < min || c > max) return -i;
  }
  return need + 1;
}

// Length of the run of ASCII bytes starting at `from`.
size_t ascii_run(const unsigned char* p, size_t size, size_t from) {
  size_t i = from;
  for (; i + 8 <= size; i += 8) {
    uint64_t word;
    std::memcpy(&word, p + i, sizeof word);
    if (word & 0x8080808080808080ull) break;
  }
  while (i < size && p[i] < 0x80) ++i;
  return i - from;
}

}  // namespace

template <>
const EnumNames<Utf8Policy>& enum_names<Utf8Policy>() {
  static const EnumNames<Utf8Policy> names(
      "utf8 policy", {{Utf8Policy::kError, "error"}, {Utf8Policy::kReplace, "replace"}, {Utf8Policy::kSkip, "skip"}});
  return names;
}

size_t find_invalid_utf8(std::string_view text) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const size_t size = text.size();
  size_t i = 0;
  while (i < size) {
    i += ascii_run(p, size, i);
    if (i >= size) break;
    const int n = sequence_length(p + i, size - i);
    if (n < 0) return i;
    i += static_cast<size_t>(n);
  }
  return std::string_view::npos;
}

uint64_t repair_utf8(std::string& text, Utf8Policy policy) {
  if (policy == Utf8Policy::kError) {
    throw std::invalid_argument("repair_utf8: policy 'error' does not repair; use find_invalid_utf8");
  }
  const size_t first_bad = find_invalid_utf8(text);
  if (first_bad == std::string_view::npos) return 0;
  static const char kReplacement[] = "\xEF\xBF\xBD";  // U+FFFD
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const size_t size = text.size();
  std::string out;
  out.reserve(size + size / 8);
  out.append(text, 0, first_bad);
  uint64_t bad = 0;
  size_t i = first_bad;
  while (i < size) {
    const size_t run = ascii_run(p, size, i);
    out.append(text, i, run);
    i += run;
    if (i >= size) break;
    const int n = sequence_length(p + i, size - i);
    if (n > 0) {
      out.append(text, i, static_cast<size_t>(n));
      i += static_cast<size_t>(n);
    } else {
      ++bad;
      if (policy == Utf8Policy::kReplace) out.append(kReplacement, 3);
      i += static_cast<size_t>(-n);
    }
  }
  text.swap(out);
  return bad;
}

}  // namespace tapelm
