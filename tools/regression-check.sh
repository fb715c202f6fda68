#!/usr/bin/env bash
# Reruns the regression suite and compares it with the committed baselines.
# Usage: tools/regression-check.sh [BUILD_DIR] [compare options...]
# Runs with one BLAS thread, the setting the baselines were made with.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$root/build}"
shift || true
out="$(mktemp -d "${TMPDIR:-/tmp}/optbench-regression-XXXXXX")"
trap 'rm -rf "$out"' EXIT
export OPENBLAS_NUM_THREADS=1
"$build/optbench" run "$root/suites/regression.lua" --out "$out/run" --threads 1 --quiet >/dev/null
# rtol 1e-5: the same binary on another CPU may pick other BLAS kernels,
# whose float32 sums differ in the last bits; see docs/REGRESSION.md.
"$build/optbench" compare "$root/results/baselines/regression" "$out/run" --rtol 1e-5 "$@"
