// Checkpoint directories, independent of what is inside them:
//   <out_dir>/checkpoints/step_<8-digit step>/   files written by callbacks + manifest.json
//   <out_dir>/checkpoints/latest                 name of the most recently written checkpoint
// A checkpoint is written into a temporary folder beside its final place (temp_path_for in
// data/atomic_file.h), every file and the folder fsync'd, then renamed into place; one is
// deleted by renaming it to a temporary name first. So a crash never leaves a half-written or
// half-deleted `step_*` directory, only temporaries that the next run removes. manifest.json records each file's size and CRC-32C (train/checkpoint/crc32c.h);
// loading verifies them, so a truncated or corrupted checkpoint is refused naming the file.
#pragma once

#include <cstdint>
#include <exception>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <tapelm/train/config/errors.h>

namespace tapelm {

// A checkpoint that is missing, incomplete or corrupted (bad input → exit code 2). Failures
// to write one are std::runtime_error.
class CheckpointError : public InputError {
 public:
  using InputError::InputError;
};

// One file to put in a checkpoint: `write` must create the file at the path it is given.
struct CheckpointFile {
  std::string name;  // a plain file name, e.g. "weights.safetensors"
  std::function<void(const std::filesystem::path& path)> write;

  static CheckpointFile from_bytes(std::string name, std::string bytes);
  static CheckpointFile copy_of(std::string name, std::filesystem::path source);
};

struct ManifestEntry {
  std::string name;
  uint64_t size = 0;
  uint32_t crc32c = 0;
};

// A checkpoint whose files all matched its manifest.
struct Checkpoint {
  std::filesystem::path dir;
  int64_t step = 0;
  std::vector<ManifestEntry> files;

  bool has(const std::string& name) const;
  // The path of a file listed in the manifest; throws CheckpointError if it is not listed.
  std::filesystem::path file(const std::string& name) const;
};

// Runs `load` (which reads the checkpoint file `path`), turning any failure into a
// CheckpointError that names the file.
template <class Load>
auto load_from(const std::filesystem::path& path, Load load) -> decltype(load()) {
  try {
    return load();
  } catch (const CheckpointError&) {
    throw;
  } catch (const std::exception& e) {
    const std::string message = e.what();
    throw CheckpointError(message.find(path.string()) != std::string::npos ? message : path.string() + ": " + message);
  }
}

inline constexpr int64_t kMaxCheckpointStep = 99'999'999;  // what 8 digits can name

std::string checkpoint_dir_name(int64_t step);  // "step_00000200"
// The step a directory name denotes ("step_00000200" → 200), or nullopt for other names.
std::optional<int64_t> parse_checkpoint_dir_name(const std::string& name);
std::filesystem::path checkpoints_dir(const std::filesystem::path& out_dir);  // <out_dir>/checkpoints

// Writes the files atomically as <out_dir>/checkpoints/step_<step>/ (replacing an existing
// checkpoint of that step), then points `latest` at it. Throws std::invalid_argument for bad
// file names or steps, std::runtime_error if writing fails (the temp dir is removed).
Checkpoint write_checkpoint(const std::filesystem::path& out_dir, int64_t step,
                            const std::vector<CheckpointFile>& files);

// Checks manifest.json and every file's presence, size and checksum. Throws CheckpointError
// ("<dir>/weights.safetensors: checksum mismatch (file corrupted?)").
Checkpoint verify_checkpoint(const std::filesystem::path& dir);

// Every step_* directory under <out_dir>/checkpoints (verified or not), ascending by step.
struct CheckpointDir {
  int64_t step;
  std::filesystem::path dir;
};
std::vector<CheckpointDir> list_checkpoint_dirs(const std::filesystem::path& out_dir);

// The directory name `latest` holds, or nullopt if there is no pointer.
std::optional<std::string> read_latest_pointer(const std::filesystem::path& out_dir);

struct LatestCheckpoint {
  std::optional<Checkpoint> checkpoint;  // nullopt if no checkpoint verifies
  std::vector<std::string> skipped;      // why each newer candidate was passed over
};

// The checkpoint `latest` names if it verifies, else the highest-step one that does. Each
// candidate tried and refused before it is reported in `skipped`.
LatestCheckpoint find_latest_valid(const std::filesystem::path& out_dir);

// A user-given path: a checkpoint directory (verified) or a run directory (its latest valid
// checkpoint; refusals go to `skipped` if given). Throws CheckpointError if nothing usable.
Checkpoint locate_checkpoint(const std::filesystem::path& path, std::vector<std::string>* skipped = nullptr);

// Deletes all but the `keep_last` highest-step checkpoints (0 = keep all). Never deletes
// `keep_step` or the one `latest` names; leaves non-checkpoint entries alone; removes
// temporaries left by processes that are no longer running. Returns the names it removed.
std::vector<std::string> prune_checkpoints(const std::filesystem::path& out_dir, int64_t keep_last,
                                           int64_t keep_step);

// Deletes a checkpoint directory: renamed to a temporary name (never listed as a checkpoint)
// and the rename made durable before any file goes.
void remove_checkpoint_dir(const std::filesystem::path& dir);

}  // namespace tapelm
