#!/usr/bin/env bash
# bench/volume_io/run.sh: axon vs h5py + python3-zarr on the medulla volume (see bench.py).
set -euo pipefail
BUILD=${BUILD:-build}
PYTHON=${PYTHON:-/usr/bin/python3}
exec "$PYTHON" bench/volume_io/bench.py --axon "$BUILD/axon" "$@"
