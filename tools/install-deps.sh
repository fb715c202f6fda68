#!/usr/bin/env bash
# Installs the Debian packages optbench needs (tools/debian-packages.txt),
# skipping the work when they are all present. Uses sudo when not root.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# Each line: a Debian package, optionally followed by a command that, when
# already on PATH (installed another way), satisfies the line.
mapfile -t lines < <(grep -v '^\s*#' "$here/debian-packages.txt" | grep -v '^\s*$')

missing=()
pkgs=()
for line in "${lines[@]}"; do
  read -r p cmd _ <<<"$line"
  pkgs+=("$p")
  if [ -n "${cmd:-}" ] && command -v "$cmd" >/dev/null 2>&1; then continue; fi
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "optbench: all ${#pkgs[@]} Debian packages present"
  exit 0
fi

if ! command -v apt-get >/dev/null; then
  echo "optbench: missing packages: ${missing[*]}; this installer needs apt-get (Debian/Ubuntu)." >&2
  exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then sudo="sudo"; else
    echo "optbench: missing packages: ${missing[*]}; run this as root or install sudo." >&2
    exit 1
  fi
fi
echo "optbench: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
