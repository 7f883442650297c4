#!/usr/bin/env bash
# Builds the tests with AddressSanitizer + UndefinedBehaviorSanitizer into build-asan/ and runs them.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --with-mpi
bash scripts/configure.sh -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTAPELM_SANITIZE=ON -DTAPELM_BUILD_BENCH=OFF
cmake --build build-asan -j "$(nproc)"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-asan --output-on-failure -j "$(nproc)"
