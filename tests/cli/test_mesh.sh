#!/usr/bin/env bash
# test_mesh.sh: `axon mesh` end to end on the bundled sample's ground truth: one manifest
# and one well-formed fragment per object (sizes decoded by hand with od), info valid JSON,
# every label of the volume meshed, id and dust filters, PLY/OBJ output, the same bytes for
# any thread count, usage and input errors, and an interrupted run leaving nothing at OUT.
set -u
. "$(dirname "$0")/lib.sh" cli_mesh
PY=${PYTHON:-/usr/bin/python3}

# ---- the sample's ground truth as precomputed legacy meshes
expect 0 "mesh gt_bodies" -- "$A" mesh "$S:gt_bodies" "$T/m"
has "reports objects" "objects, [0-9]* -> [0-9]* triangles"
has "reports objects/s" "objects/s"
has "reports peak memory" "peak memory"
n_obj=$(sed -n 's/.*: \([0-9]*\) objects,.*/\1/p' "$T/out")
n_man=$(ls "$T/m" | grep -c '^[0-9]*:0$')
n_frag=$(ls "$T/m" | grep -c '^[0-9]*:0:0$')
[ -n "$n_obj" ] && [ "$n_obj" -gt 50 ] && [ "$n_man" = "$n_obj" ] && [ "$n_frag" = "$n_obj" ] \
  && ok "one manifest and fragment per object ($n_obj)" \
  || bad "objects $n_obj, manifests $n_man, fragments $n_frag"
[ "$(ls -A "$T/m" | grep -vc '^[0-9]*:0\(:0\)\?$')" = 1 ] && ok "nothing else but info" \
  || bad "stray files: $(ls -A "$T/m" | grep -v '^[0-9]*:0\(:0\)\?$' | tr '\n' ' ')"
if "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d == {"@type": "neuroglancer_legacy_mesh"}, d' "$T/m/info"; then
  ok "info is the legacy mesh JSON"; else bad "info: $(cat "$T/m/info")"; fi
# every manifest names its own fragment; every fragment is uint32 nv, 12*nv bytes of
# vertices, then whole triangles (12 bytes each) with indices below nv
frag_bad=0
for id in $(ls "$T/m" | sed -n 's/^\([0-9]*\):0$/\1/p'); do
  man="$T/m/$id:0"
  [ "$(cat "$man")" = "{\"fragments\": [\"$id:0:0\"]}" ] || { frag_bad=1; echo "manifest $man: $(head -c 80 "$man" | tr -cd '[:print:]')"; break; }
  f="$T/m/$id:0:0"
  size=$(stat -c %s "$f")
  nv=$(od -An -tu4 -N4 "$f" | tr -d ' ')
  rest=$((size - 4 - 12 * nv))
  if [ "$nv" -lt 4 ] || [ "$rest" -lt 48 ] || [ $((rest % 12)) != 0 ]; then
    frag_bad=1; echo "fragment $f: size $size, $nv vertices"; break
  fi
  maxi=$(od -An -tu4 -v -j $((4 + 12 * nv)) "$f" | tr -s ' ' '\n' | sort -n | tail -1)
  [ "$maxi" -lt "$nv" ] || { frag_bad=1; echo "fragment $f: index $maxi >= $nv"; break; }
done
[ $frag_bad = 0 ] && ok "manifests and fragments decode by hand" || bad "a manifest or fragment is malformed"
# every non-zero label of the volume got a mesh (labels listed with h5py when present)
if "$PY" -c 'import h5py, numpy' 2>/dev/null; then
  want=$("$PY" -c 'import h5py,numpy,sys; a=h5py.File(sys.argv[1],"r")["gt_bodies"][...]; u=numpy.unique(a); print(" ".join(str(x) for x in u[u != 0]))' "$S")
  got=$(ls "$T/m" | sed -n 's/^\([0-9]*\):0$/\1/p' | sort -n | tr '\n' ' ' | sed 's/ $//')
  [ "$want" = "$got" ] && ok "every label has a mesh" || bad "labels differ: want $(echo $want | wc -w), got $(echo $got | wc -w)"
else
  ok "skip label list (no h5py)"
