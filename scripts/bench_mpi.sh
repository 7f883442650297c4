#!/usr/bin/env bash
# Data-parallel scaling of `tapelm pretrain` on this machine: the same model (the Moby-Dick
# config's 4-layer GPT) and the same global batch trained by 1 process with 1 thread and by
# 2 MPI ranks with 1 thread each (micro-batch halved), alternating the two REPEATS times so
# both see the same machine noise. Prints a markdown table of training tokens/s (timed
# steps only: evaluation and checkpoints excluded; the first logging interval is warm-up)
# and the scaling efficiency = tokens/s(2 ranks) / (2 × tokens/s(1 process)), plus the CPU
# time of the whole job (user + sys of every process, setup and the final evaluation
# included): on a machine busy with other sessions the kernel's group scheduling (autogroup)
# gives each session a fixed CPU share however many processes it runs, so wall-clock
# speed-up needs an idle machine, while CPU seconds per run show the work the ranks add.
#
#   scripts/bench_mpi.sh                 BUILD_DIR=build-mpi STEPS=40 REPEATS=3 scripts/bench_mpi.sh
# Environment: BUILD_DIR (default build; must be built with MPI), STEPS (30), REPEATS (3),
# BATCH (global batch in sequences, 16), BIND (mpirun --bind-to: core, Open MPI's default
# for 2 ranks, or none to let the OS move ranks between cores on a busy machine). Needs mpirun (scripts/setup.sh --with-mpi) and the
# Moby-Dick text (fetched with scripts/fetch_data.sh if missing).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
build=${BUILD_DIR:-build}
[[ $build = /* ]] || build=$root/$build
steps=${STEPS:-30}
repeats=${REPEATS:-3}
batch=${BATCH:-16}
interval=5
tapelm=$build/tapelm

command -v mpirun >/dev/null || { echo "bench_mpi.sh: mpirun not found (scripts/setup.sh --with-mpi)" >&2; exit 1; }
[[ -x $tapelm ]] || { echo "bench_mpi.sh: $tapelm not built (cmake --build $build --target tapelm)" >&2; exit 1; }
grep -q '^TAPELM_WITH_MPI:INTERNAL=ON' "$build/CMakeCache.txt" || { echo "bench_mpi.sh: $build is built without MPI" >&2; exit 1; }
(( batch % 2 == 0 && steps > interval )) || { echo "bench_mpi.sh: BATCH must be even and STEPS > $interval" >&2; exit 1; }
[[ -f data/raw/moby-dick/.complete ]] || scripts/fetch_data.sh moby-dick >&2

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bind=${BIND:-core}
mpi_flags=(--bind-to "$bind" --mca btl self,vader)
[[ $(id -u) = 0 ]] && mpi_flags+=(--allow-run-as-root)

# run NAME RANKS: trains into $work/NAME and prints its tokens/s after warm-up and the CPU
# seconds of the job.
run() {
  local name=$1 ranks=$2
  local args=(pretrain configs/pretrain/mobydick.yaml --set "out_dir=$work/$name"
    --set "train.max_steps=$steps" --set "train.batch_size=$batch" --set "train.micro_batch_size=$((batch / ranks))"
    --set train.threads=1 --set scheduler.warmup_steps=5 --set "logging.interval=$interval"
    --set eval.max_examples=1 --set checkpoint.interval=0 --set sample.max_new_tokens=0)
  rm -rf "${work:?}/$name"
  local launch=()
  (( ranks == 1 )) || launch=(mpirun "${mpi_flags[@]}" -np "$ranks")
  # mpirun starts the local ranks as its children, so time(1) counts their CPU time too.
  OMP_NUM_THREADS=1 /usr/bin/time -f "%U %S" -o "$work/$name.time" "${launch[@]}" "$tapelm" "${args[@]}" \
    >"$work/$name.log" 2>&1 || { tail -20 "$work/$name.log" >&2; exit 1; }
  # Each train record covers `interval` steps of the same token count: the overall rate is
  # the harmonic mean of the records' rates.
  python3 - "$work/$name/metrics.jsonl" "$interval" "$work/$name.time" <<'EOF'
import json, sys
rates = [r["tokens_per_s"] for r in map(json.loads, open(sys.argv[1])) if "tokens_per_s" in r and r["step"] > int(sys.argv[2])]
user, system = map(float, open(sys.argv[3]).read().split()[-2:])
print(f"{len(rates) / sum(1 / r for r in rates):.0f} {user + system:.1f}")
EOF
}

one=() two=() cpu1=() cpu2=()
for ((i = 1; i <= repeats; ++i)); do
  read -r rate cpu < <(run one 1) && [[ -n $cpu ]] || exit 1
  one+=("$rate") cpu1+=("$cpu")
  read -r rate cpu < <(run two 2) && [[ -n $cpu ]] || exit 1
  two+=("$rate") cpu2+=("$cpu")
  echo "repeat $i: 1 process ${one[-1]} tok/s (${cpu1[-1]} CPU s), 2 ranks ${two[-1]} tok/s (${cpu2[-1]} CPU s)" >&2
done
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
m1=$(median "${one[@]}")
m2=$(median "${two[@]}")
c1=$(median "${cpu1[@]}")
c2=$(median "${cpu2[@]}")
tokens=$((batch * 128))
echo
echo "Model: configs/pretrain/mobydick.yaml (4 layers, d=128, ctx 128, vocab 4096); global batch $batch x 128 = $tokens tokens/step; $steps steps, first $interval warm-up; median of $repeats"
echo "Machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
echo
echo "| setup | micro-batch | tokens/s (runs) | median tokens/s | speed-up | efficiency | job CPU s (median) |"
echo "|---|---|---|---|---|---|---|"
echo "| 1 process x 1 thread | $batch | ${one[*]} | $m1 | 1.00 | 100% | $c1 |"
awk -v a="$m1" -v b="$m2" -v runs="${two[*]}" -v mb="$((batch / 2))" -v c="$c2" \
  'BEGIN { printf "| 2 ranks x 1 thread (bind-to '"$bind"') | %s | %s | %s | %.2f | %.0f%% | %s |\n", mb, runs, b, b / a, 100 * b / (2 * a), c }'
