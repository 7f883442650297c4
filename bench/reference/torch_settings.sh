#!/usr/bin/env bash
# Which settings make PyTorch fastest on this machine: BLAS (the system libblas.so.3, or
# Debian's OpenBLAS in its pthread and OpenMP builds, with and without forcing the
# SkylakeX kernels), OMP_WAIT_POLICY, MKLDNN, AdamW foreach, and KV cache vs recompute for
# generation. Prints one RESULT line per setting (see docs/performance.md for the outcome
# and scripts/bench.sh for the settings it chose).
#
#   bench/reference/torch_settings.sh OPENBLAS_ROOT [STEPS]
# OPENBLAS_ROOT: the directory holding openblas-pthread/ and openblas-openmp/ (scripts/bench.sh
# extracts them into build/bench-deps/root/usr/lib/x86_64-linux-gnu).
set -euo pipefail
ob=${1:?usage: torch_settings.sh OPENBLAS_ROOT [STEPS]}
steps=${2:-10}
here=$(cd "$(dirname "$0")" && pwd)
py=/usr/bin/python3

run() {  # label, environment assignments..., -- torch_train.py arguments...
  local label=$1; shift
  local envs=()
  while [[ $1 != -- ]]; do envs+=("$1"); shift; done
  shift
  printf '%-34s load %s  ' "$label" "$(cut -d' ' -f1 /proc/loadavg)"
  env "${envs[@]}" "$py" "$here/torch_train.py" "$@" | grep '^RESULT' | \
    sed -E 's/.*(threads=[0-9]+).*(ms_per_(step|generation)=[0-9.]+) (tokens_per_s=[0-9.]+).*/\1 \2 \4/'
}

for t in 1 2; do
  common=(--model tiny --threads "$t" --warmup 3 --steps "$steps")
  run "system libblas.so.3" OPENBLAS_NUM_THREADS=$t -- "${common[@]}" --steps 2 --warmup 1
  run "openblas-pthread autodetect" OPENBLAS_NUM_THREADS=$t LD_LIBRARY_PATH=$ob/openblas-pthread -- "${common[@]}"
  run "openblas-pthread SkylakeX" OPENBLAS_NUM_THREADS=$t OPENBLAS_CORETYPE=SkylakeX \
    LD_LIBRARY_PATH=$ob/openblas-pthread -- "${common[@]}"
  run "openblas-openmp SkylakeX" OPENBLAS_CORETYPE=SkylakeX LD_LIBRARY_PATH=$ob/openblas-openmp -- "${common[@]}"
  run "  + OMP_WAIT_POLICY=PASSIVE" OMP_WAIT_POLICY=PASSIVE OPENBLAS_CORETYPE=SkylakeX \
    LD_LIBRARY_PATH=$ob/openblas-openmp -- "${common[@]}"
  run "  + mkldnn off" OPENBLAS_CORETYPE=SkylakeX LD_LIBRARY_PATH=$ob/openblas-openmp -- "${common[@]}" --mkldnn 0
  run "  + AdamW foreach off" OPENBLAS_CORETYPE=SkylakeX LD_LIBRARY_PATH=$ob/openblas-openmp -- "${common[@]}" \
    --foreach 0
  gen=(--model small --mode generate --threads "$t" --warmup 1 --steps 3)
  run "generate small, KV cache" OPENBLAS_CORETYPE=SkylakeX LD_LIBRARY_PATH=$ob/openblas-openmp -- "${gen[@]}" \
    --gen kv
  run "generate small, recompute" OPENBLAS_CORETYPE=SkylakeX LD_LIBRARY_PATH=$ob/openblas-openmp -- "${gen[@]}" \
    --gen recompute
done
