#!/usr/bin/env bash
# Runs CMake's configure step quietly; when it fails, prints what CMake said, so the cause
# (a missing package, a bad option) is on screen. Arguments go to cmake.
# Usage: scripts/configure.sh -S . -B build -DCMAKE_BUILD_TYPE=Release ...
set -euo pipefail
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! cmake "$@" >"$log" 2>&1; then
  cat "$log" >&2
  echo "configure failed: cmake $*" >&2
  exit 1
fi
grep '^-- tapelm:' "$log" || true
