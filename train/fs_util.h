// Durable file-system helpers: fsync of files and directories, and atomic replacement of
// small files (write a temp file beside it, fsync, rename over). Failures throw
// std::runtime_error naming the path and the system error.
#pragma once

#include <filesystem>
#include <string>

namespace tapelm {

void fsync_file(const std::filesystem::path& path);
void fsync_directory(const std::filesystem::path& path);

// Writes `bytes` to `path` (replacing it) and fsyncs the file. Not atomic on its own.
void write_file_durably(const std::filesystem::path& path, const std::string& bytes);

// Readers see either the old content or the new, never a mix, even after a crash.
void write_file_atomically(const std::filesystem::path& path, const std::string& bytes);

// The whole file; throws std::runtime_error naming the path if it cannot be read.
std::string read_file(const std::filesystem::path& path);

}  // namespace tapelm
