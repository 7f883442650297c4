// The tapelm command line: parses arguments (CLI11), dispatches to train/cli/commands.h and turns
// every error into one "tapelm: error: ..." line on stderr plus an exit code:
// 0 success, 2 bad usage / config / input, 1 anything else.
#pragma once

namespace tapelm {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitBadInput = 2;

int run_cli(int argc, const char* const* argv);

}  // namespace tapelm
