#!/usr/bin/env bash
# Installs tapelm's build and run dependencies from Debian packages (skips what is present).
# Usage: scripts/setup.sh [--with-torch] [--with-mpi]
set -euo pipefail

packages=(build-essential cmake pkg-config libeigen3-dev libyaml-cpp-dev libsentencepiece-dev
          nlohmann-json3-dev libcli11-dev libprotobuf-dev protobuf-compiler libgtest-dev libbenchmark-dev
          gnuplot-nox libdnnl-dev ocl-icd-opencl-dev libopenblas-openmp-dev)
# npm fetches the data sets; a machine may already have it from another source than Debian
# (whose npm package conflicts with those), so only a missing command is installed.
command -v npm >/dev/null 2>&1 || packages+=(npm)
for arg in "$@"; do
  case "$arg" in
    # (scripts/bench.sh gives the PyTorch side an OpenBLAS of its own; see docs/performance.md)
    --with-torch) packages+=(python3-torch python3-numpy) ;;
    --with-mpi) packages+=(openmpi-bin libopenmpi-dev) ;;
    *) echo "setup.sh: unknown option '$arg' (expected --with-torch or --with-mpi)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all packages present"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "setup: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
