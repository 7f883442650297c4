#!/usr/bin/env bash
# Installs dependencies, builds, runs the whole test suite with ctest, then builds and runs the
# examples against the installed package (scripts/test_examples.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --with-mpi  # the MPI tests run 2 ranks on this machine
bash scripts/build.sh
ctest --test-dir build --output-on-failure -j "$(nproc)"
bash scripts/test_examples.sh
