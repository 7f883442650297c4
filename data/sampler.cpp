// Window sampling: argument checks, and splitting a window of context + 1 tokens into x, y.
#include <tapelm/data/sampler.h>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <utility>

namespace tapelm {
namespace {

void check_dataset(const char* who, const TokenDataset& data, int64_t context) {
  if (context < 1) throw std::invalid_argument(std::string(who) + ": context " + std::to_string(context) + " must be >= 1");
  if (data.size() < static_cast<uint64_t>(context) + 1) {
    throw std::invalid_argument(std::string(who) + ": the dataset has " + std::to_string(data.size()) +
                                " tokens, fewer than context + 1 = " + std::to_string(context + 1));
  }
}

void check_batch(const char* who, int64_t batch, int rank, int world_size) {
  if (batch < 1) throw std::invalid_argument(std::string(who) + ": batch " + std::to_string(batch) + " must be >= 1");
  if (world_size < 1 || rank < 0 || rank >= world_size) {
    throw std::invalid_argument(std::string(who) + ": rank " + std::to_string(rank) + " is not in [0, world_size " +
                                std::to_string(world_size) + ")");
  }
}

// Reads the window at `start` into `window` and writes row `row` of x and y.
void fill_row(const TokenDataset& data, uint64_t start, int64_t context, int64_t row, std::vector<int32_t>& window,
              std::vector<int32_t>& x, std::vector<int32_t>& y) {
  data.read(start, static_cast<size_t>(context) + 1, window.data());
  std::copy(window.begin(), window.end() - 1, x.begin() + row * context);
  std::copy(window.begin() + 1, window.end(), y.begin() + row * context);
}

}  // namespace

RandomSampler::RandomSampler(TokenDataset data, int64_t context, uint64_t seed)
    : data_(std::move(data)), context_(context), rng_(seed) {
  check_dataset("RandomSampler", data_, context_);
  window_.resize(static_cast<size_t>(context_) + 1);
}

void RandomSampler::next(int64_t batch, std::vector<int32_t>& x, std::vector<int32_t>& y, int rank, int world_size) {
  check_batch("RandomSampler", batch, rank, world_size);
  x.resize(static_cast<size_t>(batch * context_));
  y.resize(x.size());
  const uint64_t starts = data_.size() - static_cast<uint64_t>(context_);  // valid starts: [0, starts)
  const uint64_t first = rng_.skip(static_cast<uint64_t>(batch) * static_cast<uint64_t>(world_size));
  for (int64_t row = 0; row < batch; ++row) {
    const uint64_t start = rng_.at(first + static_cast<uint64_t>(rank * batch + row)) % starts;
    fill_row(data_, start, context_, row, window_, x, y);
  }
}

SequentialSampler::SequentialSampler(TokenDataset data, int64_t context)
    : data_(std::move(data)), context_(context), num_windows_(0) {
  check_dataset("SequentialSampler", data_, context_);
  num_windows_ = (data_.size() - 1) / static_cast<uint64_t>(context_);
  window_.resize(static_cast<size_t>(context_) + 1);
}

int64_t SequentialSampler::next(int64_t batch, std::vector<int32_t>& x, std::vector<int32_t>& y, int rank,
                                int world_size) {
  check_batch("SequentialSampler", batch, rank, world_size);
  const uint64_t first = position_ + static_cast<uint64_t>(rank) * static_cast<uint64_t>(batch);
  const uint64_t end = std::min(num_windows_, first + static_cast<uint64_t>(batch));
  const int64_t rows = first < end ? static_cast<int64_t>(end - first) : 0;
  x.resize(static_cast<size_t>(rows * context_));
  y.resize(x.size());
  for (int64_t row = 0; row < rows; ++row) {
    fill_row(data_, (first + static_cast<uint64_t>(row)) * static_cast<uint64_t>(context_), context_, row, window_, x, y);
  }
  position_ = std::min(num_windows_, position_ + static_cast<uint64_t>(batch) * static_cast<uint64_t>(world_size));
  return rows;
}

void SequentialSampler::set_position(uint64_t position) {
  if (position > num_windows_) {
    throw std::out_of_range("SequentialSampler: position " + std::to_string(position) + " is past the last window (" +
                            std::to_string(num_windows_) + " windows)");
  }
  position_ = position;
}

}  // namespace tapelm
