// Checkpoint directories: atomic writes with a checksummed manifest, verification, discovery
// of the newest valid checkpoint, and pruning.
#include <tapelm/train/checkpoint/checkpoint.h>

#include <fcntl.h>  // AT_FDCWD, RENAME_EXCHANGE
#include <stdio.h>  // renameat2

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>
#include <vector>

#include <tapelm/data/atomic_file.h>
#include <tapelm/data/crash_point.h>
#include <tapelm/train/checkpoint/crc32c.h>
#include <tapelm/train/checkpoint/fs_util.h>

namespace tapelm {
namespace fs = std::filesystem;

namespace {

constexpr const char* kManifestName = "manifest.json";
constexpr const char* kManifestFormat = "tapelm-checkpoint";
constexpr int kManifestVersion = 1;
constexpr const char* kStepPrefix = "step_";

std::string hex32(uint32_t value) {
  char buffer[9];
  std::snprintf(buffer, sizeof buffer, "%08x", value);
  return buffer;
}

// A name that stays inside the checkpoint directory.
bool is_plain_file_name(const std::string& name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos &&
         name.find('\0') == std::string::npos;
}

ManifestEntry hash_file(const fs::path& path, const std::string& name) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) throw CheckpointError(path.string() + ": cannot open: " + std::strerror(errno));
  ManifestEntry entry;
  entry.name = name;
  std::vector<unsigned char> buffer(1 << 20);
  size_t got = 0;
  while ((got = std::fread(buffer.data(), 1, buffer.size(), file)) > 0) {
    entry.crc32c = crc32c_update(entry.crc32c, buffer.data(), got);
    entry.size += got;
  }
  const bool failed = std::ferror(file) != 0;
  std::fclose(file);
  if (failed) throw CheckpointError(path.string() + ": read error");
  return entry;
}

std::string manifest_json(int64_t step, const std::vector<ManifestEntry>& entries) {
  nlohmann::ordered_json files = nlohmann::ordered_json::array();
  for (const ManifestEntry& e : entries) {
    files.push_back({{"name", e.name}, {"size", e.size}, {"crc32c", hex32(e.crc32c)}});
  }
  const nlohmann::ordered_json manifest = {{"format", kManifestFormat},
                                           {"version", kManifestVersion},
                                           {"step", step},
                                           {"checksum", "crc32c"},
                                           {"files", files}};
  return manifest.dump(2) + "\n";
}

Checkpoint parse_manifest(const fs::path& dir, const fs::path& manifest_path) {
  const std::string where = manifest_path.string();
  Checkpoint checkpoint;
  checkpoint.dir = dir;
  try {
    const nlohmann::json manifest = nlohmann::json::parse(read_file(manifest_path));
    if (manifest.value("format", "") != kManifestFormat || manifest.value("version", 0) != kManifestVersion) {
      throw CheckpointError(where + ": not a version " + std::to_string(kManifestVersion) + " " +
                            kManifestFormat + " manifest");
    }
    checkpoint.step = manifest.at("step").get<int64_t>();
    for (const nlohmann::json& item : manifest.at("files")) {
      ManifestEntry entry;
      entry.name = item.at("name").get<std::string>();
      entry.size = item.at("size").get<uint64_t>();
      const std::string crc = item.at("crc32c").get<std::string>();
      size_t used = 0;
      entry.crc32c = static_cast<uint32_t>(std::stoul(crc, &used, 16));
      if (used != crc.size() || crc.size() != 8) throw CheckpointError(where + ": malformed crc32c '" + crc + "'");
      if (!is_plain_file_name(entry.name) || entry.name == kManifestName) {
        throw CheckpointError(where + ": invalid file name '" + entry.name + "'");
      }
      checkpoint.files.push_back(entry);
    }
  } catch (const nlohmann::json::exception& e) {
    throw CheckpointError(where + ": unreadable manifest (" + e.what() + ")");
  } catch (const std::logic_error& e) {  // std::stoul on a non-hex string
    throw CheckpointError(where + ": unreadable manifest (" + e.what() + ")");
  } catch (const CheckpointError&) {
    throw;
  } catch (const std::runtime_error& e) {
    throw CheckpointError(e.what());
  }
  return checkpoint;
}

// Deletes a folder that already has a temporary's name, so a kill midway leaves a temporary
// (removed at the next start) rather than a checkpoint with files missing.
void delete_renamed_folder(const fs::path& doomed) {
  std::vector<fs::path> entries;
  for (const fs::directory_entry& entry : fs::directory_iterator(doomed)) entries.push_back(entry.path());
  for (const fs::path& entry : entries) {
    fs::remove_all(entry);
    crash_point("checkpoint.deleting");
  }
  fs::remove(doomed);
}

}  // namespace

CheckpointFile CheckpointFile::from_bytes(std::string name, std::string bytes) {
  return CheckpointFile{std::move(name), [bytes = std::move(bytes)](const fs::path& path) {
                          write_file_durably(path, bytes);
                        }};
}

