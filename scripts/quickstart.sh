#!/usr/bin/env bash
# The main job on a fresh machine: install dependencies, build, fetch Moby-Dick, pretrain the
# default GPT on it, then write a sample from the final checkpoint.
# Extra arguments go to `tapelm pretrain` (e.g. --set train.max_steps=200).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
bash scripts/fetch_data.sh moby-dick
config=configs/pretrain/mobydick.yaml
out_dir=runs/mobydick
if [ -d "$out_dir/checkpoints" ]; then
  # A previous run exists: continue it (a finished run just writes its sample again).
  build/tapelm pretrain "$config" --resume "$@"
else
  build/tapelm pretrain "$config" "$@"
fi
build/tapelm generate --checkpoint "$out_dir" --prompt "Call me Ishmael." --max-new-tokens 200 --seed 1
