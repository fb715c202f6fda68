#!/usr/bin/env bash
# Builds and runs every test: the release build, then the AddressSanitizer +
# UndefinedBehaviorSanitizer build (each under ctest, the Slurm integration
# test included), then each fuzz target briefly. Exits non-zero on any
# failure; the last line sums up the ctest runs.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
tools/install-deps.sh
jobs="$(nproc)"
log="$(mktemp "${TMPDIR:-/tmp}/optbench-tests-XXXXXX")"
trap 'rm -f "$log"' EXIT

echo "== release build and tests"
tools/build.sh build
(cd build && ctest --output-on-failure -j"$jobs") | tee -a "$log"

echo "== AddressSanitizer + UndefinedBehaviorSanitizer build and tests"
tools/build.sh build-asan -DOB_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
   ctest --output-on-failure -j"$jobs") | tee -a "$log"

echo "== fuzz targets, briefly (tools/fuzz.sh; longer runs: tools/fuzz.sh 600)"
tools/fuzz.sh 15

passed=$(grep -oE 'tests passed, 0 tests failed out of [0-9]+' "$log" | awk '{ s += $NF } END { print s + 0 }')
echo "tests: ${passed} passed, 0 failed"
