// Safetensors: exact round trips, the reference layout, every malformed-file error, and
// strict / non-strict parameter loading.
#include <tapelm/nn/safetensors.h>

#include <gtest/gtest.h>

#include <cctype>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include <tapelm/autograd/errors.h>
#include "expect_error.h"
#include "scratch_dir.h"

namespace tapelm {
namespace {

using testing::expect_error;
using testing::ScratchDir;

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string length_prefix(uint64_t n) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out;
}

// A file with header `header` (length field = its size) followed by `data_bytes` bytes.
std::string write_file(const ScratchDir& dir, const std::string& header, std::size_t data_bytes) {
  const std::string path = dir.file("f.safetensors");
  std::ofstream(path, std::ios::binary) << length_prefix(header.size()) << header << std::string(data_bytes, '\x01');
  return path;
}

void expect_load_error(const std::string& path, const std::string& needle) {
  try {
    load_safetensors(path);
    ADD_FAILURE() << "loaded; expected an error containing: " << needle;
  } catch (const SafetensorsError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(needle), std::string::npos) << "message: " << what;
    EXPECT_NE(what.find(path), std::string::npos) << "message does not name the file: " << what;
  }
}

std::string f32(const std::string& shape, uint64_t begin, uint64_t end) {
  return "{\"dtype\":\"F32\",\"shape\":" + shape + ",\"data_offsets\":[" + std::to_string(begin) + "," +
         std::to_string(end) + "]}";
}

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && std::memcmp(a.data(), b.data(), a.numel() * sizeof(float)) == 0;
}

TEST(Safetensors, RoundTripIsBitwiseExactForValuesNamesShapesAndMetadata) {
  ScratchDir dir;
  Tensor special = Tensor::from_vector({2, 3}, {-0.0f, std::numeric_limits<float>::infinity(),
                                                std::numeric_limits<float>::denorm_min(), 1.0f / 3.0f,
                                                std::numeric_limits<float>::quiet_NaN(), -1e30f});
  const NamedTensors tensors = {{"z.matrix", special},
                                {"a.scalar", Tensor::scalar(2.5f)},
                                {"empty", Tensor::zeros({0, 4})},
                                {"cube", Tensor::from_vector({2, 1, 2}, {1, 2, 3, 4})}};
  const TensorMetadata metadata = {{"format", "pt"}, {"step", "123"}, {"note", "ünïcode \"quoted\""}};
  const std::string path = dir.file("model.safetensors");
  save_safetensors(path, tensors, metadata);

  const SafetensorsContents loaded = load_safetensors(path);
  EXPECT_EQ(loaded.metadata, metadata);
  ASSERT_EQ(loaded.tensors.size(), tensors.size());
  for (const auto& [name, tensor] : tensors) {
    ASSERT_TRUE(loaded.tensors.count(name)) << name;
    EXPECT_TRUE(same_bits(loaded.tensors.at(name), tensor)) << name;
  }
}

TEST(Safetensors, WritesTheReferenceLayoutDeterministically) {
  ScratchDir dir;
  const Tensor a = Tensor::from_vector({2}, {1.0f, 2.0f});
  const Tensor b = Tensor::from_vector({1}, {3.0f});
  save_safetensors(dir.file("ab"), {{"b", b}, {"a", a}}, {{"k", "v"}});
  save_safetensors(dir.file("ba"), {{"a", a}, {"b", b}}, {{"k", "v"}});
  const std::string bytes = read_bytes(dir.file("ab"));
  EXPECT_EQ(bytes, read_bytes(dir.file("ba")));  // input order does not matter

  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= uint64_t(static_cast<unsigned char>(bytes[i])) << (8 * i);
  EXPECT_EQ(n % 8, 0u);  // header padded so the data starts 8-byte aligned
  ASSERT_EQ(bytes.size(), 8 + n + 12);
  const std::string header = bytes.substr(8, n);
  EXPECT_EQ(header.substr(0, header.find_last_not_of(' ') + 1),
            R"({"__metadata__":{"k":"v"},"a":{"data_offsets":[0,8],"dtype":"F32","shape":[2]},)"
            R"("b":{"data_offsets":[8,12],"dtype":"F32","shape":[1]}})");
  float data[3];
  std::memcpy(data, bytes.data() + 8 + n, sizeof(data));  // data in name order
  EXPECT_EQ(data[0], 1.0f);
  EXPECT_EQ(data[1], 2.0f);
  EXPECT_EQ(data[2], 3.0f);
}

