#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each for
# SECONDS (default 60), starting from the seed corpus in tests/fuzz/corpus.
# Usage: tools/fuzz.sh [SECONDS] [TARGET...]   targets: idx mat result suite
# A finding is written as crash-*/leak-*/timeout-* in build-fuzz/findings/
# and makes this script exit non-zero.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
secs="${1:-60}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(idx mat result suite)
if ! command -v clang >/dev/null; then
  echo "fuzz: clang is not installed (apt-get install clang); skipping the fuzz targets" >&2
  exit 0
fi
CC=clang cmake -S . -B build-fuzz -DOB_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-fuzz -j"$(nproc)" $(printf -- '--target fuzz_%s ' "${targets[@]}") >/dev/null
mkdir -p build-fuzz/findings
status=0
for t in "${targets[@]}"; do
  mkdir -p "build-fuzz/corpus/$t"
  echo "fuzz: $t for ${secs}s"
  if ! ASAN_OPTIONS=detect_leaks=1 build-fuzz/tests/fuzz/fuzz_$t -max_total_time="$secs" \
      -max_len=65536 -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix=build-fuzz/findings/$t- \
      "build-fuzz/corpus/$t" "tests/fuzz/corpus/$t" >"build-fuzz/fuzz-$t.log" 2>&1; then
    echo "fuzz: $t FOUND A PROBLEM; see build-fuzz/fuzz-$t.log and build-fuzz/findings/" >&2
    tail -30 "build-fuzz/fuzz-$t.log" >&2
    status=1
  else
    grep -E "stat::number_of_executed_units|cov:" "build-fuzz/fuzz-$t.log" | tail -2
  fi
done
exit $status
