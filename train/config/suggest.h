// "Did you mean ...?" suggestions: the closest candidate to a misspelled name by edit distance.
#pragma once

#include <string>
#include <vector>

namespace tapelm {

// The candidate closest to `word`, or "" when none is close enough to be a plausible typo
// (distance at most max(2, |word|/3)). Ties go to the earliest candidate.
std::string closest_match(const std::string& word, const std::vector<std::string>& candidates);

// " (did you mean 'x'?)" when there is a close match, else " (expected one of: a, b, c)".
std::string suggestion_suffix(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace tapelm