// Written byte by byte as the format's specification describes a file (as Python's
// safetensors would write it, with keys and data in an order our writer never uses).
TEST(Safetensors, ReadsAHandWrittenReferenceFile) {
  ScratchDir dir;
  const std::string header =
      "{\"__metadata__\": {\"format\": \"pt\"}, "
      "\"weight\": {\"dtype\": \"F32\", \"shape\": [2, 2], \"data_offsets\": [4, 20]}, "
      "\"bias\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]}}";
  std::string padded = header + std::string((8 - header.size() % 8) % 8, ' ');
  // Little-endian IEEE-754: 0.5 = 0x3F000000, 1 = 0x3F800000, 2 = 0x40000000, -1 = 0xBF800000,
  // 4 = 0x40800000.
  const unsigned char data[] = {0x00, 0x00, 0x00, 0x3F, 0x00, 0x00, 0x80, 0x3F, 0x00, 0x00,
                                0x00, 0x40, 0x00, 0x00, 0x80, 0xBF, 0x00, 0x00, 0x80, 0x40};
  const std::string path = dir.file("reference.safetensors");
  std::ofstream(path, std::ios::binary) << length_prefix(padded.size()) << padded
                                        << std::string(reinterpret_cast<const char*>(data), sizeof(data));
  const SafetensorsContents loaded = load_safetensors(path);
  EXPECT_EQ(loaded.metadata, (TensorMetadata{{"format", "pt"}}));
  EXPECT_EQ(loaded.tensors.at("bias").shape(), (Shape{1}));
  EXPECT_EQ(loaded.tensors.at("bias").to_vector(), (std::vector<float>{0.5f}));
  EXPECT_EQ(loaded.tensors.at("weight").shape(), (Shape{2, 2}));
  EXPECT_EQ(loaded.tensors.at("weight").to_vector(), (std::vector<float>{1.0f, 2.0f, -1.0f, 4.0f}));
}

TEST(Safetensors, SaveReplacesAtomicallyAndLeavesNoTemporaryFiles) {
  ScratchDir dir;
  const std::string path = dir.file("w.safetensors");
  save_safetensors(path, {{"x", Tensor::full({4}, 1.0f)}});
  save_safetensors(path, {{"x", Tensor::full({4}, 2.0f)}});
  EXPECT_EQ(load_safetensors(path).tensors.at("x").to_vector(), std::vector<float>(4, 2.0f));
  // A rejected save leaves the previous file intact.
  EXPECT_THROW(save_safetensors(path, {{"x", Tensor::zeros({1})}, {"x", Tensor::zeros({1})}}), std::runtime_error);
  EXPECT_EQ(load_safetensors(path).tensors.at("x").to_vector(), std::vector<float>(4, 2.0f));
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    EXPECT_EQ(entry.path().filename(), "w.safetensors");
    ++files;
  }
  EXPECT_EQ(files, 1);
  EXPECT_THROW(save_safetensors(dir.file("missing_dir/w.safetensors"), {{"x", Tensor::zeros({1})}}),
               std::runtime_error);
}

