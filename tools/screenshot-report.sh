#!/usr/bin/env bash
# Renders a run directory's report.html to a PNG with headless Chromium
# (Debian's chromium package, installed when missing), the way a reader
# sees it: tables and inline plots, no network.
#
#   tools/screenshot-report.sh RESULTS_DIR [OUT.png] [WIDTH] [HEIGHT]
#
# Default output: RESULTS_DIR/report.png, 1200 x 2000 pixels.
set -euo pipefail
dir="${1:?usage: tools/screenshot-report.sh RESULTS_DIR [OUT.png] [WIDTH] [HEIGHT]}"
out="${2:-$dir/report.png}"
width="${3:-1200}"
height="${4:-2000}"
html="$dir/report.html"
[ -f "$html" ] || { echo "screenshot-report: $html not found (run \`optbench report $dir\` first)" >&2; exit 1; }

browser="$(command -v chromium || command -v chromium-browser || true)"
if [ -z "$browser" ]; then
    echo "screenshot-report: installing Debian's chromium" >&2
    sudo_cmd=""
    [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
    $sudo_cmd apt-get install -y chromium >/dev/null
    browser="$(command -v chromium)"
fi

profile="$(mktemp -d "${TMPDIR:-/tmp}/optbench-chromium-XXXXXX")"
trap 'rm -rf "$profile"' EXIT
abs_html="$(cd "$(dirname "$html")" && pwd)/$(basename "$html")"
abs_out="$(cd "$(dirname "$out")" && pwd)/$(basename "$out")"
# --no-sandbox: Chromium refuses to start as root without it. The
# background-networking flags keep it from reaching out: the page is local.
"$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --hide-scrollbars --user-data-dir="$profile" \
    --window-size="$width,$height" --screenshot="$abs_out" "file://$abs_html" >/dev/null 2>&1
[ -s "$abs_out" ] || { echo "screenshot-report: chromium wrote no image" >&2; exit 1; }
echo "screenshot-report: wrote $out"
