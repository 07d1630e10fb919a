#!/usr/bin/env bash
# bench/mesh/run.sh: `axon mesh` vs skimage.measure.marching_cubes per object, with and without
# axon's simplification, on the FlyEM medulla gt_bodies (see bench.py).
set -euo pipefail
BUILD=${BUILD:-build}
PYTHON=${PYTHON:-/usr/bin/python3}
exec "$PYTHON" bench/mesh/bench.py --axon "$BUILD/axon" "$@"
