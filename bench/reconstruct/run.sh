#!/usr/bin/env bash
# bench/reconstruct/run.sh: the whole pipeline, axon vs PyTorch + scikit-image (see bench.py).
set -euo pipefail
BUILD=${BUILD:-build}
PYTHON=${PYTHON:-/usr/bin/python3}
exec "$PYTHON" bench/reconstruct/bench.py --axon "$BUILD/axon" "$@"
