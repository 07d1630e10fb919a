#!/usr/bin/env bash
# test_skel.sh: `axon skeletonize` end to end on the ground truth of the bundled sample:
# SWC and precomputed outputs with one file per object above dust, coordinates in nm with
# the volume's offset, --ids / --dust / --anisotropy / --overwrite, the precomputed binary
# layout, usage and input errors, and an interrupted run leaving nothing at OUT.
#
# Object counts of data/sample/medulla_z120-149.h5:gt_bodies, from numpy (np.unique with
# return_counts): 135 non-zero ids, 65 of them with >= 1000 voxels, 84 with >= 100.
set -u
. "$(dirname "$0")/lib.sh" cli_skel
G="$S:gt_bodies"

count() { ls "$1" 2>/dev/null | grep -c "$2"; }

# ---- SWC (default): one file per object of >= 1000 voxels
expect 0 "skeletonize to SWC" -- "$A" skeletonize "$G" "$T/swc"
has "summary: objects" "65 skeletons (swc)"
has "summary: objects/s and voxels/s" "objects/s, [0-9.]* Mvoxels/s"
has "summary: peak memory" "peak memory"
has "summary: voxel size from the volume" "voxel 10 x 10 x 10 nm"
n=$(count "$T/swc" '^[0-9]*\.swc$')
[ "$n" = 65 ] && ok "65 SWC files" || bad "SWC files: $n, wanted 65"
ls -A "$T" | grep -q "partial\|\.old-" && bad "a partial or old directory was left" || ok "no partial directory left"
# every node line: 7 numbers, x y in [0, 2500] nm, z in the sample's slab [1200, 1500] nm
# (offset 1200 nm), radius > 0, parents before children
bad_lines=$(cat "$T"/swc/*.swc | awk '!/^#/ && NF { if (NF != 7 || $3 < 0 || $3 > 2500 ||
    $4 < 0 || $4 > 2500 || $5 < 1200 || $5 > 1500 || $6 <= 0 || $7 >= $1) n++ } END { print n + 0 }')
[ "$bad_lines" = 0 ] && ok "SWC nodes in nm within the volume, parents first" || bad "$bad_lines bad SWC node lines"
roots=$(awk '!/^#/ && NF && $7 == -1' "$T/swc/2150.swc" 2>/dev/null | wc -l)
[ -s "$T/swc/2150.swc" ] && [ "$roots" -ge 1 ] && ok "object 2150 has a tree" || bad "object 2150: no SWC or no root"

# ---- precomputed: info + one binary file per object
expect 0 "skeletonize to precomputed" -- "$A" skeletonize "$G" "$T/pre" --format precomputed
has "summary: precomputed" "65 skeletons (precomputed)"
n=$(count "$T/pre" '^[0-9]*$')
[ "$n" = 65 ] && ok "65 precomputed files" || bad "precomputed files: $n, wanted 65"
grep -q '"@type": "neuroglancer_skeletons"' "$T/pre/info" && grep -q '"id": "radius"' "$T/pre/info" \
    && ok "info: neuroglancer_skeletons with radius" || bad "info: $(cat "$T/pre/info" 2>/dev/null)"
# layout: uint32 nv, uint32 ne, 3 nv float32, 2 ne uint32, nv float32 radii
f="$T/pre/2150"
if [ -s "$f" ]; then
  read -r nv ne <<<"$(od -An -tu4 -N8 "$f")"
  size=$(stat -c %s "$f")
  [ "$size" = $((8 + 16 * nv + 8 * ne)) ] && ok "precomputed size = 8 + 16 nv + 8 ne ($nv, $ne)" \
      || bad "precomputed size $size for nv=$nv ne=$ne"
  nodes=$(awk '!/^#/ && NF' "$T/swc/2150.swc" | wc -l)
  [ "$nv" = "$nodes" ] && ok "same vertex count in SWC and precomputed" || bad "nv $nv, SWC nodes $nodes"
else
  bad "no precomputed file for 2150"
fi

# ---- options
expect 0 "--dust 0" -- "$A" skeletonize "$G" "$T/all" --dust 0
n=$(count "$T/all" '\.swc$')
[ "$n" = 135 ] && ok "--dust 0: 135 objects" || bad "--dust 0: $n files, wanted 135"
expect 0 "--dust 100" -- "$A" skeletonize "$G" "$T/d100" --dust 100
n=$(count "$T/d100" '\.swc$')
[ "$n" = 84 ] && ok "--dust 100: 84 objects" || bad "--dust 100: $n files, wanted 84"
expect 0 "--ids" -- "$A" --threads 1 skeletonize "$G" "$T/ids" --ids 2150,999999999
[ "$(ls "$T/ids")" = "2150.swc" ] && ok "--ids: only 2150 (the unknown id is no error)" || bad "--ids: $(ls "$T/ids")"
cmp -s "$T/ids/2150.swc" "$T/swc/2150.swc" && ok "1 thread and --ids give the same SWC" || bad "2150.swc differs"
expect 0 "--anisotropy" -- "$A" skeletonize "$G" "$T/aniso" --ids 2150 --anisotropy 40,10,10 --scale 2 --const 100
has "summary: given voxel size" "voxel 40 x 10 x 10 nm, scale 2, const 100 nm"
zmax=$(awk '!/^#/ && NF { if ($5 > m) m = $5 } END { print m + 0 }' "$T/aniso/2150.swc")
awk -v z="$zmax" 'BEGIN { exit !(z > 1500 && z <= 1200 + 30 * 40) }' && ok "z in nm follows --anisotropy" || bad "z max $zmax"

# ---- OUT exists
expect 1 "existing OUT" -- "$A" skeletonize "$G" "$T/ids"
has "says it exists" "exists"
touch "$T/ids/stale.swc"
expect 0 "--overwrite" -- "$A" skeletonize "$G" "$T/ids" --ids 24720 --overwrite
[ ! -e "$T/ids/stale.swc" ] && [ ! -e "$T/ids/2150.swc" ] && [ -s "$T/ids/24720.swc" ] \
    && ok "--overwrite replaced OUT" || bad "--overwrite: $(ls "$T/ids")"

# ---- errors
expect 2 "no OUT" -- "$A" skeletonize "$G"
expect 2 "bad --scale" -- "$A" skeletonize "$G" "$T/x" --scale abc
has "names the option" "bad --scale"
expect 2 "negative --const" -- "$A" skeletonize "$G" "$T/x" --const -5
expect 2 "bad --anisotropy" -- "$A" skeletonize "$G" "$T/x" --anisotropy 4,4
expect 2 "bad --dust" -- "$A" skeletonize "$G" "$T/x" --dust -1
expect 2 "bad --ids" -- "$A" skeletonize "$G" "$T/x" --ids 3,x
expect 2 "bad --format" -- "$A" skeletonize "$G" "$T/x" --format obj
expect 2 "unknown option" -- "$A" skeletonize "$G" "$T/x" --frobnicate
expect 0 "--help" -- "$A" skeletonize --help
has "usage" "usage: axon skeletonize"
expect 1 "missing input" -- "$A" skeletonize "$T/nope.zarr" "$T/x"
has "names the missing file" "nope.zarr"
expect 0 "affinities (float32, 4-d)" -- "$A" affinities-from-labels "$G" "$T/affs.zarr"
expect 1 "float volume refused" -- "$A" skeletonize "$T/affs.zarr" "$T/x"
has "says labels must be integers" "integer labels"
[ -e "$T/x" ] && bad "a failed run left $T/x" || ok "failed runs leave no output"

# ---- interrupted: exit 130 and nothing at OUT, or a complete OUT if it finished first
out="$T/killed"
AX_THREADS=1 "$A" skeletonize "$G" "$out" --dust 0 --const 20 >/dev/null 2>&1 &
pid=$!
sleep 0.5
kill -s INT $pid 2>/dev/null
wait $pid; st=$?
if [ $st = 130 ]; then
  ok "SIGINT exit status 130"
  [ -e "$out" ] && bad "SIGINT: $out exists" || ok "SIGINT: no $out"
elif [ $st = 0 ]; then
  n=$(count "$out" '\.swc$')
  [ "$n" = 135 ] && ok "finished before SIGINT: complete OUT" || bad "finished before SIGINT with $n files"
else
  bad "SIGINT exit status $st"
fi
ls -A "$T" | grep -q "killed.partial" && bad "SIGINT left a partial build" || ok "SIGINT cleaned its partial build"

rm -rf "$T"
echo "cli skel: $fails failures"
[ $fails -eq 0 ]
