#!/usr/bin/env bash
# test_cli.sh: the axon command line end to end on the bundled sample: info, convert to
# every format and back (checked voxel for voxel with `axon diff`), regions, threads and
# SIMD settings giving identical output, slice pictures, the bad-input corpus, and
# interrupted conversions leaving nothing that looks complete.
set -u
. "$(dirname "$0")/lib.sh" cli

# ---- info
expect 0 "info raw" -- "$A" info "$S:raw"
has "info shape" "30 x 250 x 250"
has "info dtype" "uint8"
has "info voxel size" "10 x 10 x 10 nm"
expect 0 "info --json" -- "$A" info --json "$S:gt_bodies"
has "json shape" '"shape": \[30, 250, 250\]'
has "json dtype" '"dtype": "uint64"'
has "json offset" '"offset": \[1200, 0, 0\]'

# ---- convert to every format and back, voxel-identical
for out in raw.zarr raw_gzip.zarr raw.n5 raw.h5:raw raw.tif raw_slices/ raw.precomputed; do
  extra=()
  [ "$out" = raw_gzip.zarr ] && extra=(--compression gzip --level 3)
  expect 0 "convert raw -> $out" -- "$A" convert "$S:raw" "$T/$out" --chunks 16,64,64 "${extra[@]}"
  expect 0 "diff raw vs $out" -- "$A" diff "$S:raw" "$T/$out"
  expect 0 "info of $out keeps the voxel size" -- "$A" info "$T/$out"
  has "voxel size through $out" "10 x 10 x 10 nm"
done
for out in gt.zarr gt.n5 gt.h5:gt gt.precomputed; do
  expect 0 "convert gt_bodies -> $out" -- "$A" convert "$S:gt_bodies" "$T/$out"
  expect 0 "diff gt_bodies vs $out" -- "$A" diff "$S:gt_bodies" "$T/$out"
done
expect 0 "convert gt -> precomputed compressed_segmentation" -- \
  "$A" convert "$S:gt_bodies" "$T/gt_cseg.precomputed" --compression compressed_segmentation
expect 0 "diff gt vs compressed_segmentation" -- "$A" diff "$S:gt_bodies" "$T/gt_cseg.precomputed"
# chained: zarr -> n5 -> h5 -> zarr stays identical
expect 0 "zarr -> n5" -- "$A" convert "$T/raw.zarr" "$T/chain.n5" --compression zstd
expect 0 "n5 -> h5" -- "$A" convert "$T/chain.n5" "$T/chain.h5:a/b"
expect 0 "h5 -> zarr" -- "$A" convert "$T/chain.h5:a/b" "$T/chain.zarr" --compression blosc
expect 0 "chain identical" -- "$A" diff "$S:raw" "$T/chain.zarr"

# ---- regions carry the offset
expect 0 "convert --region" -- "$A" convert "$S:raw" "$T/region.zarr" --region 5:20,:,100:
expect 0 "region info" -- "$A" info --json "$T/region.zarr"
has "region shape" '"shape": \[15, 250, 150\]'
has "region offset" '"offset": \[1250, 0, 1000\]'
expect 1 "diff: different shapes" -- "$A" diff "$S:raw" "$T/region.zarr"
"$A" convert "$S:raw" "$T/top.zarr" --region 0:15,:,: >/dev/null 2>&1
"$A" convert "$S:raw" "$T/bottom.zarr" --region 15:30,:,: >/dev/null 2>&1
expect 1 "diff: different voxels" -- "$A" diff "$T/top.zarr" "$T/bottom.zarr"
has "diff counts voxels" "differ: [0-9]* voxels, first at (0, 0, 0)"
expect 1 "region outside the volume" -- "$A" convert "$S:raw" "$T/bad_region.zarr" --region 0:31,:,:
has "region error names the file" "medulla_z120-149.h5"
[ -e "$T/bad_region.zarr" ] && bad "failed convert left output" || ok "failed convert left no output"
expect 2 "malformed --region" -- "$A" convert "$S:raw" "$T/x.zarr" --region 5-9
expect 2 "bad --chunks" -- "$A" convert "$S:raw" "$T/x.zarr" --chunks 0,4,4
expect 2 "unknown compression" -- "$A" convert "$S:raw" "$T/x.zarr" --compression lzma
expect 1 "existing output without --overwrite" -- "$A" convert "$S:raw" "$T/raw.zarr"
has "exists message" "already exists"
expect 0 "--overwrite" -- "$A" convert "$S:raw" "$T/raw.zarr" --overwrite --compression raw
expect 1 "unknown output format" -- "$A" convert "$S:raw" "$T/out.xyz"
expect 1 "zstd into HDF5 is refused" -- "$A" convert "$S:raw" "$T/z.h5:raw" --compression zstd

