// TensorBoard event files beside metrics.jsonl (logging.tensorboard: true): scalars and text
// in TensorBoard's record format. Each record is
//   uint64 length, uint32 masked CRC-32C of the length, the Event protobuf, uint32 masked
//   CRC-32C of the protobuf
// (little-endian; masked = rotate right by 15, plus 0xa282ead8). Every process that writes
// opens a file of its own, events.out.tfevents.<unix time>.<host>.<pid>.<n>, as TensorBoard
// expects; a resumed run starts with a session-start record at its first new step, so
// TensorBoard drops what an abandoned run logged past the checkpoint.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace tapelm {

class TensorBoardLog {
 public:
  // Creates a new event file in `folder`. `resume_step`: the checkpoint a resumed run
  // continues from (nullopt for a new run). Throws std::runtime_error naming the file.
  TensorBoardLog(const std::filesystem::path& folder, std::optional<int64_t> resume_step);
  ~TensorBoardLog();
  TensorBoardLog(const TensorBoardLog&) = delete;
  TensorBoardLog& operator=(const TensorBoardLog&) = delete;

  void add_scalar(const std::string& tag, int64_t step, double value);
  void add_text(const std::string& tag, int64_t step, const std::string& text);

  const std::filesystem::path& path() const { return path_; }

 private:
  void write_record(const std::string& event);

  std::filesystem::path path_;
  int fd_ = -1;
};

// The masked CRC-32C that guards each part of a record.
uint32_t tensorboard_masked_crc(const void* data, size_t size);

}  // namespace tapelm
