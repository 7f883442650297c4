// Durable file-system helpers for checkpoint directories: fsync of files and directories
// (atomic replacement of single files is data/atomic_file.h). Failures throw
// std::runtime_error naming the path and the system error.
#pragma once

#include <filesystem>
#include <string>

namespace tapelm {

void fsync_file(const std::filesystem::path& path);
void fsync_directory(const std::filesystem::path& path);

// Writes `bytes` to `path` (replacing it) and fsyncs the file. Not atomic on its own.
void write_file_durably(const std::filesystem::path& path, const std::string& bytes);

}  // namespace tapelm
