#!/usr/bin/env bash
# bench/seg_cc/run.sh: `axon cc` vs scipy.ndimage.label on smooth random blobs (128^3,
# 256^3, 512^3, uint8 zarr) and on the FlyEM medulla gt_bodies labels (see bench.py).
set -euo pipefail
BUILD=${BUILD:-build}
PYTHON=${PYTHON:-/usr/bin/python3}
exec "$PYTHON" bench/seg_cc/bench.py --build "$BUILD" "$@"
