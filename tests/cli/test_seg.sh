#!/usr/bin/env bash
# test_seg.sh: the segmentation commands end to end on the bundled sample, through the
# CLI only (so it also runs under ASan): ground-truth affinities from gt_bodies ->
# watershed -> agglomerate -> eval. On perfect affinities the watershed must recover the
# ground truth (VOI 0 up to dust and background); block shape and thread count must not
# change any output (axon diff); bad input fails with exit 1 and a message naming the
# file, and leaves no output.
set -u
. "$(dirname "$0")/lib.sh" cli-seg
json_num() { grep -o "\"$1\": [0-9.e+-]*" "$T/out" | head -1 | awk '{print $2}'; }

expect 0 "gt affinities" -- "$A" --quiet affinities-from-labels "$S:gt_bodies" "$T/aff.zarr"
expect 0 "watershed" -- "$A" watershed "$T/aff.zarr" "$T/ws.zarr" --size-threshold 0 --dust 0
has "watershed reports segments and memory" "segments .* peak RSS"
# perfect affinities: every gt body's 6-connected pieces are basins; background is 0
expect 0 "eval watershed vs gt" -- "$A" --quiet eval --seg "$T/ws.zarr" --gt "$S:gt_bodies" --json
# the only merge is background: voxels with no same-label neighbour have every edge 0,
# stay 0, and that one seg label spans several bodies (a handful of voxels)
merge=$(json_num voi_merge)
awk -v m="$merge" 'BEGIN{exit !(m < 1e-3)}' && ok "no real merges on perfect affinities ($merge)" || bad "voi_merge $merge"

# block shape and threads do not matter
expect 0 "watershed, odd blocks" -- "$A" --quiet watershed "$T/aff.zarr" "$T/ws2.zarr" --size-threshold 0 --dust 0 --block 7,45,33
expect 0 "same fragments" -- "$A" diff "$T/ws.zarr" "$T/ws2.zarr"
expect 0 "watershed, 1 thread" -- "$A" --quiet --threads 1 watershed "$T/aff.zarr" "$T/ws3.zarr" --size-threshold 0 --dust 0 --block 16,16,16
expect 0 "same fragments, 1 thread" -- "$A" diff "$T/ws.zarr" "$T/ws3.zarr"

# agglomeration: one output per threshold; more merging never raises the split term
expect 0 "agglomerate" -- "$A" agglomerate "$T/aff.zarr" "$T/ws.zarr" "$T/seg.zarr" --thresholds 0.2,0.9
has "names the outputs" "seg_t0.9.zarr"
expect 0 "agglomerate odd blocks, quantile" -- "$A" --quiet agglomerate "$T/aff.zarr" "$T/ws.zarr" "$T/q{t}.zarr" --thresholds 0.5 --merge-function quantile:0.5 --block 11,31,47
expect 0 "agglomerate quantile, default blocks" -- "$A" --quiet agglomerate "$T/aff.zarr" "$T/ws.zarr" "$T/r{t}.zarr" --thresholds 0.5 --merge-function quantile:0.5
expect 0 "block-invariant agglomeration" -- "$A" diff "$T/q0.5.zarr" "$T/r0.5.zarr"
expect 0 "eval t0.2" -- "$A" --quiet eval --seg "$T/seg_t0.2.zarr" --gt "$S:gt_bodies" --json
s2=$(json_num voi_split)
expect 0 "eval t0.9" -- "$A" --quiet eval --seg "$T/seg_t0.9.zarr" --gt "$S:gt_bodies" --json
s9=$(json_num voi_split)
awk -v a="$s2" -v b="$s9" 'BEGIN{exit !(b <= a + 1e-12)}' && ok "split falls with the threshold ($s2 -> $s9)" || bad "split $s2 -> $s9"

# bad input
expect 1 "labels are not affinities" -- "$A" watershed "$S:gt_bodies" "$T/bad1.zarr"
has "says what affinities are" "(3, z, y, x)"
[ ! -e "$T/bad1.zarr" ] && ok "no output left" || bad "bad1.zarr left behind"
expect 0 "cropped fragments" -- "$A" --quiet convert "$T/ws.zarr" "$T/crop.zarr" --region 0:10,:,:
expect 1 "shape mismatch" -- "$A" agglomerate "$T/aff.zarr" "$T/crop.zarr" "$T/bad2.zarr" --thresholds 0.5
has "names both volumes" "aff.zarr and .*crop.zarr: spatial shapes differ"
[ ! -e "$T/bad2.zarr" ] && ok "no output left" || bad "bad2.zarr left behind"
expect 2 "bad threshold" -- "$A" agglomerate "$T/aff.zarr" "$T/ws.zarr" "$T/x.zarr" --thresholds 0.5,abc
expect 2 "bad merge function" -- "$A" agglomerate "$T/aff.zarr" "$T/ws.zarr" "$T/x.zarr" --merge-function median
expect 2 "low above high" -- "$A" watershed "$T/aff.zarr" "$T/x.zarr" --low 0.9 --high 0.1
expect 2 "low out of range" -- "$A" watershed "$T/aff.zarr" "$T/x.zarr" --low 1.5
expect 1 "output exists" -- "$A" watershed "$T/aff.zarr" "$T/ws.zarr"
has "says it exists" "exists"

rm -rf "$T"
echo "$fails failures"
[ "$fails" = 0 ]
