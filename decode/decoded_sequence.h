// A decoded output sequence with its score, as greedy and beam search return it.
#pragma once

#include <cstdint>
#include <vector>

namespace tapelm {

struct DecodedSequence {
  std::vector<int32_t> tokens;  // emitted tokens, without the <bos> and without the final <eos>
  double score = 0;             // sum of log-probabilities of the emitted tokens (<eos> included)
  bool finished = false;        // ended with <eos> (false: stopped at max_len)
};

}  // namespace tapelm