TEST(Safetensors, SaveRejectsInvalidNames) {
  ScratchDir dir;
  EXPECT_THROW(save_safetensors(dir.file("a"), {{"", Tensor::zeros({1})}}), SafetensorsError);
  EXPECT_THROW(save_safetensors(dir.file("a"), {{"__metadata__", Tensor::zeros({1})}}), SafetensorsError);
  EXPECT_THROW(save_safetensors(dir.file("a"), {{"u", Tensor()}}), SafetensorsError);
}

TEST(SafetensorsErrors, MissingFile) {
  ScratchDir dir;
  expect_load_error(dir.file("nope.safetensors"), "no such file");
}

TEST(SafetensorsErrors, FileTooShortForTheLengthField) {
  ScratchDir dir;
  const std::string path = dir.file("short");
  std::ofstream(path, std::ios::binary) << "abc";
  expect_load_error(path, "too short for the 8-byte header length");
}

TEST(SafetensorsErrors, HeaderLengthBeyondTheLimit) {
  ScratchDir dir;
  const std::string path = dir.file("huge");
  std::ofstream(path, std::ios::binary) << length_prefix(uint64_t{1} << 40) << "{}";
  expect_load_error(path, "header length 1099511627776 exceeds the limit");
}

TEST(SafetensorsErrors, HeaderLongerThanTheFile) {
  ScratchDir dir;
  const std::string path = dir.file("long");
  std::ofstream(path, std::ios::binary) << length_prefix(1000) << "{}      ";
  expect_load_error(path, "header length 1000 is longer than the 8 bytes that follow it");
}

TEST(SafetensorsErrors, HeaderIsNotJson) {
  ScratchDir dir;
  expect_load_error(write_file(dir, "{\"a\": {\"dtype\": ", 0), "header is not valid JSON");
  expect_load_error(write_file(dir, "[1, 2]", 0), "header must be a JSON object, got array");
}

TEST(SafetensorsErrors, MessagesShowHeaderBytesEscapedAndShortened) {
  ScratchDir dir;
  // Terminal escape sequences, bytes that are not UTF-8, a 5000-byte token before the error, a
  // 6000-byte value quoted in the message.
  const std::vector<std::string> headers = {"{\"\x1b]0;owned\x07\x1b[2J\xff\xfe\": 1",
                                            "{\"" + std::string(5000, 'a') + "\x01\"}",
                                            "{\"\xff\xfe\x1b\": 1}",
                                            "{\"t\": {\"dtype\": \"F32\", \"shape\": [" + std::string(3000, '[') +
                                                std::string(3000, ']') + "], \"data_offsets\": [0, 0]}}",
                                            "{\"\\u001b[31mred\": [1]}"};
  for (const std::string& header : headers) {
    const std::string path = write_file(dir, header, 0);
    try {
      load_safetensors(path);
      ADD_FAILURE() << "loaded a malformed header";
    } catch (const std::runtime_error& e) {
      const std::string what = e.what();
      const std::string prefix = "safetensors '" + path + "': ";
      ASSERT_EQ(what.rfind(prefix, 0), 0u) << what;
      const std::string detail = what.substr(prefix.size());
      EXPECT_LE(detail.size(), 400u) << detail;
      for (const char c : detail) {
        EXPECT_TRUE(c >= 0x20 && c < 0x7F) << "byte " << int(static_cast<unsigned char>(c)) << " in: " << detail;
      }
    }
  }
  expect_load_error(write_file(dir, headers.back(), 0), "tensor '\\x1B[31mred': entry must be a JSON object, got [1]");

  // Shortening cuts whole bytes: every backslash still starts a complete \xHH.
  try {
    std::string name;
    for (int i = 0; i < 1000; ++i) name += "\\u0001";
    load_safetensors(write_file(dir, "{\"" + name + "\": [1]}", 0));
    ADD_FAILURE() << "loaded a malformed header";
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("bytes left out"), std::string::npos) << what;
    for (size_t at = what.find('\\'); at != std::string::npos; at = what.find('\\', at + 1)) {
      ASSERT_LE(at + 4, what.size()) << what;
      EXPECT_EQ(what[at + 1], 'x') << what.substr(at, 8);
      EXPECT_TRUE(std::isxdigit(static_cast<unsigned char>(what[at + 2])) &&
                  std::isxdigit(static_cast<unsigned char>(what[at + 3])))
          << what.substr(at, 8);
    }
  }
}

