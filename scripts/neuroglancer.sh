#!/usr/bin/env bash
# neuroglancer.sh: install the Neuroglancer viewer that `axon serve` serves at /neuroglancer/.
#
#   BUILD=build bash scripts/neuroglancer.sh
#
# Puts the built bundle of the npm package @janelia-flyem/neuroglancer (the version pinned in
# web/package.json; its dist/min: index.html, main.bundle.js, ...) into $BUILD/web/neuroglancer
# and the start page template web/index.html into $BUILD/web/index.html, where `axon serve`
# looks by default (web/ beside the binary). Downloads only when the bundle is missing or of
# another version, and then only that one tarball, through npm itself (`npm pack`: no
# dependencies, no install scripts), checked against the sha512 pinned below.
# npm comes from Debian's npm package: installed with apt-get when run as root, otherwise the
# exact command is printed and the script fails.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
dest=$BUILD/web
pkg=@janelia-flyem/neuroglancer
ver=$(sed -n 's|.*"@janelia-flyem/neuroglancer": *"\([^"]*\)".*|\1|p' web/package.json)
# npm's "integrity" of that tarball, as hex (npm view @janelia-flyem/neuroglancer@2.37.5 dist.integrity)
declare -A SHA512=(
  [2.37.5]=a4b2e12417285d7a50326a517f29754054c7752ea3183aa232e696d1242217cb3575a54c6bc479ab33999ccc3d69f1dea858e9fac2d16146139f19aa0a04cda0
)
[ -n "$ver" ] && [ -n "${SHA512[$ver]:-}" ] || { echo "neuroglancer: no pinned sha512 for '$ver' (web/package.json)" >&2; exit 1; }

mkdir -p "$dest"
cp web/index.html "$dest/.index.html.tmp" && mv "$dest/.index.html.tmp" "$dest/index.html"

ng=$dest/neuroglancer
if [ -f "$ng/index.html" ] && [ -f "$ng/main.bundle.js" ] && [ "$(cat "$ng/VERSION" 2>/dev/null)" = "$ver" ]; then
  exit 0
fi

if ! command -v npm >/dev/null; then
  cmd="apt-get install -y --no-install-recommends npm"
  if [ "$(id -u)" -eq 0 ]; then
    echo "neuroglancer: installing npm" >&2
    export DEBIAN_FRONTEND=noninteractive
    $cmd >/tmp/axon-npm.log 2>&1 || { apt-get update >>/tmp/axon-npm.log 2>&1 && $cmd >>/tmp/axon-npm.log 2>&1; } \
      || { echo "neuroglancer: apt-get failed, see /tmp/axon-npm.log" >&2; exit 1; }
  else
    echo "neuroglancer: npm is missing; run as root:  sudo $cmd" >&2
    exit 1
  fi
fi

tmp=$(mktemp -d "$dest/.neuroglancer-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo "neuroglancer: fetching $pkg@$ver (npm pack)" >&2
npm pack --ignore-scripts --silent --pack-destination "$tmp" "$pkg@$ver" >/dev/null
tgz=$(ls "$tmp"/*.tgz)
got=$(sha512sum "$tgz" | cut -d' ' -f1)
if [ "$got" != "${SHA512[$ver]}" ]; then
  echo "neuroglancer: $tgz: sha512 $got, expected ${SHA512[$ver]}" >&2
  exit 1
fi
tar -xzf "$tgz" -C "$tmp" package/dist/min package/LICENSE
[ -f "$tmp/package/dist/min/index.html" ] && [ -f "$tmp/package/dist/min/main.bundle.js" ] \
  || { echo "neuroglancer: $pkg@$ver has no dist/min bundle" >&2; exit 1; }
mv "$tmp/package/dist/min" "$tmp/neuroglancer"
cp "$tmp/package/LICENSE" "$tmp/neuroglancer/LICENSE"
echo "$ver" >"$tmp/neuroglancer/VERSION"
rm -rf "$ng"
mv "$tmp/neuroglancer" "$ng"
echo "neuroglancer: $pkg@$ver in $ng" >&2
