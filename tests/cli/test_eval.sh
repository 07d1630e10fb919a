#!/usr/bin/env bash
# test_eval.sh: `axon eval` end to end on the bundled sample: a volume against itself
# scores 0; the raw image read as labels against gt_bodies gives the same numbers (JSON,
# bit for bit) for 1 and 2 threads, the generic kernels, and after converting either
# volume to another format and chunk shape; the human table and --json carry the named
# metrics; --worst; --no-ignore; and the bad input: missing --gt, a shape mismatch that
# names both files, a float volume with fractional values, an unknown option, a bad
# ignore label, conflicting options, nothing left to score. (Comparison with
# scikit-image on real data: tests/interop/test_eval.py.)
set -u
. "$(dirname "$0")/lib.sh" cli-eval
# the JSON without the timing line, for comparisons
scores() { "$A" --quiet "$@" --json | grep -v '"seconds"'; }

# ---- identical volumes score 0
expect 0 "gt against itself" -- "$A" --quiet eval --seg "$S:gt_bodies" --gt "$S:gt_bodies" --json
has "voi_split 0" '"voi_split": 0,'
has "voi_merge 0" '"voi_merge": 0,'
has "arand 0" '"arand": 0,'
has "cremi_score 0" '"cremi_score": 0,'
has "no worst splits" '"worst_split": \[\]'

# ---- the raw image as a (bad) segmentation: every metric non-trivial
expect 0 "raw vs gt, table" -- "$A" --quiet eval --seg "$S:raw" --gt "$S:gt_bodies"
for m in "VOI split" "VOI merge" "ARAND       SNEMI3D/CREMI" "ARAND       seg 0 as a label" \
         "ARAND       skimage" "CREMI score" "worst splits" "worst merges"; do
  has "table shows $m" "$m"
done
scores eval --seg "$S:raw" --gt "$S:gt_bodies" >"$T/ref.json" || bad "raw vs gt --json"
grep -q '"worst_split": \[{"id"' "$T/ref.json" && ok "json worst_split list" || bad "json worst_split list"
n=$(grep -o '"seg_pieces"' "$T/ref.json" | wc -l)
[ "$n" = 10 ] && ok "ten worst splits by default" || bad "worst splits: $n, wanted 10"
scores eval --seg "$S:raw" --gt "$S:gt_bodies" --worst 3 >"$T/w3.json"
n=$(grep -o '"gt_objects"' "$T/w3.json" | wc -l)
[ "$n" = 3 ] && ok "--worst 3" || bad "--worst 3 gave $n merges"

# same numbers, bit for bit: threads, SIMD kernels, other formats and chunk shapes
same() { # DESC FILE
  if diff <(grep -v '"seg"' "$T/ref.json" | sed 's/"gt": "[^"]*"//') \
          <(grep -v '"seg"' "$2" | sed 's/"gt": "[^"]*"//') >/dev/null; then ok "$1"
  else bad "$1: scores differ"; diff "$T/ref.json" "$2" | head -5; fi
}
env AX_THREADS=1 "$A" --quiet eval --seg "$S:raw" --gt "$S:gt_bodies" --json | grep -v '"seconds"' >"$T/t1.json"
same "1 thread" "$T/t1.json"
env AX_THREADS=2 "$A" --quiet eval --seg "$S:raw" --gt "$S:gt_bodies" --json | grep -v '"seconds"' >"$T/t2.json"
same "2 threads" "$T/t2.json"
scores --no-simd eval --seg "$S:raw" --gt "$S:gt_bodies" >"$T/g.json"
same "generic kernels" "$T/g.json"
"$A" --quiet convert "$S:raw" "$T/raw.zarr" --chunks 7,33,50 || bad "convert raw"
"$A" --quiet convert "$S:gt_bodies" "$T/gt.n5" --chunks 16,64,64 || bad "convert gt"
scores eval --seg "$T/raw.zarr" --gt "$T/gt.n5" >"$T/conv.json"
same "zarr seg + n5 gt, other chunks" "$T/conv.json"
env AX_CACHE_MB=0 "$A" --quiet eval --seg "$T/raw.zarr" --gt "$S:gt_bodies" --json | grep -v '"seconds"' >"$T/nc.json"
same "no chunk cache, chunks not aligned" "$T/nc.json"

# ---- ignore label
scores eval --seg "$S:raw" --gt "$S:gt_bodies" --no-ignore >"$T/ni.json"
grep -q '"ignore_gt_label": null' "$T/ni.json" && grep -q '"voxels_ignored": 0,' "$T/ni.json" &&
  ok "--no-ignore" || bad "--no-ignore"
expect 0 "--ignore-gt-label 2^64-1" -- "$A" --quiet eval --seg "$S:raw" --gt "$S:gt_bodies" --ignore-gt-label 18446744073709551615 --json
has "ignore label printed exactly" '"ignore_gt_label": 18446744073709551615'

