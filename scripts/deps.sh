#!/usr/bin/env bash
# deps.sh: make sure the Debian packages axon needs are installed.
# As root it apt-gets what is missing; otherwise it prints the exact command and fails.
set -euo pipefail

# build: compiler, libraries; tests: the Python peers axon is checked against
PKGS=(
  build-essential pkg-config
  zlib1g-dev libdeflate-dev libzstd-dev libblosc-dev libtiff-dev libhdf5-dev libpng-dev libjansson-dev libmicrohttpd-dev
  # axon serve: curl and chromium for its tests (npm, to fetch the viewer, is below)
  curl chromium
  python3 python3-numpy python3-h5py python3-zarr python3-numcodecs python3-tifffile python3-scipy python3-skimage python3-torch
  # the simulator's peer (tests: numpy target; bench/sim: C++ standalone, which needs g++)
  python3-brian g++
)

# npm fetches the Neuroglancer viewer; a Node.js install that brings its own npm (as
# NodeSource's nodejs does, which conflicts with Debian's npm package) is just as good
command -v npm >/dev/null || PKGS+=(npm)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

cmd="apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
  echo "deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  if ! $cmd >/tmp/axon-deps.log 2>&1; then
    apt-get update >>/tmp/axon-deps.log 2>&1 || true
    $cmd >>/tmp/axon-deps.log 2>&1 || { echo "deps: apt-get failed, see /tmp/axon-deps.log" >&2; tail -20 /tmp/axon-deps.log >&2; exit 1; }
  fi
else
  echo "deps: missing Debian packages: ${missing[*]}" >&2
  echo "deps: run as root:  sudo $cmd" >&2
  exit 1
fi
