#!/usr/bin/env bash
# The tapelm vs PyTorch training benchmark in one command: builds bench_train (Release) if
# needed, fetches Debian's OpenBLAS for PyTorch if needed, runs every row on both sides in
# separate processes (alternating tapelm / PyTorch so both see the same machine noise) and
# prints a markdown table. Rows: the GPTs tiny and small (training and generation), the
# g2p encoder-decoder and the spam classifier (training), tiny and small in bf16, and tiny
# on a loaded machine (two busy loops beside each side). Method and results:
# docs/performance.md.
#
#   scripts/bench.sh            BUILD_DIR=build-x scripts/bench.sh
#   SMOKE=1 scripts/bench.sh    every row once: 1 step, no warm-up (checks that each runs; the
#                               figures mean nothing)
# Environment: BUILD_DIR (default build), TINY_STEPS (20), SMALL_STEPS (6), G2P_STEPS (8),
# SPAM_STEPS (6), GEN_RUNS (3), SMOKE (0). Warm-up: 3 steps (tiny), 1 step (small), 2 steps
# (g2p, spam), 1 generation. Both sides run with OMP_WAIT_POLICY=PASSIVE and
# GOMP_SPINCOUNT=1000 (or the GOMP_SPINCOUNT you export): PyTorch from this script, tapelm
# because bench_train (like the tapelm binary) restarts itself with them when the policy is
# unset. Took about 4 minutes on the project's 2-core machine before the g2p, spam and loaded
# rows were added.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
build=${BUILD_DIR:-build}
[[ $build = /* ]] || build=$root/$build
if [[ ${SMOKE:-0} != 0 ]]; then
  tiny_steps=1 small_steps=1 g2p_steps=1 spam_steps=1 gen_runs=1
  tiny_warmup=0 small_warmup=0 g2p_warmup=0 spam_warmup=0 gen_warmup=0
else
  tiny_steps=${TINY_STEPS:-20} small_steps=${SMALL_STEPS:-6} g2p_steps=${G2P_STEPS:-8} spam_steps=${SPAM_STEPS:-6}
  gen_runs=${GEN_RUNS:-3}
  tiny_warmup=3 small_warmup=1 g2p_warmup=2 spam_warmup=2 gen_warmup=1
fi
py=/usr/bin/python3  # Debian's python with torch 1.13
log_dir=$build/bench-logs
mkdir -p "$log_dir"
rm -f "$log_dir"/tapelm-*.log "$log_dir"/torch-*.log  # so the summary reads this run only

# --- build -------------------------------------------------------------------------------
if [[ ! -f $build/CMakeCache.txt ]]; then
  generator=()
  command -v ninja >/dev/null && generator=(-G Ninja)
  bash scripts/configure.sh -S . -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DTAPELM_BUILD_TESTS=OFF \
    -DTAPELM_BUILD_BENCH=ON
fi
build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$build/CMakeCache.txt")
if [[ $build_type != Release ]]; then
  echo "bench.sh: $build is configured as '$build_type'; benchmarks need Release (use another BUILD_DIR)" >&2
  exit 1
fi
if ! grep -q '^TAPELM_BUILD_BENCH:BOOL=ON' "$build/CMakeCache.txt"; then
  echo "bench.sh: $build has TAPELM_BUILD_BENCH off; use another BUILD_DIR" >&2
  exit 1
fi
cmake --build "$build" --target bench_train -j 2 >"$log_dir/build.log" 2>&1 || {
  tail -30 "$log_dir/build.log" >&2
  exit 1
}
tapelm_bin=$build/bench/bench_train

# --- PyTorch's BLAS ----------------------------------------------------------------------
# Debian's torch calls the system libblas.so.3, here the single-threaded reference BLAS
# (~4 GFLOP/s). Its fastest option on this machine is Debian's OpenBLAS (OpenMP build),
# extracted into the build tree and put first on LD_LIBRARY_PATH for the PyTorch runs only
# (nothing is installed system-wide). OpenBLAS 0.3.21 does not know this CPU model and falls
# back to SSE3 kernels unless told the core type.
deps=$build/bench-deps
openblas=$deps/root/usr/lib/x86_64-linux-gnu/openblas-openmp
if [[ ! -f $openblas/libblas.so.3 ]]; then
  mkdir -p "$deps"
  (cd "$deps" && { apt-get download libopenblas0-openmp || { apt-get update && apt-get download libopenblas0-openmp; }; } \
    >"$log_dir/openblas.log" 2>&1 && dpkg-deb -x libopenblas0-openmp_*.deb root) || true
fi
spin_count=${GOMP_SPINCOUNT:-1000}
# tapelm sets the spin count only when it sets the policy (see autograd/wait_policy.h).
if [[ -n ${OMP_WAIT_POLICY+set} ]]; then tapelm_spin=${GOMP_SPINCOUNT:-unset}; else tapelm_spin=$spin_count; fi
torch_env=(OMP_WAIT_POLICY=PASSIVE GOMP_SPINCOUNT="$spin_count")
if [[ -f $openblas/libblas.so.3 ]]; then
  torch_env+=(LD_LIBRARY_PATH="$openblas" OPENBLAS_CORETYPE=SkylakeX)
  torch_blas="Debian OpenBLAS 0.3.21 (OpenMP build, OPENBLAS_CORETYPE=SkylakeX)"
else
  torch_blas="system libblas.so.3 (OpenBLAS could not be fetched: see $log_dir/openblas.log)"
fi

# --- runs --------------------------------------------------------------------------------
load() { cut -d' ' -f1 /proc/loadavg; }
field() { sed -n "s/^RESULT.* $2=\([^ ]*\).*/\1/p" "$1"; }

# The loaded-machine row's busy loops: started before each side's run, killed right after
# it, and on any exit of this script.
busy_pids=()
stop_busy() {
  local pid
  for pid in "${busy_pids[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  busy_pids=()
}
trap stop_busy EXIT
trap 'exit 130' INT TERM  # through the EXIT trap
# beside N COMMAND...: runs COMMAND with N single-process busy loops beside it.
beside() {
  local n=$1 i rc=0
  shift
  for ((i = 0; i < n; i++)); do
    sh -c 'while :; do :; done' &
    busy_pids+=($!)
  done
  "$@" || rc=$?
  stop_busy
  return "$rc"
}

rows=()  # one markdown line per comparison
# compare LABEL THREADS MODE MODEL WARMUP STEPS [PRECISION [BUSY_LOOPS]]
compare() {
  local label=$1 threads=$2 mode=$3 model=$4 warmup=$5 steps=$6 precision=${7:-fp32} busy=${8:-0}
  local args=(--model "$model" --mode "$mode" --threads "$threads" --warmup "$warmup" --steps "$steps")
  [[ $precision = fp32 ]] || args+=(--precision "$precision")
  local tag="${model}-${mode}-t${threads}"
  [[ $precision = fp32 ]] || tag+="-$precision"
  [[ $busy = 0 ]] || tag+="-loaded$busy"
  local tlog=$log_dir/tapelm-$tag.log plog=$log_dir/torch-$tag.log
  local load_before
  load_before=$(load)
  echo "[$(date +%T)] $label, $threads thread(s) (load $load_before)" >&2
  beside "$busy" "$tapelm_bin" "${args[@]}" >"$tlog"
  beside "$busy" env "${torch_env[@]}" "$py" bench/reference/torch_train.py "${args[@]}" --gen kv >"$plog"
  local unit=ms_per_step mfu mfu_best
  [[ $mode = train ]] || unit=ms_per_generation
  local tt pt
  tt=$(field "$tlog" tokens_per_s)
  pt=$(field "$plog" tokens_per_s)
  percent() { [[ -n $1 ]] && awk -v m="$1" 'BEGIN { printf "%.1f%%", 100 * m }' || echo "—"; }
  mfu=$(percent "$(field "$tlog" mfu)")
  mfu_best=$(percent "$(field "$tlog" mfu_best)")
  rows+=("| $label | $threads | $(field "$tlog" $unit) | $(field "$plog" $unit) | $tt | $pt | \
$(awk -v a="$tt" -v b="$pt" 'BEGIN { printf "%.2f", a / b }') | $(field "$tlog" peak_rss_mib) | \
$(field "$plog" peak_rss_mib) | $mfu | $mfu_best | $load_before–$(load) |")
}

start=$(date +%s)
for threads in 1 2; do
  compare tiny "$threads" train tiny "$tiny_warmup" "$tiny_steps"
  compare small "$threads" train small "$small_warmup" "$small_steps"
  compare "small, generate 200" "$threads" generate small "$gen_warmup" "$gen_runs"
  compare "g2p (encoder-decoder)" "$threads" train g2p "$g2p_warmup" "$g2p_steps"
  compare "spam (classifier)" "$threads" train spam "$spam_warmup" "$spam_steps"
done
# bf16 products on both sides (tapelm train.precision=bf16, PyTorch autocast); on a CPU without
# AVX512-BF16 tapelm warns and runs fp32, which its log and RESULT line (precision=) show.
compare "tiny, bf16" 2 train tiny "$tiny_warmup" "$tiny_steps" bf16
compare "small, bf16" 2 train small "$small_warmup" "$small_steps" bf16
# Two cores shared with two busy loops: what a 2-thread run gets on a machine others use.
compare "tiny, **loaded** (2 busy loops)" 2 train tiny "$tiny_warmup" "$tiny_steps" fp32 2

# --- report ------------------------------------------------------------------------------
echo
echo "CPU: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(nproc) cores;" \
  "$(date -u +%FT%TZ); $(($(date +%s) - start)) s of runs; logs in $log_dir"
echo "PyTorch $("$py" -c 'import torch; print(torch.__version__)'): BLAS $torch_blas, OMP_WAIT_POLICY=PASSIVE," \
  "GOMP_SPINCOUNT=$spin_count, MKLDNN on, AdamW foreach, generation with a KV cache." \
  "tapelm: OMP_WAIT_POLICY=${OMP_WAIT_POLICY-PASSIVE (its default)}, GOMP_SPINCOUNT=$tapelm_spin"
best_peak() {  # SIDE THREADS: the highest fp32 GEMM peak any fp32 training run of that side measured
  cat "$log_dir/$1"-*-train-t"$2".log | sed -n 's/^RESULT.* gemm_peak_gflops=\([^ ]*\).*/\1/p' | sort -g | tail -1
}
best_field() {  # FIELD THREADS: the highest value of a numeric field over tapelm's fp32 training runs
  cat "$log_dir"/tapelm-*-train-t"$2".log | sed -n "s/^RESULT.* $1=\([^ ]*\).*/\1/p" | sort -g | tail -1
}
gemm=$(sed -n 's/^RESULT.* gemm=\([^ ]*\).*/\1/p' "$log_dir"/tapelm-tiny-train-t1.log)
for t in 1 2; do
  echo "fp32 GEMM peak (1536³, best of 5, best over this run's processes) at $t thread(s):" \
    "tapelm ($gemm) $(best_peak tapelm $t) GFLOP/s, the best backend built in $(best_field best_gemm_peak_gflops $t)" \
    "GFLOP/s, PyTorch (OpenBLAS) $(best_peak torch $t) GFLOP/s"
done
echo
echo "| row | threads | tapelm ms/step | PyTorch ms/step | tapelm tokens/s | PyTorch tokens/s |" \
  "ratio (tapelm/PyTorch) | tapelm RSS MiB | PyTorch RSS MiB | tapelm MFU | tapelm MFU, best fp32 peak | load avg (1 min) |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
echo
echo "Generation rows: ms/step is ms per 200-token generation (batch 1, 4-token prompt, greedy, KV cache)."
echo "g2p: 128 words of 10 source + 10 target tokens (tokens/s counts both), dropout 0.1, label smoothing 0.1;" \
  "spam: 32 e-mails of 256 tokens, dropout 0.1; tiny and small: dropout 0."
echo "Loaded row: two \`sh -c 'while :; do :; done'\` processes run beside each side's run (started before it," \
  "killed after it)."
echo "MFU: training FLOPs per step (GPTs: (6·N + 12·L·T·C)·tokens; g2p and spam: docs/performance.md)" \
  "÷ step time ÷ the GEMM peak of the backend and precision in use, measured in the same process; the next" \
  "column divides by the best fp32 peak of any backend built in."
echo "bf16 rows: tapelm train.precision=bf16, PyTorch torch.autocast(cpu, bfloat16); tapelm's precision in use:" \
  "$(sed -n 's/^RESULT.* precision=\([^ ]*\).*/\1/p' "$log_dir"/tapelm-tiny-train-t2-bf16.log)"
