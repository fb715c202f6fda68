#!/usr/bin/env bash
# Reruns the regression suites (suites/regression*.lua) and compares each
# with its committed baseline in results/baselines/<suite>/.
# Usage: tools/regression-check.sh [BUILD_DIR] [compare options...]
# Runs with one BLAS thread, the setting the baselines were made with.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$root/build}"
shift || true
out="$(mktemp -d "${TMPDIR:-/tmp}/optbench-regression-XXXXXX")"
trap 'rm -rf "$out"' EXIT
export OPENBLAS_NUM_THREADS=1
status=0
for suite in "$root"/suites/regression*.lua; do
  name="$(basename "$suite" .lua)"
  "$build/optbench" run "$suite" --out "$out/$name" --threads 1 --quiet >/dev/null || status=$?
  # rtol 1e-5: the same binary on another CPU may pick other BLAS kernels,
  # whose float32 sums differ in the last bits; see docs/REGRESSION.md.
  "$build/optbench" compare "$root/results/baselines/$name" "$out/$name" --rtol 1e-5 "$@" || status=$?
done
exit $status
