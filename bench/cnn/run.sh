#!/usr/bin/env bash
# bench/cnn/run.sh: axon's U-Net vs PyTorch 1.13 CPU, inference and a training step (see bench.py).
set -euo pipefail
BUILD=${BUILD:-build}
PYTHON=${PYTHON:-/usr/bin/python3}
exec "$PYTHON" bench/cnn/bench.py --build "$BUILD" "$@"