TEST(SafetensorsErrors, MissingOrMistypedField) {
  ScratchDir dir;
  expect_load_error(write_file(dir, R"({"a":{"dtype":"F32","data_offsets":[0,4]}})", 4),
                    "tensor 'a': missing field 'shape'");
  expect_load_error(write_file(dir, R"({"a":{"dtype":"F32","shape":[1]}})", 4),
                    "tensor 'a': missing field 'data_offsets'");
  expect_load_error(write_file(dir, R"({"a":{"dtype":"F32","shape":"1","data_offsets":[0,4]}})", 4),
                    "tensor 'a': field 'shape' must be an array");
  expect_load_error(write_file(dir, R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4),
                    "tensor 'a': every 'shape' entry must be a non-negative integer, got -1");
  expect_load_error(write_file(dir, R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0]}})", 4),
                    "tensor 'a': field 'data_offsets' must be [begin, end]");
  expect_load_error(write_file(dir, R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4.0]}})", 4),
                    "tensor 'a': data_offsets end must be a non-negative integer");
  expect_load_error(write_file(dir, R"({"a":{"dtype":7,"shape":[1],"data_offsets":[0,4]}})", 4),
                    "tensor 'a': field 'dtype' must be a string");
  expect_load_error(write_file(dir, R"({"a":[1]})", 4), "tensor 'a': entry must be a JSON object");
  expect_load_error(write_file(dir, R"({"__metadata__":{"k":1}})", 0), "__metadata__ value of 'k' must be a string");
}

TEST(SafetensorsErrors, UnsupportedDtypeNamesTensorAndDtype) {
  ScratchDir dir;
  expect_load_error(write_file(dir, R"({"half":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}})", 4),
                    "tensor 'half' has dtype F16; only F32 is supported");
  expect_load_error(write_file(dir, R"({"ids":{"dtype":"I64","shape":[2],"data_offsets":[0,16]}})", 16),
                    "tensor 'ids' has dtype I64; only F32 is supported");
}

TEST(SafetensorsErrors, OffsetsDisagreeWithShape) {
  ScratchDir dir;
  expect_load_error(write_file(dir, "{\"a\":" + f32("[3]", 0, 8) + "}", 8),
                    "tensor 'a': data_offsets [0, 8] span 8 bytes but F32 shape [3] needs 12");
  expect_load_error(write_file(dir, "{\"a\":" + f32("[4611686018427387904,4611686018427387904]", 0, 8) + "}", 8),
                    "tensor 'a': shape [4611686018427387904, 4611686018427387904] is too large");
}

TEST(SafetensorsErrors, OverlappingOffsets) {
  ScratchDir dir;
  expect_load_error(write_file(dir, "{\"a\":" + f32("[2]", 0, 8) + ",\"b\":" + f32("[2]", 4, 12) + "}", 16),
                    "tensor 'b': data_offsets [4, 12] overlap tensor 'a' ending at 8");
}

TEST(SafetensorsErrors, OutOfRangeOffsets) {
  ScratchDir dir;
  expect_load_error(write_file(dir, "{\"a\":" + f32("[2]", 0, 8) + ",\"b\":" + f32("[2]", 16, 24) + "}", 16),
                    "tensor 'b': data_offsets [16, 24] are out of range: the data section holds 16 bytes");
  expect_load_error(write_file(dir, "{\"a\":" + f32("[0]", 8, 4) + "}", 8),
                    "tensor 'a': data_offsets [8, 4] are out of range (begin after end)");
}

