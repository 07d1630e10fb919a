#!/usr/bin/env bash
# test_mws.sh: `axon affinities-from-boundary`, `affinities-from-labels` and `mws` end to
# end on the bundled sample: output shapes, dtypes and voxel size; streaming results that
# do not depend on the block shape or the thread count; usage and input errors (exit 2 and
# 1, naming the file); and Ctrl-C leaving no output (exit 130).
set -u
. "$(dirname "$0")/lib.sh" cli_mws
LR='-1,0,0;0,-1,0;0,0,-1;-2,0,0;0,-9,0;0,0,-9;-4,0,0;0,-27,0;0,0,-27'

# ---- affinities from a boundary map (uint8 raw read as value/255)
expect 0 "boundary -> affinities" -- "$A" affinities-from-boundary "$S:raw" "$T/aff.zarr" --mode mean
has "report" "wrote $T/aff.zarr"
expect 0 "info of the affinities" -- "$A" info --json "$T/aff.zarr"
has "affinity shape" '"shape": \[3, 30, 250, 250\]'
has "affinity dtype" '"dtype": "float32"'
has "voxel size copied" '"voxel_size": \[10, 10, 10\]'
expect 0 "small straddling blocks" -- "$A" affinities-from-boundary "$S:raw" "$T/aff_b.zarr" --mode mean --block 7,33,40 --chunks 3,8,64,64
expect 0 "blocks give the same affinities" -- "$A" diff "$T/aff.zarr" "$T/aff_b.zarr"
expect 0 "min mode" -- "$A" affinities-from-boundary "$S:raw" "$T/aff_min.n5" --mode min --chunks 16,32,32
expect 1 "min and mean differ" -- "$A" diff "$T/aff.zarr" "$T/aff_min.n5"
expect 1 "refuses to overwrite" -- "$A" affinities-from-boundary "$S:raw" "$T/aff.zarr"
expect 0 "--overwrite" -- "$A" affinities-from-boundary "$S:raw" "$T/aff.zarr" --mode mean --overwrite

# ---- ground-truth affinities with long-range offsets, then the mutex watershed
expect 0 "labels -> long-range affinities" -- "$A" affinities-from-labels "$S:gt_bodies" "$T/gt_aff.zarr" --offsets "$LR"
expect 0 "info" -- "$A" info --json "$T/gt_aff.zarr"
has "9 channels" '"shape": \[9, 30, 250, 250\]'
expect 0 "labels, small blocks" -- "$A" affinities-from-labels "$S:gt_bodies" "$T/gt_aff_b.zarr" --offsets "$LR" --block 5,40,64
expect 0 "blocks give the same affinities" -- "$A" diff "$T/gt_aff.zarr" "$T/gt_aff_b.zarr"
expect 0 "default offsets" -- "$A" affinities-from-labels "$S:gt_bodies" "$T/gt_aff3.zarr"
expect 0 "info" -- "$A" info --json "$T/gt_aff3.zarr"
has "3 channels" '"shape": \[3, 30, 250, 250\]'

expect 0 "mws" -- "$A" mws "$T/gt_aff.zarr" "$T/seg.zarr" --offsets "$LR"
has "mws report" "segments from 30 x 250 x 250 voxels, 9 offsets (3 attractive)"
has "mws peak memory" "peak memory"
expect 0 "mws output info" -- "$A" info --json "$T/seg.zarr"
has "labels dtype" '"dtype": "uint64"'
has "labels shape" '"shape": \[30, 250, 250\]'
expect 0 "mws, one thread" -- "$A" --threads 1 mws "$T/gt_aff.zarr" "$T/seg1.zarr" --offsets "$LR"
expect 0 "same for any thread count" -- "$A" diff "$T/seg.zarr" "$T/seg1.zarr"
expect 0 "mws with strides" -- "$A" mws "$T/gt_aff.zarr" "$T/seg_s.zarr" --offsets "$LR" --strides 1,3,3 --attractive 3
expect 0 "mws on 3 channels, default offsets" -- "$A" mws "$T/aff.zarr" "$T/seg3.zarr"

expect 0 "mws --help" -- "$A" mws --help
has "help says in memory" "In memory"
expect 0 "affinities --help" -- "$A" affinities-from-boundary --help
has "help says value/255" "value/255"

# ---- errors
expect 2 "bad --mode" -- "$A" affinities-from-boundary "$S:raw" "$T/x.zarr" --mode median
expect 2 "bad --offsets" -- "$A" affinities-from-labels "$S:gt_bodies" "$T/x.zarr" --offsets "1,2;3"
expect 2 "bad --strides" -- "$A" mws "$T/gt_aff.zarr" "$T/x.zarr" --offsets "$LR" --strides 0,1,1
expect 2 "--attractive beyond the offsets" -- "$A" mws "$T/gt_aff3.zarr" "$T/x.zarr" --attractive 4
expect 1 "missing input" -- "$A" affinities-from-boundary "$T/nothing.zarr" "$T/x.zarr"
has "names the file" "nothing.zarr"
expect 1 "channel count must match the offsets" -- "$A" mws "$T/gt_aff.zarr" "$T/x.zarr" --offsets "-1,0,0;0,-1,0;0,0,-1"
has "says so" "has 9 channels but --offsets lists 3"
expect 1 "9 channels need --offsets" -- "$A" mws "$T/gt_aff.zarr" "$T/x.zarr"
expect 1 "mws of a 3-d volume" -- "$A" mws "$S:raw" "$T/x.zarr"
has "names the file" "medulla_z120-149.h5"
expect 1 "boundary map of uint64 labels" -- "$A" affinities-from-boundary "$S:gt_bodies" "$T/x.zarr"
expect 1 "boundary map of a 4-d volume" -- "$A" affinities-from-boundary "$T/aff.zarr" "$T/x.zarr"
[ -e "$T/x.zarr" ] && bad "a failed command left $T/x.zarr" || ok "failed commands leave no output"

# ---- Ctrl-C: no output, exit 130 (one thread, 7,500 one-section chunks: seconds of work)
out="$T/killed.zarr"
AX_THREADS=1 "$A" affinities-from-labels "$S:gt_bodies" "$out" --offsets "$LR" --chunks 9,1,16,16 --block 1,16,16 >/dev/null 2>&1 &
pid=$!
sleep 0.5
kill -s INT $pid 2>/dev/null
wait $pid 2>/dev/null; st=$?
[ $st = 130 ] && ok "SIGINT exit status 130" || bad "SIGINT exit status $st"
[ -e "$out" ] && bad "$out exists after an interrupted run" || ok "no output after an interrupted run"
ls -A "$T" | grep -q "killed.zarr.partial" && bad "SIGINT left a partial build" || ok "SIGINT cleaned its partial build"

rm -rf "$T"
echo "cli_mws: $fails failures"
[ $fails -eq 0 ]
