#!/usr/bin/env bash
# bench/seg_ws/run.sh: axon watershed + agglomerate vs skimage + Python (see bench.py).
set -euo pipefail
BUILD=${BUILD:-build}
PYTHON=${PYTHON:-/usr/bin/python3}
exec "$PYTHON" bench/seg_ws/bench.py --axon "$BUILD/axon" "$@"
