// TensorBoard event-file writing: records framed with masked CRC-32C around Event messages
// encoded in protobuf's wire format. The encoder is written here rather than generated:
// Debian's sentencepiece carries its own protobuf runtime, and a process that also loads
// libprotobuf breaks sentencepiece's version check. train/loop/tensorboard_event.proto is the
// schema these bytes follow; a test parses them with code generated from it.
#include <tapelm/train/loop/tensorboard.h>

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>

#include <tapelm/train/checkpoint/crc32c.h>

namespace tapelm {
namespace {

// Field numbers of train/loop/tensorboard_event.proto.
enum EventField { kWallTime = 1, kStep = 2, kFileVersion = 3, kSummary = 5, kSessionLog = 7 };
enum SummaryValueField { kTag = 1, kSimpleValue = 2, kTensor = 8, kMetadata = 9 };
constexpr int kSummaryValue = 1;
constexpr int kSessionStatus = 1, kSessionStart = 1;
constexpr int kPluginData = 1, kPluginName = 1;
constexpr int kTensorDtype = 1, kTensorShape = 2, kTensorStringVal = 8, kDtString = 7;
constexpr int kShapeDim = 2, kDimSize = 1;

// Protobuf's wire format, for the few field types an Event needs.
class ProtoWriter {
 public:
  ProtoWriter& varint(int field, uint64_t value) {
    key(field, 0);
    put_varint(value);
    return *this;
  }
  ProtoWriter& float64(int field, double value) {
    key(field, 1);
    put_fixed(&value, 8);
    return *this;
  }
  ProtoWriter& float32(int field, float value) {
    key(field, 5);
    put_fixed(&value, 4);
    return *this;
  }
  ProtoWriter& bytes(int field, const std::string& value) {
    key(field, 2);
    put_varint(value.size());
    out_ += value;
    return *this;
  }
  ProtoWriter& message(int field, const ProtoWriter& value) { return bytes(field, value.out_); }
  const std::string& str() const { return out_; }

 private:
  void key(int field, int wire_type) { put_varint(uint64_t(field) << 3 | uint64_t(wire_type)); }
  void put_varint(uint64_t value) {
    while (value >= 0x80) {
      out_.push_back(static_cast<char>((value & 0x7f) | 0x80));
      value >>= 7;
    }
    out_.push_back(static_cast<char>(value));
  }
  void put_fixed(const void* value, size_t size) {
    static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "protobuf's fixed-width fields are little-endian");
    out_.append(static_cast<const char*>(value), size);
  }
  std::string out_;
};

double wall_time() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string host_name() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

void put_le(std::string& out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

ProtoWriter event_at(int64_t step) {
  ProtoWriter event;
  event.float64(kWallTime, wall_time()).varint(kStep, static_cast<uint64_t>(step));
  return event;
}

ProtoWriter summary_of(const ProtoWriter& value) {
  ProtoWriter summary;
  summary.message(kSummaryValue, value);
  return summary;
}

}  // namespace

uint32_t tensorboard_masked_crc(const void* data, size_t size) {
  const uint32_t crc = crc32c(data, size);
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

TensorBoardLog::TensorBoardLog(const std::filesystem::path& folder, std::optional<int64_t> resume_step) {
  // The counter keeps two logs opened by one process within a second apart.
  static std::atomic<int> opened{0};
  const auto seconds =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  path_ = folder / ("events.out.tfevents." + std::to_string(seconds) + "." + host_name() + "." +
                    std::to_string(::getpid()) + "." + std::to_string(opened++));
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) throw std::runtime_error(path_.string() + ": cannot create: " + std::strerror(errno));
  write_record(event_at(0).bytes(kFileVersion, "brain.Event:2").str());
  if (resume_step) {
    ProtoWriter start;
    start.varint(kSessionStatus, kSessionStart);
    write_record(event_at(*resume_step + 1).message(kSessionLog, start).str());
  }
}

TensorBoardLog::~TensorBoardLog() {
  if (fd_ >= 0) ::close(fd_);
}

void TensorBoardLog::add_scalar(const std::string& tag, int64_t step, double value) {
  ProtoWriter entry;
  entry.bytes(kTag, tag).float32(kSimpleValue, static_cast<float>(value));
  write_record(event_at(step).message(kSummary, summary_of(entry)).str());
}

void TensorBoardLog::add_text(const std::string& tag, int64_t step, const std::string& text) {
  ProtoWriter plugin, metadata, dim, shape, tensor, entry;
  plugin.bytes(kPluginName, "text");
  metadata.message(kPluginData, plugin);
  dim.varint(kDimSize, 1);
  shape.message(kShapeDim, dim);
  tensor.varint(kTensorDtype, kDtString).message(kTensorShape, shape).bytes(kTensorStringVal, text);
  entry.bytes(kTag, tag).message(kMetadata, metadata).message(kTensor, tensor);
  write_record(event_at(step).message(kSummary, summary_of(entry)).str());
}

void TensorBoardLog::write_record(const std::string& event) {
  // One write per record, so a crash can tear at most the last record (readers stop there).
  std::string record;
  record.reserve(event.size() + 16);
  put_le(record, event.size(), 8);
  put_le(record, tensorboard_masked_crc(record.data(), 8), 4);
  record += event;
  put_le(record, tensorboard_masked_crc(event.data(), event.size()), 4);
  const char* p = record.data();
  size_t left = record.size();
  while (left > 0) {
    const ssize_t n = ::write(fd_, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw std::runtime_error(path_.string() + ": write failed: " + std::strerror(errno));
    p += n;
    left -= static_cast<size_t>(n);
  }
}

}  // namespace tapelm
