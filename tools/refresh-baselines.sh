#!/usr/bin/env bash
# Refreshes results/baselines/regression on purpose: rerun the regression
# suite and store it without timings, so `git diff results/baselines` shows
# exactly which numbers changed. Review that diff before committing it.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$root/build}"
out="$(mktemp -d "${TMPDIR:-/tmp}/optbench-refresh-XXXXXX")"
trap 'rm -rf "$out"' EXIT
export OPENBLAS_NUM_THREADS=1
"$build/optbench" run "$root/suites/regression.lua" --out "$out/run" --threads 1 --quiet >/dev/null
rm -rf "$root/results/baselines/regression"
"$build/optbench" baseline "$out/run" "$root/results/baselines/regression"
echo "refreshed results/baselines/regression; review with: git diff --stat results/baselines"
