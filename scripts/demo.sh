#!/usr/bin/env bash
# demo.sh: the main job on the bundled sample: `axon reconstruct` of a 30 x 250 x 250 crop
# of the FlyEM medulla FIB-SEM volume (z120-149 of training_sample2, CC-BY Janelia FlyEM;
# see data/sample/README.md) with the shipped model, scored against the crop's ground truth.
# The model (models/medulla_affinities.safetensors) was trained on z0-119 of the same
# volume: this crop is data it has not seen.
set -euo pipefail
BUILD=${BUILD:-build}
A="$BUILD/axon"
S=data/sample/medulla_z120-149.h5
OUT=${DEMO_OUT:-demo-out}

echo "== the bundled sample (FlyEM medulla training_sample2, z120-149, CC-BY, Janelia FlyEM)"
"$A" info "$S:raw"
echo
echo "== axon reconstruct: affinities (3D U-Net) -> watershed -> agglomeration -> meshes, skeletons, Neuroglancer dataset"
"$A" reconstruct "$S:raw" -o "$OUT" --gt "$S:gt_bodies" --model models/medulla_affinities.safetensors
echo
echo "demo done: open $OUT/report.html (scores in $OUT/metrics.json, the segmentation in"
echo "$OUT/segmentation.zarr). To see the neurons in 3-D in Neuroglancer, run"
echo
echo "    $A serve $OUT/precomputed"
echo
echo "and open the address it prints (http://127.0.0.1:8080/ by default)."
