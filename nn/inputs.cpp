// Model input validation.
#include <tapelm/nn/inputs.h>

#include <stdexcept>
#include <string>

#include <tapelm/autograd/errors.h>

namespace tapelm {

namespace {

void check_batch_shape(const char* who, const char* what, std::size_t size, int64_t B, int64_t T) {
  if (B <= 0 || T <= 0) {
    throw std::invalid_argument(std::string(who) + ": batch size and length must be positive, got B = " +
                                std::to_string(B) + ", T = " + std::to_string(T));
  }
  if (static_cast<int64_t>(size) != B * T) {
    throw ShapeError(std::string(who) + ": " + what + " has " + std::to_string(size) +
                     " entries, expected B·T = " + std::to_string(B) + "·" + std::to_string(T) +
                     " = " + std::to_string(B * T));
  }
}

}  // namespace

void check_token_ids(const char* who, const std::vector<int32_t>& ids, int64_t B, int64_t T, int64_t vocab_size) {
  check_batch_shape(who, "token ids", ids.size(), B, T);
  for (int64_t i = 0; i < B * T; ++i) {
    if (ids[i] < 0 || ids[i] >= vocab_size) {
      throw IndexError(std::string(who) + ": token id " + std::to_string(ids[i]) + " at batch " +
                       std::to_string(i / T) + ", position " + std::to_string(i % T) +
                       " is outside the vocabulary [0, " + std::to_string(vocab_size) + ")");
    }
  }
}

void check_padding_mask(const char* who, const std::vector<uint8_t>& mask, int64_t B, int64_t T) {
  if (mask.empty()) return;
  check_batch_shape(who, "padding mask", mask.size(), B, T);
  for (int64_t i = 0; i < B * T; ++i) {
    if (mask[i] > 1) {
      throw std::invalid_argument(std::string(who) + ": padding mask value " + std::to_string(mask[i]) +
                                  " at batch " + std::to_string(i / T) + ", position " + std::to_string(i % T) +
                                  " must be 1 (real token) or 0 (padding)");
    }
  }
}

void check_positions(const char* who, int64_t start, int64_t T, int64_t ctx_len) {
  if (start + T > ctx_len) {
    throw IndexError(std::string(who) + ": sequence of " + std::to_string(T) + " tokens at positions " +
                     std::to_string(start) + ".." + std::to_string(start + T - 1) +
                     " exceeds ctx_len = " + std::to_string(ctx_len));
  }
}

}  // namespace tapelm
