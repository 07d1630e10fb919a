# lib.sh: what the CLI tests share. Source it as `. "$(dirname "$0")/lib.sh" NAME`:
# A (the axon binary), T (a fresh scratch directory named after NAME), S (the bundled
# sample), and the helpers ok/bad (count a result), expect STATUS DESC -- command...
# (run, check the exit status; stdout+stderr go to $T/out) and has DESC PATTERN (the last
# output holds PATTERN). The test ends with `[ "$fails" -eq 0 ]`.
A=${AXON:-build/axon}
T=${AX_TEST_TMP:-/tmp}/$1.$$
mkdir -p "$T"
S=data/sample/medulla_z120-149.h5
fails=0
ok()   { echo "ok   $*"; }
bad()  { echo "FAIL $*"; fails=$((fails+1)); }
expect() {
  local want=$1 desc=$2; shift 3
  "$@" >"$T/out" 2>&1; local got=$?
  if [ "$got" = "$want" ]; then ok "$desc"; else bad "$desc (exit $got, wanted $want)"; sed 's/^/     /' "$T/out" | tail -5; fi
}
has() {
  if grep -q -- "$2" "$T/out"; then ok "$1"; else bad "$1: no '$2' in:"; sed 's/^/     /' "$T/out" | tail -5; fi
}
