#!/usr/bin/env bash
# bench/skel/run.sh: `axon skeletonize` (TEASAR) vs scikit-image's 3-d thinning, speed only,
# on the FlyEM medulla gt_bodies (see bench.py).
set -euo pipefail
BUILD=${BUILD:-build}
PYTHON=${PYTHON:-/usr/bin/python3}
exec "$PYTHON" bench/skel/bench.py --axon "$BUILD/axon" "$@"