# ---- threads and SIMD do not change results
expect 0 "1 thread" -- "$A" --threads 1 convert "$S:gt_bodies" "$T/t1.n5"
expect 0 "2 threads" -- env AX_THREADS=2 "$A" convert "$S:gt_bodies" "$T/t2.n5"
expect 0 "generic kernels" -- env AX_SIMD=generic "$A" convert "$S:gt_bodies" "$T/tg.n5"
if cmp -s <(cd "$T/t1.n5" && find . -type f | sort | xargs cat) <(cd "$T/t2.n5" && find . -type f | sort | xargs cat) &&
   cmp -s <(cd "$T/t1.n5" && find . -type f | sort | xargs cat) <(cd "$T/tg.n5" && find . -type f | sort | xargs cat); then
  ok "byte-identical files for 1/2 threads and generic/avx2"
else bad "outputs differ between thread counts or SIMD kernels"; fi
expect 0 "version" -- "$A" --no-simd version
has "no-simd forces generic" "simd: generic"

# ---- pictures
png_ok() { [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ]; }
expect 0 "slice" -- "$A" slice "$S:raw" --z 10 -o "$T/raw.png"
png_ok "$T/raw.png" && ok "slice is a PNG" || bad "slice is not a PNG"
expect 0 "slice with overlay" -- "$A" slice "$S:raw" --z 10 --overlay "$S:gt_bodies" -o "$T/overlay.png"
png_ok "$T/overlay.png" && ok "overlay is a PNG" || bad "overlay is not a PNG"
cmp -s "$T/raw.png" "$T/overlay.png" && bad "overlay changed nothing" || ok "overlay differs from raw"
expect 0 "labels alone" -- "$A" slice "$S:gt_bodies" --labels -o "$T/labels.png"
expect 1 "slice outside" -- "$A" slice "$S:raw" --z 30 -o "$T/x.png"
has "slice error" "outside 0..29"
expect 1 "overlay of another shape" -- "$A" slice "$S:raw" --z 0 --overlay "$T/region.zarr" -o "$T/x.png"

# ---- bad-input corpus
C=tests/data/bad
while IFS='|' read -r case cmd status msg; do
  case=$(echo $case); cmd=$(echo $cmd); status=$(echo $status); msg=$(echo "$msg" | sed 's/^ *//; s/ *$//')
  [ -z "$case" ] || [ "${case:0:1}" = "#" ] && continue
  out="$T/corpus_out_$case"
  args=$(echo "$cmd" | sed "s|CASE|$C/$case|g; s|OUT|$out|g")
  # shellcheck disable=SC2086
  expect "$status" "corpus $case" -- "$A" $args
  has "corpus $case: message" "$msg"
  has "corpus $case: names the file" "$case"
  [ -e "$out" ] && bad "corpus $case left $out" || true
done < "$C/EXPECT"
expect 1 "missing file" -- "$A" info "$T/nope.zarr"
expect 2 "unknown command" -- "$A" frobnicate
expect 1 "unwritable output directory" -- "$A" convert "$S:raw" /proc/axon-cannot-write.zarr

# ---- interrupted conversion: nothing at OUT that looks complete
# 30,000 tiny chunk files on one thread: seconds of work, so the signal lands mid-way
for sig in INT KILL; do
  out="$T/killed_$sig.zarr"
  AX_THREADS=1 AX_CONVERT_MB=1 "$A" convert "$S:gt_bodies" "$out" --chunks 1,8,8 --compression gzip --level 9 >/dev/null 2>&1 &
  pid=$!
  sleep 0.5
  kill -s $sig $pid 2>/dev/null
  wait $pid 2>/dev/null; st=$?
  if [ -e "$out" ]; then bad "SIG$sig: $out exists after an interrupted convert (exit $st)"
  else ok "SIG$sig: no $out after an interrupted convert (exit $st)"; fi
  if [ $sig = INT ]; then
    [ $st = 130 ] && ok "SIGINT exit status 130" || bad "SIGINT exit status $st"
    ls -A "$T" | grep -q "killed_INT.zarr.partial" && bad "SIGINT left a partial build" || ok "SIGINT cleaned its partial build"
  else
    ls -A "$T" | grep -q "^.killed_KILL.zarr.partial" && ok "SIGKILL left only a hidden .partial build" \
      || bad "SIGKILL: no .partial build (did the kill land after the convert ended?)"
  fi
done

rm -rf "$T"
echo "cli: $fails failures"
[ $fails -eq 0 ]
