#!/usr/bin/env bash
# test_export.sh: `axon export-precomputed` (one Neuroglancer dataset: pyramids, meshes,
# skeletons) and `axon erl` / `axon eval --erl` on the bundled sample. The pyramid's
# numbers are checked against numpy in tests/interop/test_downsample.py, ERL against a
# Python reference in tests/interop/test_erl.py; here: layout, counts, consistency, errors.
set -u
. "$(dirname "$0")/lib.sh" cli_export

expect 0 "export raw + ground truth" -- "$A" export-precomputed -o "$T/ds" --raw "$S:raw" --seg "$S:gt_bodies" --max-edge 64
has "says how to open it" "axon serve $T/ds"
for f in image/info segmentation/info segmentation/mesh/info segmentation/skeletons/info; do
  [ -f "$T/ds/$f" ] && ok "wrote $f" || bad "no $f"
done
python3 - "$T/ds" <<'PY' && ok "info files: scales halve, meshes and skeletons named, one mesh per object" || bad "dataset layout"
import json, os, sys
d = sys.argv[1]
img, seg = json.load(open(f"{d}/image/info")), json.load(open(f"{d}/segmentation/info"))
assert img["type"] == "image" and seg["type"] == "segmentation"
for info in (img, seg):
    sc = info["scales"]
    assert len(sc) >= 3, len(sc)
    for a, b in zip(sc, sc[1:]):
        assert all(rb == 2 * ra for ra, rb in zip(a["resolution"], b["resolution"])), (a["resolution"], b["resolution"])
        assert all(sb == -(-sa // 2) for sa, sb in zip(a["size"], b["size"]))
        assert os.path.isdir(f"{d}/{'image' if info is img else 'segmentation'}/{b['key']}")
assert seg["mesh"] == "mesh" and seg["skeletons"] == "skeletons"
manifests = [n for n in os.listdir(f"{d}/segmentation/mesh") if n.count(":") == 1]
skels = [n for n in os.listdir(f"{d}/segmentation/skeletons") if n.isdigit()]
assert len(manifests) == 135, len(manifests)   # every object of the sample's ground truth
assert 0 < len(skels) <= len(manifests), len(skels)
PY
expect 0 "the exported segmentation equals the input" -- "$A" diff "$S:gt_bodies" "$T/ds/segmentation"
expect 0 "the exported image equals the input" -- "$A" diff "$S:raw" "$T/ds/image"
expect 1 "refuses to overwrite" -- "$A" export-precomputed -o "$T/ds" --raw "$S:raw"
expect 0 "--overwrite, image only" -- "$A" export-precomputed -o "$T/ds" --raw "$S:raw" --overwrite
[ ! -e "$T/ds/segmentation" ] && ok "replaced whole" || bad "old segmentation left behind"
expect 2 "nothing to export" -- "$A" export-precomputed -o "$T/x"
"$A" --quiet predict --model models/medulla_affinities.safetensors "$S:raw" "$T/aff.zarr" --block 30,64,64
expect 1 "a 4-d volume" -- "$A" export-precomputed -o "$T/x" --raw "$T/aff.zarr"
has "says why" "needs a 3-d volume"
[ ! -e "$T/x" ] && ! ls -d "$T"/x.partial-* >/dev/null 2>&1 && ok "a failed export leaves nothing" || bad "a failed export left files"

# ---- ERL: the ground truth against its own skeletons is perfect; a segmentation less so
expect 0 "skeletonize the ground truth" -- "$A" skeletonize "$S:gt_bodies" "$T/swc"
expect 0 "erl of the ground truth" -- "$A" erl --seg "$S:gt_bodies" --skeletons "$T/swc" --json
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["erl_nm"] > 0 and abs(d["erl_nm"] - d["max_erl_nm"]) < 1e-6 * d["max_erl_nm"] and d["merges"] == 0 and d["splits"] == 0, d' "$T/out" \
  && ok "ground truth: ERL = the perfect score, no merges or splits" || bad "ground-truth ERL"
"$A" --quiet convert "$T/aff.zarr" "$T/aff3.zarr" --region 0:3,:,:,: && "$A" --quiet watershed "$T/aff3.zarr" "$T/frag.zarr" || bad "watershed"
expect 0 "erl of watershed fragments" -- "$A" erl --seg "$T/frag.zarr" --gt-labels "$S:gt_bodies" --json
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert 0 <= d["erl_nm"] < d["max_erl_nm"] and d["splits"] > 0, d' "$T/out" \
  && ok "over-segmented fragments: ERL below perfect, splits counted" || bad "fragments ERL"
expect 0 "eval --erl" -- "$A" eval --seg "$T/frag.zarr" --gt "$S:gt_bodies" --erl
has "prints the ERL" "^ERL "
expect 2 "erl without skeletons" -- "$A" erl --seg "$S:gt_bodies"
expect 1 "erl with no SWC files" -- "$A" erl --seg "$S:gt_bodies" --skeletons "$T/ds"
has "says so" "no .swc files"

rm -rf "$T"
[ "$fails" -eq 0 ]
