#!/usr/bin/env bash
# test_cc.sh: `axon cc` end to end on the bundled sample: the same labels whatever the
# block shape or thread count, thresholds, metadata carried over, usage and input errors,
# and an interrupted run leaving nothing at OUT.
set -u
. "$(dirname "$0")/lib.sh" cli_cc

# ---- labels: block shape and threads do not change the result
expect 0 "cc gt_bodies" -- "$A" cc "$S:gt_bodies" "$T/cc.zarr" --connectivity 26
has "reports components" "components (26-connected"
has "reports peak memory" "peak memory"
expect 0 "cc odd blocks, 1 thread" -- "$A" --threads 1 cc "$S:gt_bodies" "$T/cc_odd.n5" --connectivity 26 --block 7,37,45 --chunks 16,32,32
expect 0 "odd blocks identical" -- "$A" diff "$T/cc.zarr" "$T/cc_odd.n5"
expect 0 "info of the output" -- "$A" info --json "$T/cc.zarr"
has "uint64 output" '"dtype": "uint64"'
has "voxel size carried over" '"voxel_size": \[10, 10, 10\]'
has "offset carried over" '"offset": \[1200, 0, 0\]'
has "chunks default to the input's" "\"chunks\": \[$("$A" info --json "$S:gt_bodies" | sed 's/.*"chunks": \[\([^]]*\)\].*/\1/')\]"
expect 0 "cc into precomputed" -- "$A" cc "$S:gt_bodies" "$T/cc.precomputed" --chunks 32,64,64 --connectivity 26
expect 0 "precomputed identical" -- "$A" diff "$T/cc.precomputed" "$T/cc_odd.n5"
expect 0 "info of precomputed" -- "$A" info --json "$T/cc.precomputed"
has "marked as a segmentation" '"labels": true'
# ---- threshold: raw > 128 as a mask, any block shape
expect 0 "cc raw > 128" -- "$A" cc "$S:raw" "$T/mask.zarr" --threshold 128 --connectivity 6
expect 0 "cc raw > 128, other blocks" -- "$A" cc "$S:raw" "$T/mask2.h5:cc" --threshold 128.5 --block 29,37,45
expect 0 "threshold 128 and 128.5 agree on integers" -- "$A" diff "$T/mask.zarr" "$T/mask2.h5:cc"
# ---- errors
expect 2 "no OUT" -- "$A" cc "$S:raw"
expect 2 "bad connectivity" -- "$A" cc "$S:raw" "$T/x.zarr" --connectivity 8
expect 2 "bad block" -- "$A" cc "$S:raw" "$T/x.zarr" --block 0,4,4
expect 2 "bad threshold" -- "$A" cc "$S:raw" "$T/x.zarr" --threshold abc
expect 2 "unknown option" -- "$A" cc "$S:raw" "$T/x.zarr" --frobnicate
expect 1 "missing input" -- "$A" cc "$T/nope.zarr" "$T/x.zarr"
has "names the missing file" "nope.zarr"
expect 1 "existing output" -- "$A" cc "$S:raw" "$T/mask.zarr" --threshold 1
expect 0 "--overwrite" -- "$A" cc "$S:raw" "$T/mask.zarr" --threshold 1 --overwrite
[ -e "$T/x.zarr" ] && bad "a failed cc left $T/x.zarr" || ok "failed runs leave no output"

# ---- interrupted: exit 130 and nothing at OUT (tiny blocks on one thread: seconds)
out="$T/killed.zarr"
AX_THREADS=1 "$A" cc "$S:gt_bodies" "$out" --block 2,4,4 --chunks 2,4,4 >/dev/null 2>&1 &
pid=$!
sleep 0.5
kill -s INT $pid 2>/dev/null
wait $pid; st=$?
[ $st = 130 ] && ok "SIGINT exit status 130" || bad "SIGINT exit status $st"
[ -e "$out" ] && bad "SIGINT: $out exists" || ok "SIGINT: no $out"
ls -A "$T" | grep -q "killed.zarr.partial" && bad "SIGINT left a partial build" || ok "SIGINT cleaned its partial build"

rm -rf "$T"
echo "cli cc: $fails failures"
[ $fails -eq 0 ]
