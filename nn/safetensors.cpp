// Safetensors writing (atomic replace) and validating reads; parameter load/save.
#include <tapelm/nn/safetensors.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>

#include <tapelm/autograd/errors.h>
#include <tapelm/data/atomic_file.h>

namespace tapelm {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "safetensors data is little-endian and is copied to and from memory as is");

namespace {

using json = nlohmann::json;

constexpr uint64_t kMaxHeaderBytes = 100'000'000;  // the reference implementation's limit
constexpr uint64_t kMaxDim = uint64_t{1} << 62;
constexpr const char* kMetadataKey = "__metadata__";

// Messages quote the header (names, values, the parser's last token), which a damaged or
// hostile file fills with arbitrary bytes: they are shown as \xHH, and a long message keeps
// its start and end around a note of how much was left out.
constexpr size_t kMaxDetailChars = 320;

bool printable(char c) { return static_cast<unsigned char>(c) >= 0x20 && static_cast<unsigned char>(c) < 0x7F; }

// Non-printable bytes as \xHH, so a corrupted header cannot drive the terminal.
std::string escaped(const std::string& raw) {
  std::string text;
  for (const char c : raw) {
    if (printable(c)) {
      text += c;
    } else {
      char code[5];
      std::snprintf(code, sizeof code, "\\x%02X", static_cast<unsigned char>(c));
      text += code;
    }
  }
  return text;
}

std::string printable_detail(const std::string& what) {
  const std::string whole = escaped(what);
  if (whole.size() <= kMaxDetailChars) return whole;
  // The raw bytes are cut, not their escaped text, so no \xHH is split in half.
  const auto width = [](char c) -> size_t { return printable(c) ? 1 : 4; };
  size_t head = 0;
  for (size_t used = 0; head < what.size() && used + width(what[head]) <= kMaxDetailChars * 2 / 3; ++head) {
    used += width(what[head]);
  }
  size_t tail = 0;
  for (size_t used = 0; head + tail < what.size() && used + width(what[what.size() - 1 - tail]) <= kMaxDetailChars / 3;
       ++tail) {
    used += width(what[what.size() - 1 - tail]);
  }
  return escaped(what.substr(0, head)) + " [... " + std::to_string(what.size() - head - tail) +
         " bytes left out ...] " + escaped(what.substr(what.size() - tail));
}

SafetensorsError file_error(const std::string& path, const std::string& what) {
  return SafetensorsError("safetensors '" + path + "': " + printable_detail(what));
}

std::string errno_text() { return std::strerror(errno); }

// ---------------------------------------------------------------------------------------
// Writing

std::string header_for(const std::vector<const std::pair<std::string, Tensor>*>& sorted,
                       const TensorMetadata& metadata, const std::string& path) {
  json header = json::object();
  uint64_t offset = 0;
  for (const auto* entry : sorted) {
    const uint64_t bytes = static_cast<uint64_t>(entry->second.numel()) * sizeof(float);
    header[entry->first] = {{"dtype", "F32"},
                            {"shape", entry->second.shape()},
                            {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  if (!metadata.empty()) header[kMetadataKey] = metadata;
  std::string text;
  try {
    text = header.dump();
  } catch (const json::exception& e) {
    throw file_error(path, std::string("tensor names and metadata must be valid UTF-8: ") + e.what());
  }
  text.append((8 - text.size() % 8) % 8, ' ');  // data section starts 8-byte aligned
  return text;
}

// ---------------------------------------------------------------------------------------
// Reading

// Rejects duplicate keys anywhere in the header; nlohmann would silently keep the last.
json parse_header(const std::string& text, const std::string& path) {
  std::vector<std::set<std::string>> open_objects;
  std::string duplicate;
  bool duplicate_is_tensor = false;
  auto check_keys = [&](int, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::object_start) {
      open_objects.emplace_back();
    } else if (event == json::parse_event_t::object_end) {
      open_objects.pop_back();
    } else if (event == json::parse_event_t::key && duplicate.empty()) {
      const std::string& key = parsed.get_ref<const std::string&>();
      if (!open_objects.back().insert(key).second) {
        duplicate = key;
        duplicate_is_tensor = open_objects.size() == 1;
      }
    }
    return true;
  };
  json header;
  try {
    header = json::parse(text, check_keys);
  } catch (const json::parse_error& e) {
    throw file_error(path, std::string("header is not valid JSON: ") + e.what());
  }
  if (!duplicate.empty()) {
    throw file_error(path, duplicate_is_tensor ? "duplicate tensor name '" + duplicate + "' in header"
                                               : "duplicate key '" + duplicate + "' in header");
  }
  if (!header.is_object()) {
    throw file_error(path, "header must be a JSON object, got " + std::string(header.type_name()));
  }
  return header;
}

struct Entry {
  std::string name;
  Shape shape;
  uint64_t begin = 0;
  uint64_t end = 0;
};

uint64_t as_unsigned(const json& value, const std::string& path, const std::string& what) {
  if (!value.is_number_unsigned()) {
    throw file_error(path, what + " must be a non-negative integer, got " + value.dump());
  }
  return value.get<uint64_t>();
}

Entry parse_entry(const std::string& name, const json& info, const std::string& path) {
  const std::string where = "tensor '" + name + "'";
  if (!info.is_object()) throw file_error(path, where + ": entry must be a JSON object, got " + info.dump());
  for (const char* field : {"dtype", "shape", "data_offsets"}) {
    if (!info.contains(field)) throw file_error(path, where + ": missing field '" + field + "'");
  }
  const json& dtype = info["dtype"];
  if (!dtype.is_string()) throw file_error(path, where + ": field 'dtype' must be a string, got " + dtype.dump());
  if (dtype.get_ref<const std::string&>() != "F32") {
    throw file_error(path, where + " has dtype " + dtype.get<std::string>() + "; only F32 is supported");
  }

  Entry entry;
  entry.name = name;
  const json& shape = info["shape"];
  if (!shape.is_array()) throw file_error(path, where + ": field 'shape' must be an array, got " + shape.dump());
  for (const json& d : shape) {
    const uint64_t dim = as_unsigned(d, path, where + ": every 'shape' entry");
    if (dim > kMaxDim) throw file_error(path, where + ": dimension " + std::to_string(dim) + " is too large");
    entry.shape.push_back(static_cast<int64_t>(dim));
  }

  const json& offsets = info["data_offsets"];
  if (!offsets.is_array() || offsets.size() != 2) {
    throw file_error(path, where + ": field 'data_offsets' must be [begin, end], got " + offsets.dump());
  }
  entry.begin = as_unsigned(offsets[0], path, where + ": data_offsets begin");
  entry.end = as_unsigned(offsets[1], path, where + ": data_offsets end");
  if (entry.begin > entry.end) {
    throw file_error(path, where + ": data_offsets [" + std::to_string(entry.begin) + ", " +
                               std::to_string(entry.end) + "] are out of range (begin after end)");
  }

  // numel·4 with overflow detection: a product beyond 2^64 cannot match any file anyway.
  uint64_t bytes = sizeof(float);
  for (int64_t d : entry.shape) {
    const uint64_t dim = static_cast<uint64_t>(d);
    if (dim != 0 && bytes > std::numeric_limits<uint64_t>::max() / dim) {
      throw file_error(path, where + ": shape " + shape_str(entry.shape) + " is too large");
    }
    bytes *= dim;
  }
  if (entry.end - entry.begin != bytes) {
    throw file_error(path, where + ": data_offsets [" + std::to_string(entry.begin) + ", " +
                               std::to_string(entry.end) + "] span " +
                               std::to_string(entry.end - entry.begin) + " bytes but F32 shape " +
                               shape_str(entry.shape) + " needs " + std::to_string(bytes));
  }
  return entry;
}

TensorMetadata parse_metadata(const json& value, const std::string& path) {
  if (!value.is_object()) {
    throw file_error(path, std::string(kMetadataKey) + " must be an object, got " + value.dump());
  }
  TensorMetadata metadata;
  for (const auto& [key, v] : value.items()) {
    if (!v.is_string()) {
      throw file_error(path, std::string(kMetadataKey) + " value of '" + key + "' must be a string, got " + v.dump());
    }
    metadata[key] = v.get<std::string>();
  }
  return metadata;
}

// The tensors must tile the data section exactly: sorted by offset, each starts where the
// previous one ended, and the last ends at the end of the file.
void check_layout(std::vector<Entry>& entries, uint64_t data_bytes, const std::string& path) {
  uint64_t needed = 0;
  for (const Entry& e : entries) needed += e.end - e.begin;  // each ≤ file size, no overflow
  if (needed > data_bytes) {
    throw file_error(path, "file is truncated: the header's tensors need " + std::to_string(needed) +
                               " bytes of data but only " + std::to_string(data_bytes) + " follow the header");
  }
  for (const Entry& e : entries) {
    if (e.end > data_bytes) {
      throw file_error(path, "tensor '" + e.name + "': data_offsets [" + std::to_string(e.begin) + ", " +
                                 std::to_string(e.end) + "] are out of range: the data section holds " +
                                 std::to_string(data_bytes) + " bytes");
    }
  }
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t position = 0;
  const Entry* previous = nullptr;
  for (const Entry& e : entries) {
    if (e.begin < position) {
      throw file_error(path, "tensor '" + e.name + "': data_offsets [" + std::to_string(e.begin) + ", " +
                                 std::to_string(e.end) + "] overlap tensor '" + previous->name + "' ending at " +
                                 std::to_string(position));
    }
    if (e.begin > position) {
      throw file_error(path, "gap in the data section: bytes [" + std::to_string(position) + ", " +
                                 std::to_string(e.begin) + ") belong to no tensor (before tensor '" + e.name + "')");
    }
    position = e.end;
    previous = &e;
  }
  if (position != data_bytes) {
    throw file_error(path, "trailing bytes: the tensors end at data offset " + std::to_string(position) +
                               " but the data section holds " + std::to_string(data_bytes) + " bytes");
  }
}

void read_exact(std::ifstream& in, char* dst, uint64_t bytes, const std::string& path, const std::string& what) {
  in.read(dst, static_cast<std::streamsize>(bytes));
  if (static_cast<uint64_t>(in.gcount()) != bytes) {
    throw file_error(path, "read failed for " + what + " (" + std::to_string(in.gcount()) + " of " +
                               std::to_string(bytes) + " bytes)");
  }
}

}  // namespace

void save_safetensors(const std::string& path, const NamedTensors& tensors, const TensorMetadata& metadata) {
  std::vector<const std::pair<std::string, Tensor>*> sorted;
  for (const auto& entry : tensors) {
    if (entry.first.empty() || entry.first == kMetadataKey) {
      throw file_error(path, "invalid tensor name '" + entry.first + "'");
    }
    if (!entry.second.defined()) throw file_error(path, "tensor '" + entry.first + "' is undefined");
    sorted.push_back(&entry);
  }
  std::sort(sorted.begin(), sorted.end(), [](const auto* a, const auto* b) { return a->first < b->first; });
  for (std::size_t i = 1; i < sorted.size(); ++i) {
    if (sorted[i]->first == sorted[i - 1]->first) {
      throw file_error(path, "duplicate tensor name '" + sorted[i]->first + "'");
    }
  }
  const std::string header = header_for(sorted, metadata, path);

  AtomicFile file(path);
  unsigned char length[8];
  const uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) length[i] = static_cast<unsigned char>(n >> (8 * i));
  file.write(length, sizeof(length));
  file.write(header.data(), header.size());
  for (const auto* entry : sorted) {
    file.write(entry->second.data(), static_cast<std::size_t>(entry->second.numel()) * sizeof(float));
  }
  file.commit();
}

SafetensorsContents load_safetensors(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    throw file_error(path, std::filesystem::exists(path, ec) ? "not a regular file" : "no such file");
  }
  const uint64_t file_bytes = std::filesystem::file_size(path, ec);
  if (ec) throw file_error(path, "cannot determine file size: " + ec.message());
  if (file_bytes < 8) {
    throw file_error(path, "file has " + std::to_string(file_bytes) +
                               " bytes, too short for the 8-byte header length");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw file_error(path, "cannot open: " + errno_text());

  unsigned char length[8];
  read_exact(in, reinterpret_cast<char*>(length), 8, path, "the header length");
  uint64_t header_bytes = 0;
  for (int i = 0; i < 8; ++i) header_bytes |= uint64_t{length[i]} << (8 * i);
  if (header_bytes > kMaxHeaderBytes) {
    throw file_error(path, "header length " + std::to_string(header_bytes) + " exceeds the limit of " +
                               std::to_string(kMaxHeaderBytes) + " bytes (not a safetensors file?)");
  }
  if (header_bytes > file_bytes - 8) {
    throw file_error(path, "header length " + std::to_string(header_bytes) + " is longer than the " +
                               std::to_string(file_bytes - 8) + " bytes that follow it");
  }
  std::string text(header_bytes, '\0');
  read_exact(in, text.data(), header_bytes, path, "the header");
  const json header = parse_header(text, path);

  SafetensorsContents contents;
  std::vector<Entry> entries;
  for (const auto& [name, info] : header.items()) {
    if (name == kMetadataKey) {
      contents.metadata = parse_metadata(info, path);
    } else {
      entries.push_back(parse_entry(name, info, path));
    }
  }
  const uint64_t data_start = 8 + header_bytes;
  check_layout(entries, file_bytes - data_start, path);

  for (const Entry& e : entries) {  // in offset order after check_layout: sequential reads
    Tensor t(e.shape);
    in.seekg(static_cast<std::streamoff>(data_start + e.begin));
    read_exact(in, reinterpret_cast<char*>(t.data()), e.end - e.begin, path, "tensor '" + e.name + "'");
    contents.tensors.emplace(e.name, std::move(t));
  }
  return contents;
}

void save_parameters(const std::string& path, const NamedParameters& params, const TensorMetadata& metadata) {
  NamedTensors tensors;
  tensors.reserve(params.size());
  for (const auto& [name, var] : params) tensors.emplace_back(name, var.value());
  save_safetensors(path, tensors, metadata);
}

namespace {
std::string join_names(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "'" : ", '") + n + "'";
  return out;
}
}  // namespace