fi
# ---- threads, filters, formats
expect 0 "mesh with 1 thread" -- "$A" --threads 1 mesh "$S:gt_bodies" "$T/m1"
expect 0 "same bytes for 1 and N threads" -- diff -r "$T/m" "$T/m1"
ids=$(ls "$T/m" | sed -n 's/^\([0-9]*\):0$/\1/p' | sort -n | head -3 | tr '\n' ',' | sed 's/,$//')
expect 0 "--ids $ids" -- "$A" mesh "$S:gt_bodies" "$T/ids" --ids "$ids,999999999,${ids%%,*}"
has "three objects" ": 3 objects"
has "notes the id without voxels" "1 of the 4 --ids got no mesh"
for i in ${ids//,/ }; do cmp -s "$T/m/$i:0:0" "$T/ids/$i:0:0" || bad "--ids: fragment $i differs"; done
expect 0 "--dust 1000" -- "$A" mesh "$S:gt_bodies" "$T/dust" --dust 1000
n_dust=$(ls "$T/dust" | grep -c '^[0-9]*:0$')
[ "$n_dust" -gt 0 ] && [ "$n_dust" -lt "$n_obj" ] && ok "--dust drops small objects ($n_dust left)" || bad "--dust left $n_dust of $n_obj"
expect 0 "--reduction 1 (no simplification)" -- "$A" mesh "$S:gt_bodies" "$T/raw" --ids "$ids" --reduction 1
has "all triangles kept" "100.0% kept"
[ "$(stat -c %s "$T/raw/${ids%%,*}:0:0")" -gt "$(stat -c %s "$T/m/${ids%%,*}:0:0")" ] \
  && ok "simplified fragments are smaller" || bad "simplified fragment not smaller"
expect 0 "--format ply" -- "$A" mesh "$S:gt_bodies" "$T/ply" --format ply --ids "$ids" --smooth 2
first=${ids%%,*}
head -c 36 "$T/ply/$first.ply" | grep -q "format binary_little_endian 1.0" && ok "PLY header" || bad "PLY header"
expect 0 "--format obj" -- "$A" mesh "$S:gt_bodies" "$T/obj" --format obj --ids "$ids" --voxel-size 40,4,4
grep -q '^f ' "$T/obj/$first.obj" && grep -q '^v ' "$T/obj/$first.obj" && ok "OBJ has vertices and faces" || bad "OBJ content"
expect 0 "--max-error" -- "$A" mesh "$S:gt_bodies" "$T/maxerr" --ids "$ids" --max-error 1
expect 0 "OUT with a trailing slash" -- "$A" mesh "$S:gt_bodies" "$T/slash/" --ids "$ids"
[ -f "$T/slash/info" ] && ok "trailing slash: OUT/info written" || bad "trailing slash: no $T/slash/info"
# ---- errors
expect 2 "no OUT" -- "$A" mesh "$S:gt_bodies"
expect 2 "bad reduction" -- "$A" mesh "$S:gt_bodies" "$T/x" --reduction 0
expect 2 "reduction above 1" -- "$A" mesh "$S:gt_bodies" "$T/x" --reduction 1.5
expect 2 "bad dust" -- "$A" mesh "$S:gt_bodies" "$T/x" --dust -3
expect 2 "bad ids" -- "$A" mesh "$S:gt_bodies" "$T/x" --ids 3,x
expect 2 "bad format" -- "$A" mesh "$S:gt_bodies" "$T/x" --format stl
expect 2 "bad voxel size" -- "$A" mesh "$S:gt_bodies" "$T/x" --voxel-size 1,0,1
expect 2 "unknown option" -- "$A" mesh "$S:gt_bodies" "$T/x" --frobnicate
expect 0 "--help" -- "$A" mesh --help
has "help names the options" "--reduction"
expect 1 "missing input" -- "$A" mesh "$T/nope.zarr" "$T/x"
has "names the missing file" "nope.zarr"
expect 1 "existing output" -- "$A" mesh "$S:gt_bodies" "$T/m"
has "says it exists" "exists"
expect 0 "--overwrite" -- "$A" mesh "$S:gt_bodies" "$T/m" --overwrite --ids "$ids"
[ "$(ls "$T/m" | grep -c '^[0-9]*:0$')" = 3 ] && ok "--overwrite replaced the old meshes" || bad "--overwrite left old files"
expect 0 "affinities (4-d float)" -- "$A" affinities-from-labels "$S:gt_bodies" "$T/aff.zarr"
expect 1 "4-d input" -- "$A" mesh "$T/aff.zarr" "$T/x"
has "says 3-d" "3-d"
if "$PY" -c 'import h5py, numpy' 2>/dev/null; then
  "$PY" -c 'import h5py,numpy,sys; h5py.File(sys.argv[1],"w")["f"]=numpy.ones((4,5,6),numpy.float32)' "$T/float.h5"
  expect 1 "float32 input" -- "$A" mesh "$T/float.h5:f" "$T/x"
  has "says integer labels" "integer labels"
fi
[ -e "$T/x" ] && bad "a failed mesh left $T/x" || ok "failed runs leave no output"
ls -A "$T" | grep -q "partial" && bad "a partial build was left" || ok "no partial builds left"

# ---- interrupted: exit 130 and nothing at OUT (heavy smoothing on one thread: seconds)
out="$T/killed"
AX_THREADS=1 "$A" mesh "$S:gt_bodies" "$out" --smooth 400 --reduction 0.02 >/dev/null 2>&1 &
pid=$!
sleep 0.5
kill -s INT $pid 2>/dev/null
wait $pid; st=$?
[ $st = 130 ] && ok "SIGINT exit status 130" || bad "SIGINT exit status $st"
[ -e "$out" ] && bad "SIGINT: $out exists" || ok "SIGINT: no $out"
ls -A "$T" | grep -q "killed.partial" && bad "SIGINT left a partial build" || ok "SIGINT cleaned its partial build"

rm -rf "$T"
echo "cli mesh: $fails failures"
[ $fails -eq 0 ]
