#!/usr/bin/env bash
# bench/sim/run.sh: axon simulate vs Brian2 2.5.1 C++ standalone (see bench.py).
set -euo pipefail
BUILD=${BUILD:-build}
PYTHON=${PYTHON:-/usr/bin/python3}
exec "$PYTHON" bench/sim/bench.py --axon "$BUILD/axon" "$@"
