#!/usr/bin/env bash
# The installed package is the public API, and examples/ proves it: installs a build folder
# (default build/) into a temporary prefix, copies examples/ out of the source tree, builds
# each example there from a fresh build folder against the prefix alone, and runs each with
# no arguments; an example exits non-zero when its result does not hold (XOR solved,
# gradcheck passes, the loss falls, the custom task beats chance). The custom task then runs
# once more with --resume, continuing its run to step 300.
set -euo pipefail
cd "$(dirname "$0")/.."
source_dir=$(pwd)
build=${1:-build}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cmake --install "$build" --prefix "$work/prefix" >/dev/null
if grep -rl "$source_dir" "$work/prefix/lib/cmake" "$work/prefix/lib/pkgconfig"; then
  echo "test_examples: the installed package refers to the source tree (files above)" >&2
  exit 1
fi
# The umbrella header includes every installed header (and so the example that includes it
# compiles each one as a consumer would).
installed=$(cd "$work/prefix/include" && find tapelm -name '*.h' ! -path tapelm/tapelm.h | sort)
umbrella=$(sed -n 's|^#include <\(tapelm/.*\)>$|\1|p' "$work/prefix/include/tapelm/tapelm.h" | sort)
if [ "$installed" != "$umbrella" ]; then
  echo "test_examples: tapelm.h and the installed headers differ (< installed, > tapelm.h):" >&2
  diff <(echo "$installed") <(echo "$umbrella") >&2 || true
  exit 1
fi

cp -r examples "$work/examples"
for dir in "$work"/examples/*/; do
  name=$(basename "$dir")
  echo "== examples/$name"
  cmake -S "$dir" -B "$work/build-$name" -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$work/build-$name" -j "$(nproc)" >/dev/null
  mkdir "$work/run-$name"
  # Each runs in seconds; its last lines say what it checked.
  (cd "$work/run-$name" && "$work/build-$name/$name" > output.txt 2>&1) || {
    cat "$work/run-$name/output.txt"
    echo "test_examples: examples/$name failed" >&2
    exit 1
  }
  tail -n 2 "$work/run-$name/output.txt"
done
# A task of one's own resumes as the commands' runs do: 150 more steps from the run's checkpoint.
(cd "$work/run-custom_task" && "$work/build-custom_task/custom_task" --resume train.max_steps=300 > resumed.txt 2>&1) || {
  cat "$work/run-custom_task/resumed.txt"
  echo "test_examples: examples/custom_task --resume failed" >&2
  exit 1
}
grep -q "step 300/300" "$work/run-custom_task/resumed.txt" || {
  cat "$work/run-custom_task/resumed.txt"
  echo "test_examples: examples/custom_task --resume did not continue to step 300" >&2
  exit 1
}
tail -n 1 "$work/run-custom_task/resumed.txt"
echo "test_examples: all examples built against the installed package and passed"