CheckpointFile CheckpointFile::copy_of(std::string name, fs::path source) {
  return CheckpointFile{std::move(name), [source = std::move(source)](const fs::path& path) {
                          fs::copy_file(source, path, fs::copy_options::overwrite_existing);
                        }};
}

bool Checkpoint::has(const std::string& name) const {
  return std::any_of(files.begin(), files.end(), [&](const ManifestEntry& e) { return e.name == name; });
}

fs::path Checkpoint::file(const std::string& name) const {
  if (!has(name)) throw CheckpointError((dir / name).string() + ": not in this checkpoint's manifest");
  return dir / name;
}

std::string checkpoint_dir_name(int64_t step) {
  if (step < 0 || step > kMaxCheckpointStep) {
    throw std::invalid_argument("checkpoint step must be in [0, " + std::to_string(kMaxCheckpointStep) +
                                "], got " + std::to_string(step));
  }
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%s%08lld", kStepPrefix, static_cast<long long>(step));
  return buffer;
}

std::optional<int64_t> parse_checkpoint_dir_name(const std::string& name) {
  const std::string prefix = kStepPrefix;
  if (name.size() != prefix.size() + 8 || name.rfind(prefix, 0) != 0) return std::nullopt;
  const std::string digits = name.substr(prefix.size());
  if (digits.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  return std::stoll(digits);
}

fs::path checkpoints_dir(const fs::path& out_dir) { return out_dir / "checkpoints"; }

Checkpoint write_checkpoint(const fs::path& out_dir, int64_t step, const std::vector<CheckpointFile>& files) {
  const std::string name = checkpoint_dir_name(step);
  std::set<std::string> seen;
  for (const CheckpointFile& f : files) {
    if (!is_plain_file_name(f.name) || f.name == kManifestName) {
      throw std::invalid_argument("write_checkpoint: invalid file name '" + f.name +
                                  "' (a plain name other than manifest.json expected)");
    }
    if (!seen.insert(f.name).second) throw std::invalid_argument("write_checkpoint: file '" + f.name + "' given twice");
    if (!f.write) throw std::invalid_argument("write_checkpoint: file '" + f.name + "' has no writer");
  }

  const fs::path root = checkpoints_dir(out_dir);
  if (fs::create_directories(root)) fsync_directory(root.parent_path());
  const fs::path target = root / name;
  const fs::path temp = temp_path_for(target.string());
  fs::create_directory(temp);
  Checkpoint checkpoint{target, step, {}};
  try {
    for (const CheckpointFile& f : files) {
      const fs::path path = temp / f.name;
      f.write(path);
      if (!fs::is_regular_file(path)) {
        throw std::runtime_error("write_checkpoint: the writer for '" + f.name + "' did not create " + path.string());
      }
      checkpoint.files.push_back(hash_file(path, f.name));
      fsync_file(path);
    }
    write_file_durably(temp / kManifestName, manifest_json(step, checkpoint.files));
    fsync_directory(temp);
    crash_point("checkpoint.renaming");
    if (fs::exists(target)) {
      // rename() cannot replace a non-empty directory. Swapping the two in one step means a
      // kill at any moment leaves step_N whole, the old one or the new one; the old one then
      // sits under the temporary name and is deleted from there.
      if (::renameat2(AT_FDCWD, temp.c_str(), AT_FDCWD, target.c_str(), RENAME_EXCHANGE) != 0) {
        throw std::runtime_error("cannot replace checkpoint " + target.string() + ": " + std::strerror(errno));
      }
      fsync_directory(root);
      crash_point("checkpoint.replacing");
      delete_renamed_folder(temp);
    } else {
      fs::rename(temp, target);
    }
    fsync_directory(root);
  } catch (...) {
    std::error_code ignored;
    fs::remove_all(temp, ignored);
    throw;
  }
  write_file_atomic(root / "latest", name + "\n");
  return checkpoint;
}

Checkpoint verify_checkpoint(const fs::path& dir) {
  if (!fs::is_directory(dir)) throw CheckpointError(dir.string() + ": checkpoint directory not found");
  const fs::path manifest_path = dir / kManifestName;
  if (!fs::exists(manifest_path)) {
    throw CheckpointError(manifest_path.string() + ": missing (incomplete checkpoint, or not a checkpoint directory)");
  }
  Checkpoint checkpoint = parse_manifest(dir, manifest_path);
  const std::optional<int64_t> named_step = parse_checkpoint_dir_name(dir.filename().string());
  if (named_step && *named_step != checkpoint.step) {
    throw CheckpointError(manifest_path.string() + ": says step " + std::to_string(checkpoint.step) +
                          " but the directory is " + dir.filename().string());
  }
  for (const ManifestEntry& expected : checkpoint.files) {
    const fs::path path = dir / expected.name;
    std::error_code ec;
    const uintmax_t size = fs::file_size(path, ec);
    if (ec) throw CheckpointError(path.string() + ": missing (listed in " + kManifestName + ")");
    if (size != expected.size) {
      throw CheckpointError(path.string() + ": size is " + std::to_string(size) + " bytes, " + kManifestName +
                            " says " + std::to_string(expected.size) +
                            (size < expected.size ? " (file truncated?)" : " (file modified?)"));
    }
    if (hash_file(path, expected.name).crc32c != expected.crc32c) {
      throw CheckpointError(path.string() + ": checksum mismatch (file corrupted?)");
    }
  }
  return checkpoint;
}

std::vector<CheckpointDir> list_checkpoint_dirs(const fs::path& out_dir) {
  std::vector<CheckpointDir> dirs;
  const fs::path root = checkpoints_dir(out_dir);
  std::error_code ec;
  if (!fs::is_directory(root, ec)) return dirs;
  for (const fs::directory_entry& entry : fs::directory_iterator(root)) {
    const std::optional<int64_t> step = parse_checkpoint_dir_name(entry.path().filename().string());
    if (step && entry.is_directory()) dirs.push_back({*step, entry.path()});
  }
  std::sort(dirs.begin(), dirs.end(), [](const CheckpointDir& a, const CheckpointDir& b) { return a.step < b.step; });
  return dirs;
}

std::optional<std::string> read_latest_pointer(const fs::path& out_dir) {
  const fs::path pointer = checkpoints_dir(out_dir) / "latest";
  if (!fs::exists(pointer)) return std::nullopt;
  std::string name = read_file(pointer);
  while (!name.empty() && (name.back() == '\n' || name.back() == '\r' || name.back() == ' ')) name.pop_back();
  return name;
}

LatestCheckpoint find_latest_valid(const fs::path& out_dir) {
  // Highest step first rather than trusting `latest`: a crash between renaming a checkpoint
  // into place and updating the pointer leaves the pointer one checkpoint behind.
  LatestCheckpoint result;
  const std::vector<CheckpointDir> dirs = list_checkpoint_dirs(out_dir);
  for (auto it = dirs.rbegin(); it != dirs.rend(); ++it) {
    try {
      result.checkpoint = verify_checkpoint(it->dir);
      return result;
    } catch (const CheckpointError& e) {
      result.skipped.push_back(std::string(e.what()) + "; skipped " + it->dir.filename().string());
    }
  }
  return result;
}

Checkpoint locate_checkpoint(const fs::path& given, std::vector<std::string>* skipped) {
  fs::path path = given;
  if (!path.has_filename()) path = path.parent_path();  // "run/checkpoints/step_00000200/"
  if (!fs::exists(path)) throw CheckpointError(path.string() + ": no such checkpoint or run directory");
  if (fs::exists(path / kManifestName) || parse_checkpoint_dir_name(path.filename().string())) {
    return verify_checkpoint(path);
  }
  const fs::path out_dir = path.filename() == "checkpoints" ? path.parent_path() : path;
  if (!fs::is_directory(checkpoints_dir(out_dir))) {
    throw CheckpointError(path.string() +
                          ": not a checkpoint directory (no manifest.json) nor a run directory (no checkpoints/)");
  }
  LatestCheckpoint latest = find_latest_valid(out_dir);
  if (skipped != nullptr) skipped->insert(skipped->end(), latest.skipped.begin(), latest.skipped.end());
  if (!latest.checkpoint) {
    std::string reasons;
    for (const std::string& reason : latest.skipped) reasons += "; " + reason;
    throw CheckpointError(checkpoints_dir(out_dir).string() + ": no valid checkpoint" +
                          (reasons.empty() ? std::string(" (none written yet)") : reasons));
  }
  return *latest.checkpoint;
}

std::vector<std::string> prune_checkpoints(const fs::path& out_dir, int64_t keep_last, int64_t keep_step) {
  if (keep_last < 0) throw std::invalid_argument("prune_checkpoints: keep_last must be >= 0, got " + std::to_string(keep_last));
  std::vector<std::string> removed;
  const fs::path root = checkpoints_dir(out_dir);
  std::error_code ec;
  if (!fs::is_directory(root, ec)) return removed;

  const std::vector<CheckpointDir> dirs = list_checkpoint_dirs(out_dir);
  const std::optional<std::string> pointer = read_latest_pointer(out_dir);
  if (keep_last > 0 && dirs.size() > static_cast<size_t>(keep_last)) {
    const size_t excess = dirs.size() - static_cast<size_t>(keep_last);
    for (size_t i = 0; i < excess; ++i) {
      const std::string name = dirs[i].dir.filename().string();
      if (dirs[i].step == keep_step || (pointer && *pointer == name)) continue;
      remove_checkpoint_dir(dirs[i].dir);
      removed.push_back(name);
    }
  }
  for (std::string& name : remove_temporaries(root.string(), StaleTemporaries::kOwnerGone)) {
    removed.push_back(std::move(name));
  }
  return removed;
}

void remove_checkpoint_dir(const fs::path& dir) {
  const fs::path doomed = temp_path_for(dir.string());
  fs::rename(dir, doomed);
  fsync_directory(doomed.parent_path());
  crash_point("checkpoint.deleting");
  delete_renamed_folder(doomed);
}

}  // namespace tapelm
