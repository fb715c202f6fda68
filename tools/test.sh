#!/usr/bin/env bash
# Builds and runs every test: the normal build, then the AddressSanitizer +
# UndefinedBehaviorSanitizer build. Exits non-zero on any failure.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
tools/install-deps.sh
jobs="$(nproc)"

echo "== release build and tests"
tools/build.sh build
(cd build && ctest --output-on-failure -j"$jobs")

echo "== AddressSanitizer + UndefinedBehaviorSanitizer build and tests"
tools/build.sh build-asan -DOB_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
   ctest --output-on-failure -j"$jobs")

echo "== fuzz targets, briefly (tools/fuzz.sh; longer runs: tools/fuzz.sh 600)"
tools/fuzz.sh 15
