// Helpers for the data tests: a self-deleting temporary folder, file writing, and a small
// generated English-like corpus (tests never touch downloaded data).
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <gtest/gtest.h>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <vector>

#include <tapelm/autograd/rng.h>

namespace tapelm::testing {

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "tapelm-data-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline void write_text(const std::string& path, const std::string& content) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream out(path, std::ios::binary);
  out << content;
  if (!out) throw std::runtime_error("cannot write test file " + path);
}

// `lines` lines of random words from a fixed list; the same seed gives the same text.
inline std::string generated_text(uint64_t seed, int lines) {
  static const std::vector<std::string> kWords = {
      "the", "whale", "sea", "ship", "captain", "white", "harpoon", "sailed", "over", "under", "a",
      "storm", "and", "of", "deep", "crew", "called", "me", "years", "ago", "never", "mind", "how",
      "long", "water", "world", "little", "money", "shore", "Ishmael", "Ahab", "Queequeg", "ocean"};
  Rng rng(seed);
  std::string text;
  for (int line = 0; line < lines; ++line) {
    const int words = 4 + static_cast<int>(rng.below(9));
    for (int w = 0; w < words; ++w) {
      if (w > 0) text += ' ';
      text += kWords[rng.below(kWords.size())];
    }
    text += line % 5 == 4 ? ".\n\n" : ".\n";
  }
  return text;
}

// Expects `call` to throw E whose message contains every one of `parts`.
template <typename E>
void expect_error(const std::function<void()>& call, std::initializer_list<std::string> parts) {
  try {
    call();
    ADD_FAILURE() << "expected an exception";
  } catch (const E& e) {
    const std::string message = e.what();
    for (const std::string& part : parts) {
      EXPECT_NE(message.find(part), std::string::npos) << "message lacks '" << part << "': " << message;
    }
  }
}

}  // namespace tapelm::testing
