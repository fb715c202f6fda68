#!/usr/bin/env bash
# Refreshes results/baselines/ on purpose: rerun every regression suite and
# store it without timings, so `git diff results/baselines` shows exactly
# which numbers changed. Review that diff before committing it.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$root/build}"
out="$(mktemp -d "${TMPDIR:-/tmp}/optbench-refresh-XXXXXX")"
trap 'rm -rf "$out"' EXIT
. "$root/tools/lib/regression-env.sh"
for suite in "$root"/suites/regression*.lua; do
  name="$(basename "$suite" .lua)"
  "$build/optbench" run "$suite" --out "$out/$name" --threads 1 --quiet >/dev/null
  rm -rf "$root/results/baselines/$name"
  "$build/optbench" baseline "$out/$name" "$root/results/baselines/$name"
  echo "refreshed results/baselines/$name"
done
echo "review with: git diff --stat results/baselines"
