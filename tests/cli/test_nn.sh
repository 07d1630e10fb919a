#!/usr/bin/env bash
# test_nn.sh: `axon train`, `axon predict`, `axon model-info` end to end on the bundled
# sample: the training loss falls, validation is reported, the model records how it was
# made, a resumed run equals an uninterrupted one, block-wise prediction does not depend on
# the tile shape or thread count, and bad input fails cleanly (exit 2 usage, 1 input,
# 130 Ctrl-C) without leaving a model behind.
set -u
. "$(dirname "$0")/lib.sh" cli_nn
cat > "$T/net.json" <<'JSON'
{"levels": 2, "base_fmaps": 6, "fmap_mult": 2, "downsample": [[1, 2, 2]],
 "kernel": [[1, 3, 3], [3, 3, 3]], "out_channels": 3, "comment": "tiny test net"}
JSON
TRAIN=("$A" train --config "$T/net.json" --raw "$S:raw" --labels "$S:gt_bodies" --patch 4,24,24 --lr 3e-3)

# ---- a short run: the loss must fall (balanced BCE starts near ln 2 = 0.693)
expect 0 "train 300 iterations" -- "${TRAIN[@]}" --out "$T/m.safetensors" --iterations 300 --val-z 24:30 --val-every 300
has "validation reported" "validation z24-30 at it 300: BCE"
has "model written" "wrote $T/m.safetensors"
first=$(grep -o 'it 50/300  loss [0-9.]*' "$T/out" | awk '{print $4}')
last=$(grep -o 'it 300/300  loss [0-9.]*' "$T/out" | awk '{print $4}')
echo "     loss (running mean) at it 50: $first, at it 300: $last"
if awk -v a="$first" -v b="$last" 'BEGIN{exit !(b < 0.85 * a)}'; then ok "loss falls"; else bad "loss did not fall: $first -> $last"; fi
expect 0 "model-info" -- "$A" model-info "$T/m.safetensors"
has "config kept" '"comment":"tiny test net"'
has "training command kept" '"axon.train.command": "axon train --config'
has "validation kept" '"boundary_f1"'
has "offsets kept" '"axon.offsets": "-1,0,0;0,-1,0;0,0,-1"'

expect 0 "elastic augmentation" -- "${TRAIN[@]}" --out "$T/e.safetensors" --iterations 20 --elastic 3
expect 2 "bad --elastic" -- "${TRAIN[@]}" --out "$T/e.safetensors" --elastic -1

# ---- prediction: tiles and threads do not change a bit
expect 0 "predict" -- "$A" predict --model "$T/m.safetensors" "$S:raw" "$T/p1.zarr"
has "speed reported" "voxels/s"
expect 0 "shape" -- "$A" info --json "$T/p1.zarr"
has "4-d output" '"shape": \[3, 30, 250, 250\]'
has "voxel size copied" '"voxel_size": \[10, 10, 10\]'
expect 0 "predict in odd tiles, 1 thread" -- env AX_THREADS=1 "$A" predict --model "$T/m.safetensors" "$S:raw" "$T/p2.n5" --block 5,37,61
expect 0 "tiles give the same prediction" -- "$A" diff "$T/p1.zarr" "$T/p2.n5"
expect 1 "refuses to overwrite" -- "$A" predict --model "$T/m.safetensors" "$S:raw" "$T/p1.zarr"

# ---- resume: 60 + 40 iterations equal 100 in one go
expect 0 "100 iterations" -- "${TRAIN[@]}" --out "$T/a.safetensors" --iterations 100 --checkpoint-every 30
expect 0 "60 iterations" -- "${TRAIN[@]}" --out "$T/b.safetensors" --iterations 60 --checkpoint-every 30
expect 0 "resume to 100" -- "${TRAIN[@]}" --out "$T/b.safetensors" --iterations 100 --checkpoint-every 30 --resume
has "resumed at 60" "resuming $T/b.safetensors.ckpt at iteration 60"
"$A" predict --model "$T/a.safetensors" "$S:raw" "$T/pa.zarr" --block 8,64,64 >/dev/null 2>&1
"$A" predict --model "$T/b.safetensors" "$S:raw" "$T/pb.zarr" --block 8,64,64 >/dev/null 2>&1
expect 0 "resumed model == uninterrupted model" -- "$A" diff "$T/pa.zarr" "$T/pb.zarr"

# ---- bad input
expect 2 "no labels" -- "$A" train --config "$T/net.json" --raw "$S:raw" --out "$T/x.safetensors"
expect 2 "bad patch" -- "${TRAIN[@]}" --out "$T/x.safetensors" --patch 4,0,24
echo '{"levels": 2, "out_channels": 3, "activation": "gelu"}' > "$T/bad.json"
expect 1 "bad description" -- "$A" train --config "$T/bad.json" --raw "$S:raw" --labels "$S:gt_bodies" --out "$T/x.safetensors"
has "names the file and the problem" "bad.json: network description: unknown activation"
expect 1 "patch larger than the volume" -- "${TRAIN[@]}" --out "$T/x.safetensors" --patch 40,24,24
has "explains" "training region is 30 voxels along axis 0"
expect 1 "wrong channel count" -- "${TRAIN[@]}" --out "$T/x.safetensors" --target mask
has "channels" "3 output channels but the mask target has 1"
"$A" convert "$S:raw" "$T/raw_crop.zarr" --region 0:30,0:100,0:250 >/dev/null 2>&1
expect 1 "labels of another shape" -- "${TRAIN[@]/$S:raw/$T/raw_crop.zarr}" --out "$T/x.safetensors"
has "names both" "but the raw $T/raw_crop.zarr is 30x100x250"
[ -e "$T/x.safetensors" ] && bad "a failed run left a model" || ok "no model left by failed runs"
printf 'not a model' > "$T/junk.safetensors"
expect 1 "junk model" -- "$A" predict --model "$T/junk.safetensors" "$S:raw" "$T/p3.zarr"
has "names the file" "junk.safetensors: not a safetensors file"
[ -e "$T/p3.zarr" ] && bad "junk model left an output" || ok "no output left"

# ---- Ctrl-C: exit 130, the checkpoint stays, no model
"${TRAIN[@]}" --out "$T/c.safetensors" --iterations 100000 --checkpoint-every 20 >"$T/out" 2>&1 &
pid=$!
for _ in $(seq 100); do [ -e "$T/c.safetensors.ckpt" ] && break; sleep 0.2; done
kill -INT $pid; wait $pid; st=$?
[ "$st" = 130 ] && ok "Ctrl-C exits 130" || bad "Ctrl-C exit $st"
has "says where the checkpoint is" "the last checkpoint is $T/c.safetensors.ckpt"
[ -e "$T/c.safetensors" ] && bad "Ctrl-C left a model" || ok "no model after Ctrl-C"
expect 0 "the checkpoint loads" -- "$A" model-info "$T/c.safetensors.ckpt"

rm -rf "$T"
[ "$fails" -eq 0 ]