TEST(SafetensorsErrors, GapInData) {
  ScratchDir dir;
  expect_load_error(write_file(dir, "{\"a\":" + f32("[2]", 0, 8) + ",\"b\":" + f32("[2]", 12, 20) + "}", 20),
                    "gap in the data section: bytes [8, 12) belong to no tensor (before tensor 'b')");
}

TEST(SafetensorsErrors, TruncatedData) {
  ScratchDir dir;
  expect_load_error(write_file(dir, "{\"a\":" + f32("[2]", 0, 8) + ",\"b\":" + f32("[2]", 8, 16) + "}", 12),
                    "file is truncated: the header's tensors need 16 bytes of data but only 12 follow the header");
}

TEST(SafetensorsErrors, TrailingBytes) {
  ScratchDir dir;
  expect_load_error(write_file(dir, "{\"a\":" + f32("[2]", 0, 8) + "}", 11),
                    "trailing bytes: the tensors end at data offset 8 but the data section holds 11 bytes");
}

TEST(SafetensorsErrors, DuplicateNames) {
  ScratchDir dir;
  expect_load_error(write_file(dir, "{\"a\":" + f32("[1]", 0, 4) + ",\"a\":" + f32("[1]", 4, 8) + "}", 8),
                    "duplicate tensor name 'a' in header");
  expect_load_error(write_file(dir, R"({"a":{"dtype":"F32","dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 4),
                    "duplicate key 'dtype' in header");
}

// Random byte flips, truncations and extensions of a valid file: every outcome is a clean
// load or a runtime_error (the sanitizer build checks there is no out-of-bounds access).
TEST(SafetensorsErrors, RandomCorruptionsNeverCrash) {
  ScratchDir dir;
  const std::string valid_path = dir.file("valid");
  save_safetensors(valid_path, {{"a", Tensor::full({3}, 1.0f)}, {"b", Tensor::full({2, 2}, 2.0f)}}, {{"k", "v"}});
  const std::string valid = read_bytes(valid_path);
  uint64_t state = 88172645463325252ull;  // xorshift64: a fixed, reproducible sequence
  auto next = [&] {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  int rejected = 0;
  for (int trial = 0; trial < 200; ++trial) {
    std::string bytes = valid;
    const int flips = 1 + static_cast<int>(next() % 3);
    for (int f = 0; f < flips; ++f) bytes[next() % bytes.size()] = static_cast<char>(next());
    if (trial % 4 == 1) bytes.resize(next() % bytes.size());
    if (trial % 4 == 2) bytes += std::string(next() % 9, 'x');
    // A new file each time: rewriting one in place makes ext4 flush it on every truncate.
    const std::string path = dir.file("corrupt" + std::to_string(trial));
    std::ofstream(path, std::ios::binary) << bytes;
    try {
      load_safetensors(path);
    } catch (const std::runtime_error&) {
      ++rejected;
    }
  }
  EXPECT_GT(rejected, 150) << rejected;  // most corruptions must be detected, not silently loaded
}

// A module-like parameter set; `loaded` check uses the live storage.
struct TwoLayer {
  Var w{Tensor::from_vector({2, 2}, {1, 2, 3, 4}), true};
  Var b{Tensor::from_vector({2}, {5, 6}), true};
  NamedParameters named() const { return {{"layer.weight", w}, {"layer.bias", b}}; }
};

TEST(LoadParameters, StrictLoadReplacesValuesInPlace) {
  ScratchDir dir;
  TwoLayer source;
  save_parameters(dir.file("m"), source.named(), {{"arch", "two_layer"}});
  TwoLayer target;
  target.w.value().fill(0.0f);
  target.b.value().fill(0.0f);
  const float* storage = target.w.data();
  const ParameterLoadReport report = load_parameters(dir.file("m"), target.named());
  EXPECT_EQ(target.w.data(), storage);
  EXPECT_EQ(target.w.value().to_vector(), source.w.value().to_vector());
  EXPECT_EQ(target.b.value().to_vector(), source.b.value().to_vector());
  EXPECT_EQ(report.loaded, (std::vector<std::string>{"layer.weight", "layer.bias"}));
  EXPECT_TRUE(report.missing.empty());
  EXPECT_TRUE(report.unexpected.empty());
  EXPECT_EQ(report.metadata, (TensorMetadata{{"arch", "two_layer"}}));
}

TEST(LoadParameters, StrictLoadListsMissingAndUnexpectedNamesAndChangesNothing) {
  ScratchDir dir;
  save_safetensors(dir.file("m"), {{"layer.weight", Tensor::zeros({2, 2})}, {"old_head.weight", Tensor::zeros({3})}});
  TwoLayer target;
  try {
    load_parameters(dir.file("m"), target.named());
    ADD_FAILURE() << "strict load accepted differing names";
  } catch (const SafetensorsError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("missing from the file: 'layer.bias'"), std::string::npos) << what;
    EXPECT_NE(what.find("unexpected in the file: 'old_head.weight'"), std::string::npos) << what;
  }
  EXPECT_EQ(target.w.value().to_vector(), (std::vector<float>{1, 2, 3, 4}));
}

