#!/usr/bin/env bash
# run.sh: every test of `make check`: C unit tests, CLI tests with the bad-input corpus,
# and interoperability with the Python peers (python3-zarr, h5py, tifffile).
# Env: BUILD (build dir), SAN=1 (sanitizer build: Python/ctypes tests are skipped because
# an ASan library cannot be loaded into a plain python3), PYTHON, AX_DATA (real data).
set -u
BUILD=${BUILD:-build}
SAN=${SAN:-0}
PYTHON=${PYTHON:-/usr/bin/python3}
export AXON="$PWD/$BUILD/axon" BUILD
export AX_DATA=${AX_DATA:-$PWD/../shared/data}
export AX_TEST_TMP=$(mktemp -d /tmp/axon-check-XXXXXX)
export AX_PROGRESS=0
if [ "$SAN" = 1 ]; then
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
fi

pass=0 fail=0 failed=()
run() { # name, command...
  local name=$1; shift
  local t0=$(date +%s%N) log="$AX_TEST_TMP/${name//\//_}.log"
  if "$@" >"$log" 2>&1; then
    local ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    pass=$((pass+1)); printf 'PASS %-30s %4d.%01ds\n' "$name" $((ms/1000)) $(((ms%1000)/100))
  else
    fail=$((fail+1)); failed+=("$name"); printf 'FAIL %-28s (log below)\n' "$name"
    tail -40 "$log" | sed 's/^/    /'
  fi
}

for t in "$BUILD"/tests/test_*; do
  [ -x "$t" ] || continue
  run "unit/$(basename "$t")" "$t"
done
# the whole suite again with the SIMD kernels forced off (the generic fallback)
run "unit/test_volume(generic)" env AX_SIMD=generic "$BUILD/tests/test_volume"
run "unit/test_core(1 thread)" env AX_THREADS=1 "$BUILD/tests/test_core"
for t in tests/cli/test_*.sh; do
  run "cli/$(basename "$t" .sh)" bash "$t"
done
if [ "$SAN" = 1 ]; then
  echo "skip interop/*: Python peers load libaxon through ctypes, not under ASan"
else
  for t in tests/interop/test_*.py; do
    run "interop/$(basename "$t" .py)" "$PYTHON" "$t"
  done
fi

echo "----"
echo "$pass passed, $fail failed${failed:+: ${failed[*]}}"
[ "$fail" -eq 0 ] && rm -rf "$AX_TEST_TMP"
[ "$fail" -eq 0 ]
