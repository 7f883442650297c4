// A model summary for logs: every parameter's name, shape and element count, and the total.
#pragma once

#include <cstdint>
#include <string>

#include <tapelm/nn/module.h>

namespace tapelm {

// "124.44M", "3.10K", "512": a count with a K/M/B suffix and two decimals above 1000.
std::string format_count(int64_t n);

// One line per parameter (name, shape, count), then a line with the total.
std::string model_summary(const Module& model);

}  // namespace tapelm
