#!/usr/bin/env bash
# The main job: install what optbench needs, build it, fetch the real MNIST,
# and run the quickstart suite (SGD vs CM vs NAG on the MNIST autoencoder).
# Writes results/quickstart-short/{report.md,summary.csv,cells/}.
# Extra arguments go to `optbench run` (e.g. --budget smoke).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
tools/install-deps.sh
tools/build.sh build
tools/fetch-mnist.sh
exec ./build/optbench run suites/quickstart.lua "$@"
