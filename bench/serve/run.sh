#!/usr/bin/env bash
# bench/serve/run.sh: `axon serve` vs Python's http.server, chunk fetches over loopback with
# tests/serve/loadgen.c (see bench.py; every server it starts is stopped when it ends).
set -euo pipefail
BUILD=${BUILD:-build}
PYTHON=${PYTHON:-/usr/bin/python3}
exec "$PYTHON" bench/serve/bench.py --axon "$BUILD/axon" "$@"
