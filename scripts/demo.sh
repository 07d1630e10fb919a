#!/usr/bin/env bash
# demo.sh: the main job on the bundled sample (FlyEM medulla crop, CC-BY; see
# data/sample/README.md). For now: convert the sample to Zarr (zstd, 64^3 chunks) and
# Neuroglancer precomputed, and draw section pictures with the neuron labels on top.
# Later stages (issue 6) turn this into the full reconstruction.
set -euo pipefail
BUILD=${BUILD:-build}
A="$BUILD/axon"
S=data/sample/medulla_z120-149.h5
OUT=${DEMO_OUT:-demo-out}
mkdir -p "$OUT"

echo "== the bundled sample (FlyEM medulla training_sample2, z120-149, CC-BY, Janelia FlyEM)"
"$A" info "$S:raw"
echo
echo "== convert to Zarr (zstd, 64^3 chunks) and Neuroglancer precomputed"
"$A" convert "$S:raw" "$OUT/medulla.zarr:raw" --chunks 64,64,64 --compression zstd --overwrite
"$A" convert "$S:gt_bodies" "$OUT/medulla.zarr:gt_bodies" --chunks 64,64,64 --compression zstd --overwrite
"$A" convert "$S:gt_bodies" "$OUT/gt_bodies.precomputed" --compression compressed_segmentation --overwrite
"$A" diff "$S:raw" "$OUT/medulla.zarr:raw"
"$A" info "$OUT/medulla.zarr:gt_bodies"
echo
echo "== section pictures"
for z in 5 15 25; do
  "$A" slice "$OUT/medulla.zarr:raw" --z $z -o "$OUT/raw_z$z.png"
  "$A" slice "$OUT/medulla.zarr:raw" --z $z --overlay "$OUT/medulla.zarr:gt_bodies" -o "$OUT/overlay_z$z.png"
done
echo
echo "demo done: pictures and volumes in $OUT/ (open $OUT/overlay_z15.png)"