TEST(LoadParameters, NonStrictLoadsWhatMatchesAndReportsTheRest) {
  ScratchDir dir;
  save_safetensors(dir.file("m"), {{"layer.weight", Tensor::full({2, 2}, 9.0f)}, {"old_head.weight", Tensor::zeros({3})}});
  TwoLayer target;
  const ParameterLoadReport report = load_parameters(dir.file("m"), target.named(), /*strict=*/false);
  EXPECT_EQ(target.w.value().to_vector(), std::vector<float>(4, 9.0f));
  EXPECT_EQ(target.b.value().to_vector(), (std::vector<float>{5, 6}));
  EXPECT_EQ(report.loaded, (std::vector<std::string>{"layer.weight"}));
  EXPECT_EQ(report.missing, (std::vector<std::string>{"layer.bias"}));
  EXPECT_EQ(report.unexpected, (std::vector<std::string>{"old_head.weight"}));
}

TEST(LoadParameters, ShapeMismatchIsAnErrorEvenWhenNotStrict) {
  ScratchDir dir;
  save_safetensors(dir.file("m"), {{"layer.weight", Tensor::zeros({4})}, {"layer.bias", Tensor::full({2}, 7.0f)}});
  for (bool strict : {true, false}) {
    TwoLayer target;
    try {
      load_parameters(dir.file("m"), target.named(), strict);
      ADD_FAILURE() << "accepted a shape mismatch";
    } catch (const SafetensorsError& e) {
      EXPECT_NE(std::string(e.what()).find("'layer.weight': file [4], model [2, 2]"), std::string::npos) << e.what();
    }
    EXPECT_EQ(target.b.value().to_vector(), (std::vector<float>{5, 6}));  // nothing half-loaded
  }
}


TEST(LoadParameters, MismatchMessagesListEveryProblemOnOneReadableLine) {
  ScratchDir dir;
  const std::string path = dir.file("m");
  save_safetensors(path, {{"layer.weight", Tensor::zeros({2, 2})}, {"old_head.weight", Tensor::zeros({3})}});
  TwoLayer target;
  expect_error<SafetensorsError>([&] { load_parameters(path, target.named()); },
                                 {"safetensors '" + path + "': strict load found differing parameter names: "
                                  "missing from the file: 'layer.bias'; unexpected in the file: 'old_head.weight'"});
  save_safetensors(path, {{"layer.weight", Tensor::zeros({4})}, {"layer.bias", Tensor::zeros({3})}});
  expect_error<SafetensorsError>([&] { load_parameters(path, target.named()); },
                                 {"shape mismatch for parameters: 'layer.weight': file [4], model [2, 2]; "
                                  "'layer.bias': file [3], model [2]"});
}

}  // namespace
}  // namespace tapelm