# ---- bad input
expect 2 "no --gt" -- "$A" eval --seg "$S:raw"
expect 2 "unknown option" -- "$A" eval --seg "$S:raw" --gt "$S:gt_bodies" --frobnicate
has "unknown option named" "frobnicate"
expect 2 "--gt without a value" -- "$A" eval --seg "$S:raw" --gt
has "says it needs a value" "needs a value"
expect 2 "negative ignore label" -- "$A" eval --seg "$S:raw" --gt "$S:gt_bodies" --ignore-gt-label -1
expect 2 "ignore label beyond 2^64" -- "$A" eval --seg "$S:raw" --gt "$S:gt_bodies" --ignore-gt-label 18446744073709551616
expect 2 "--no-ignore with --ignore-gt-label" -- "$A" eval --seg "$S:raw" --gt "$S:gt_bodies" --no-ignore --ignore-gt-label 3
expect 2 "bad --worst" -- "$A" eval --seg "$S:raw" --gt "$S:gt_bodies" --worst x
expect 1 "missing volume" -- "$A" eval --seg "$T/nope.zarr" --gt "$S:gt_bodies"
has "missing volume named" "nope.zarr"
"$A" --quiet convert "$S:raw" "$T/small.zarr" --region 0:30,0:250,0:249 || bad "convert small"
expect 1 "shape mismatch" -- "$A" eval --seg "$T/small.zarr" --gt "$S:gt_bodies"
has "mismatch names seg" "small.zarr is 30 x 250 x 249"
has "mismatch names gt" "medulla_z120-149.h5:gt_bodies is 30 x 250 x 250"
# a zarr array with no chunk files reads as its fill value: all gt voxels 0
mkdir -p "$T/zeros.zarr"
echo '{"zarr_format": 2, "shape": [30, 250, 250], "chunks": [30, 125, 125], "dtype": "<u8",
 "compressor": null, "fill_value": 0, "order": "C", "filters": null}' >"$T/zeros.zarr/.zarray"
expect 1 "every gt voxel ignored" -- "$A" eval --seg "$S:raw" --gt "$T/zeros.zarr"
has "says nothing is left" "nothing to score: all 1875000 voxels have the ignored gt label 0"
expect 0 "...unless nothing is ignored" -- "$A" --quiet eval --seg "$S:raw" --gt "$T/zeros.zarr" --no-ignore

# ---- eval2d: per-section ISBI scores of a boundary map (the shipped ssTEM model on the
# sample, against the medulla bodies as per-section labels)
expect 0 "boundary map" -- "$A" predict --model models/sstem_boundaries.safetensors "$S:raw" "$T/b.zarr"
expect 0 "eval2d" -- "$A" eval2d --pred "$T/b.zarr" --gt "$S:gt_bodies" --gt-kind labels --z 0:4 --thresholds 0.3,0.5,0.7
has "a row per threshold" "      0.7 "
has "marks the best" "<- least Rand error"
expect 0 "eval2d --json" -- "$A" eval2d --pred "$T/b.zarr" --gt "$S:gt_bodies" --gt-kind labels --z 0:4 --json
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); t=d["thresholds"]; assert len(t)==9 and all(len(r["sections"])==4 and 0<=r["rand_error"]<=1 and 0<=r["pixel_error"]<=1 for r in t); m=sum(s["rand_error"] for s in t[4]["sections"])/4; assert abs(m-t[4]["rand_error"])<1e-5, (m, t[4]["rand_error"])' "$T/out" \
  && ok "JSON: 9 thresholds x 4 sections, the means are the sections' means" || bad "eval2d JSON"
expect 1 "eval2d: a missing map" -- "$A" eval2d --pred "$T/x.zarr" --gt "$S:gt_bodies"
"$A" --quiet predict --model models/medulla_affinities.safetensors "$S:raw" "$T/aff.zarr" || bad "predict affinities"
expect 1 "eval2d: a 9-channel map" -- "$A" eval2d --pred "$T/aff.zarr" --gt "$S:gt_bodies"
has "says why" "several channels"
expect 1 "eval2d: shapes differ" -- "$A" eval2d --pred "$T/b.zarr" --gt "$T/small.zarr"
has "names both" "small.zarr is 3-d 30x250x249"
expect 2 "eval2d: bad --z" -- "$A" eval2d --pred "$T/b.zarr" --gt "$S:gt_bodies" --z 5:2
expect 1 "eval2d: --z past the end" -- "$A" eval2d --pred "$T/b.zarr" --gt "$S:gt_bodies" --z 0:31
expect 2 "eval2d: bad --gt-kind" -- "$A" eval2d --pred "$T/b.zarr" --gt "$S:gt_bodies" --gt-kind ids

echo "----"
rm -rf "$T"
[ "$fails" -eq 0 ] && echo "all eval cli checks passed"
[ "$fails" -eq 0 ]
