#!/usr/bin/env bash
# Reruns the regression suites (suites/regression*.lua) and compares each
# with its committed baseline in results/baselines/<suite>/.
# Usage: tools/regression-check.sh [BUILD_DIR] [compare options...]
# Exit status: 2 when any suite is not comparable with its baseline (as
# `optbench compare` says), else 1 when values differ or a run failed, else 0.
# Runs with the BLAS setting the baselines were made with
# (tools/lib/regression-env.sh: one thread, pinned kernels).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$root/build}"
shift || true
out="$(mktemp -d "${TMPDIR:-/tmp}/optbench-regression-XXXXXX")"
trap 'rm -rf "$out"' EXIT
. "$root/tools/lib/regression-env.sh"
# A 2 (not comparable) wins over any other failure, whichever suite came
# first; otherwise the last non-zero status is kept.
status=0
keep_status() {
  if [ "$1" -ne 0 ] && [ "$status" -ne 2 ]; then status=$1; fi
}
for suite in "$root"/suites/regression*.lua; do
  name="$(basename "$suite" .lua)"
  "$build/optbench" run "$suite" --out "$out/$name" --threads 1 --quiet >/dev/null || keep_status $?
  # rtol 1e-5, not bitwise: another compiler, OpenBLAS version or CPU
  # without the pinned kernels rounds float32 sums differently in the last
  # bits; see docs/REGRESSION.md.
  "$build/optbench" compare "$root/results/baselines/$name" "$out/$name" --rtol 1e-5 "$@" || keep_status $?
done
exit $status