ParameterLoadReport load_parameters(const std::string& path, const NamedParameters& params, bool strict) {
  SafetensorsContents contents = load_safetensors(path);
  ParameterLoadReport report;
  report.metadata = std::move(contents.metadata);

  std::set<std::string> known;
  std::string mismatches;
  std::vector<std::pair<Var, const Tensor*>> copies;  // Var: a handle to the live parameter
  for (const auto& [name, var] : params) {
    known.insert(name);
    auto it = contents.tensors.find(name);
    if (it == contents.tensors.end()) {
      report.missing.push_back(name);
    } else if (it->second.shape() != var.shape()) {
      mismatches += (mismatches.empty() ? " '" : "; '") + name + "': file " + shape_str(it->second.shape()) +
                    ", model " + shape_str(var.shape());
    } else {
      report.loaded.push_back(name);
      copies.emplace_back(var, &it->second);
    }
  }
  for (const auto& [name, _] : contents.tensors) {
    if (!known.count(name)) report.unexpected.push_back(name);
  }
  // One line (messages hold printable characters only): "; " separates the entries.
  if (!mismatches.empty()) throw file_error(path, "shape mismatch for parameters:" + mismatches);
  if (strict && (!report.missing.empty() || !report.unexpected.empty())) {
    std::string what = "strict load found differing parameter names: ";
    if (!report.missing.empty()) what += "missing from the file: " + join_names(report.missing);
    if (!report.missing.empty() && !report.unexpected.empty()) what += "; ";
    if (!report.unexpected.empty()) what += "unexpected in the file: " + join_names(report.unexpected);
    throw file_error(path, what);
  }
  for (auto& [var, tensor] : copies) std::copy(tensor->data(), tensor->data() + tensor->numel(), var.data());
  return report;
}

}  // namespace tapelm
