#!/usr/bin/env bash
# test_serve.sh: `axon serve` over loopback: files of the dataset byte for byte with the
# right types and CORS headers, Range, HEAD, gzip-stored chunks, methods, path traversal
# (dot segments, encoded variants, backslashes, NUL, symlinks out of DIR) never reaching a
# file outside DIR, oversized requests refused, 2 x 1000 requests from a load generator
# (tests/serve/loadgen.c) all answered, SIGTERM/SIGINT exit 0; then the start page in
# headless Chromium (tests/serve/browser_test.sh) when chromium and the Neuroglancer bundle
# are installed. Needs curl and a C compiler (for the load generator).
set -u
. "$(dirname "$0")/lib.sh" cli_serve
command -v curl >/dev/null || { echo "FAIL curl is missing (apt-get install curl)"; exit 1; }
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done' EXIT

# ---- a dataset: EM + ground-truth bodies, precomputed, as the other commands write it
D=$T/ds
expect 0 "convert raw to precomputed" -- "$A" convert "$S:raw" "$D/image.precomputed"
expect 0 "convert gt_bodies to a precomputed segmentation" -- "$A" convert "$S:gt_bodies" \
  "$D/segmentation.precomputed" --labels --compression compressed_segmentation
# some segmentation chunks stored gzip-compressed in place, one the cloud-volume way (NAME.gz)
for d in "$D"/segmentation.precomputed/*/; do segdir=${d%/}; break; done # the scale's chunks
chunks=$(ls "$segdir" | head -3)
gz1=$(echo "$chunks" | sed -n 1p) gz2=$(echo "$chunks" | sed -n 2p)
cp "$segdir/$gz1" "$T/gz1.raw" && gzip -c "$T/gz1.raw" >"$segdir/$gz1"
cp "$segdir/$gz2" "$T/gz2.raw" && gzip -c "$T/gz2.raw" >"$segdir/$gz2.gz" && rm "$segdir/$gz2"
expect 0 "axon still reads the gzip-stored chunks" -- "$A" diff "$D/segmentation.precomputed" "$S:gt_bodies"
for d in "$D"/image.precomputed/*/; do imgdir=${d%/}; break; done
chunk=$(ls "$imgdir" | head -1)
# something outside DIR that must never come back, and ways to point at it
echo "axon-secret-$$" >"$T/secret.txt"
ln -s "$T/secret.txt" "$D/image.precomputed/escape"
ln -s "$T" "$D/outside"
ln -s info "$D/image.precomputed/info_alias" # a symlink inside DIR is fine
# a stand-in viewer, to check --web and the content types
W=$T/web
mkdir -p "$W/neuroglancer"
for f in index.html main.bundle.js main.bundle.css main.bundle.js.map x.wasm x.png x.svg; do echo "$f" >"$W/neuroglancer/$f"; done
cp web/index.html "$W/index.html"

# ---- usage
expect 2 "no DIR" -- "$A" serve
expect 2 "bad port" -- "$A" serve "$D" --port 70000
expect 2 "unknown option" -- "$A" serve "$D" --frobnicate
expect 1 "missing DIR" -- "$A" serve "$T/nope"
has "names the missing DIR" "nope"
expect 0 "serve --help" -- "$A" serve --help
has "help explains --web" "web/ beside the axon binary"

# start_server LOGNAME ARGS...: start axon serve, set SPID and URL (http://127.0.0.1:PORT)
start_server() {
  local log=$1; shift
  "$A" serve "$@" --port 0 >"$T/$log.out" 2>"$T/$log.err" &
  SPID=$!; pids+=("$SPID"); URL=
  for _ in $(seq 150); do
    URL=$(sed -n 's|^axon serve: \(http://127\.0\.0\.1:[0-9]*\)/$|\1|p' "$T/$log.out")
    [ -n "$URL" ] && return 0
    kill -0 $SPID 2>/dev/null || break
    sleep 0.1
  done
  return 1
}
# get ARGS...: curl into $T/h (headers, CR stripped) and $T/b (body); code in $code
get() {
  code=$(curl -s --path-as-is -m 20 -D "$T/h.raw" -o "$T/b" -w '%{http_code}' "$@")
  tr -d '\r' <"$T/h.raw" >"$T/h"
}
hdr() { # DESC PATTERN: a response header matches
  if grep -qi -- "$2" "$T/h"; then ok "$1"; else bad "$1: no '$2' in:"; sed 's/^/     /' "$T/h" | head -12; fi
}
is() { # DESC GOT WANT
  if [ "$2" = "$3" ]; then ok "$1"; else bad "$1: got '$2', wanted '$3'"; fi
}

start_server srv "$D" --web "$W" && ok "listening: $URL" || { bad "no URL printed"; cat "$T/srv.err"; exit 1; }
grep -q "^axon serve: http://127.0.0.1:[0-9]*/$" "$T/srv.out" && ok "URL on one line" || bad "URL line"

# ---- files: types, CORS, bytes
get "$URL/data/image.precomputed/info"
is "info: 200" "$code" 200
hdr "info: application/json" "^Content-Type: application/json"
hdr "info: CORS" "^Access-Control-Allow-Origin: \*"
cmp -s "$T/b" "$D/image.precomputed/info" && ok "info: the file's bytes" || bad "info bytes differ"
get "$URL/data/image.precomputed/info_alias"
is "symlink inside DIR: 200" "$code" 200
get "$URL/data/image.precomputed/${imgdir##*/}/$chunk"
is "chunk: 200" "$code" 200
hdr "chunk: application/octet-stream" "^Content-Type: application/octet-stream"
hdr "chunk: Accept-Ranges" "^Accept-Ranges: bytes"
cmp -s "$T/b" "$imgdir/$chunk" && ok "chunk: byte-identical" || bad "chunk bytes differ"
size=$(stat -c %s "$imgdir/$chunk")
# ---- Range
get -r 100-1123 "$URL/data/image.precomputed/${imgdir##*/}/$chunk"
is "range a-b: 206" "$code" 206
hdr "range a-b: Content-Range" "^Content-Range: bytes 100-1123/$size$"
tail -c +101 "$imgdir/$chunk" | head -c 1024 | cmp -s - "$T/b" && ok "range a-b: the right bytes" || bad "range a-b bytes"
get -H "Range: bytes=1000-" "$URL/data/image.precomputed/${imgdir##*/}/$chunk"
is "range a-: 206" "$code" 206
tail -c +1001 "$imgdir/$chunk" | cmp -s - "$T/b" && ok "range a-: the right bytes" || bad "range a- bytes"
get -H "Range: bytes=-77" "$URL/data/image.precomputed/${imgdir##*/}/$chunk"
hdr "range -n: Content-Range" "^Content-Range: bytes $((size - 77))-$((size - 1))/$size$"
tail -c 77 "$imgdir/$chunk" | cmp -s - "$T/b" && ok "range -n: the right bytes" || bad "range -n bytes"
get -H "Range: bytes=$size-" "$URL/data/image.precomputed/${imgdir##*/}/$chunk"
is "range past the end: 416" "$code" 416
hdr "416 says the size" "^Content-Range: bytes \*/$size$"
get -H "Range: bytes=0-1,5-9" "$URL/data/image.precomputed/${imgdir##*/}/$chunk"
is "several ranges: the whole file" "$code" 200
# ---- HEAD, OPTIONS, other methods, bodies
get -I "$URL/data/image.precomputed/${imgdir##*/}/$chunk"
is "HEAD: 200" "$code" 200
hdr "HEAD: Content-Length" "^Content-Length: $size$"
# what comes back on the wire: headers only
port=${URL##*:}
if exec 3<>"/dev/tcp/127.0.0.1/$port"; then
  printf 'HEAD /data/image.precomputed/%s/%s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' "${imgdir##*/}" "$chunk" >&3
  timeout 10 cat <&3 >"$T/head.raw"; exec 3<&-
  [ "$(sed -n '/^\r$/,$p' "$T/head.raw" | wc -c)" = 2 ] && ok "HEAD: no body" || bad "HEAD sent a body"
else
  bad "cannot connect for HEAD"
fi
get -X OPTIONS -H "Origin: http://example.org" -H "Access-Control-Request-Method: GET" \
  -H "Access-Control-Request-Headers: range" "$URL/data/image.precomputed/info"
is "OPTIONS preflight: 204" "$code" 204
hdr "preflight: methods" "^Access-Control-Allow-Methods: GET, HEAD, OPTIONS"
hdr "preflight: Range allowed" "^Access-Control-Allow-Headers: .*Range"
for m in POST PUT DELETE PATCH; do
  get -X $m --data-binary "x" "$URL/data/image.precomputed/info"
  is "$m: 405" "$code" 405
done
hdr "405 says what is allowed" "^Allow: GET, HEAD, OPTIONS"
get -X GET --data-binary "a body" "$URL/data/image.precomputed/info"
is "GET with a body: 413" "$code" 413
# ---- gzip-stored chunks
get -H "Accept-Encoding: gzip" "$URL/data/segmentation.precomputed/${segdir##*/}/$gz1"
hdr "gzip-stored: Content-Encoding gzip" "^Content-Encoding: gzip"
cmp -s "$T/b" "$segdir/$gz1" && ok "gzip-stored: sent as stored" || bad "gzip-stored bytes"
get --compressed "$URL/data/segmentation.precomputed/${segdir##*/}/$gz1"
cmp -s "$T/b" "$T/gz1.raw" && ok "gzip-stored: decodes to the chunk" || bad "gzip-stored decoded differs"
get "$URL/data/segmentation.precomputed/${segdir##*/}/$gz1"
grep -qi "^Content-Encoding" "$T/h" && bad "no Accept-Encoding: still gzip" || ok "no Accept-Encoding: sent inflated"
cmp -s "$T/b" "$T/gz1.raw" && ok "inflated: the chunk's bytes" || bad "inflated bytes differ"
get --compressed "$URL/data/segmentation.precomputed/${segdir##*/}/$gz2"
is "NAME.gz found for NAME" "$code" 200
cmp -s "$T/b" "$T/gz2.raw" && ok "NAME.gz: decodes to the chunk" || bad "NAME.gz bytes differ"
# ---- the viewer (stand-in) and the start page
for f in index.html:text/html main.bundle.js:text/javascript main.bundle.css:text/css \
         main.bundle.js.map:application/json x.wasm:application/wasm x.png:image/png x.svg:image/svg+xml; do
  get "$URL/neuroglancer/${f%%:*}"
  is "viewer ${f%%:*}: 200" "$code" 200
  hdr "viewer ${f%%:*}: ${f#*:}" "^Content-Type: ${f#*:}"
done
get "$URL/"
is "start page: 200" "$code" 200
hdr "start page: HTML" "^Content-Type: text/html"
grep -q '"source":"/data/image.precomputed"' "$T/b" && ok "page: image layer" || bad "page: no image layer"
grep -q '"type":"segmentation","source":"/data/segmentation.precomputed"' "$T/b" && ok "page: segmentation layer" || bad "page: no segmentation layer"
grep -q '"viewer":true' "$T/b" && ok "page: viewer found with --web" || bad "page: viewer not found"
grep -q 'neuroglancer/index.html' "$T/b" && ok "page: opens /neuroglancer/" || bad "page: no redirect"
grep -q 'outside' "$T/b" && bad "page lists the symlink out of DIR" || ok "page ignores the symlink out of DIR"

# ---- path traversal: 403 or 404, never the outside file
for p in "/../secret.txt" "/data/../secret.txt" "/data/../../etc/passwd" "/data/image.precomputed/../../secret.txt" \
         "/data/%2e%2e/secret.txt" "/data/%2E%2E/%2e%2e/etc/passwd" "/data/..%2fsecret.txt" "/data/%2e%2e%2fsecret.txt" \
         "/data/%2e%2e%2f%2e%2e%2fetc%2fpasswd" "/data/image.precomputed%2f..%2f..%2fsecret.txt" "//etc/passwd" \
         "/data//etc/passwd" "/data/%2fetc%2fpasswd" '/data/..\secret.txt' '/data/..%5csecret.txt' '/data/%5c..%5c..%5cetc%5cpasswd' \
         "/data/image.precomputed/escape" "/data/outside/secret.txt" "/data/image.precomputed/info%00" \
         "/data/image.precomputed/info%00.png" "/data/./image.precomputed/info" "/data/.hidden" "/neuroglancer/../../secret.txt" \
         "/neuroglancer/%2e%2e/index.html" "/data/" "/data"; do
  get "$URL$p"
  case $code in
    403|404) if grep -q "axon-secret-$$\|root:" "$T/b"; then bad "$p: leaked the file ($code)"; else ok "refused $p ($code)"; fi ;;
    *) bad "$p: status $code"; head -c 200 "$T/b" ;;
  esac
done

# ---- oversized requests: refused, and the server goes on
long=$(head -c 9000 /dev/zero | tr '\0' a)
get "$URL/data/$long"
case $code in 413|414|431|000) ok "long path refused ($code)" ;; *) bad "long path: $code" ;; esac
huge=$(head -c 120000 /dev/zero | tr '\0' a)
get "$URL/data/$huge"
case $code in 413|414|431|000) ok "120 KB path refused ($code)" ;; *) bad "120 KB path: $code" ;; esac
get -H "X-Big: $huge" "$URL/data/image.precomputed/info"
case $code in 413|414|431|000) ok "120 KB header refused ($code)" ;; *) bad "120 KB header: $code" ;; esac
hs=(); for i in $(seq 300); do hs+=(-H "X-H$i: $(head -c 100 /dev/zero | tr '\0' b)"); done
get "${hs[@]}" "$URL/data/image.precomputed/info"
case $code in 413|414|431|000) ok "300 headers refused ($code)" ;; *) bad "300 headers: $code" ;; esac
get "$URL/data/image.precomputed/info"
is "still serving after the oversized requests" "$code" 200

# ---- load: 2 x 1000 requests over 64 / 100 parallel connections, all answered 200
LG=$T/loadgen
if ${CC:-cc} -O2 -pthread -o "$LG" tests/serve/loadgen.c 2>"$T/out"; then
  paths=$(cd "$D" && find image.precomputed segmentation.precomputed -type f ! -name escape ! -name info_alias | sed 's|^|/data/|; s|\.gz$||')
  expect 0 "1000 requests, 64 keep-alive connections" -- timeout 120 "$LG" -c 64 -n 1000 -t 100 --gzip "$URL" $paths
  cat "$T/out"
  expect 0 "1000 requests, 100 connections, one request each" -- timeout 120 "$LG" -c 100 -n 1000 -t 100 --close --gzip "$URL" $paths
  cat "$T/out"
else
  bad "cannot build tests/serve/loadgen.c"; cat "$T/out"
fi
get "$URL/data/image.precomputed/info"
is "still serving after the load" "$code" 200

# ---- SIGTERM: exit 0
kill -TERM $SPID; wait $SPID; st=$?
is "SIGTERM: exit 0" "$st" 0
grep -q "stopped (SIGTERM)" "$T/srv.err" && ok "says it stopped" || bad "no stop message"

# ---- DIR is one volume; --no-browser-page; SIGINT
start_server one "$D/image.precomputed" --no-browser-page && ok "serving one volume" || bad "no URL (one volume)"
get "$URL/data/info"
is "one volume: /data/info" "$code" 200
get "$URL/"
is "--no-browser-page: no page" "$code" 404
get "$URL/neuroglancer/index.html"
is "--no-browser-page: no viewer" "$code" 404
kill -INT $SPID; wait $SPID; st=$?
is "SIGINT: exit 0" "$st" 0
start_server one2 "$D/image.precomputed" --web "$W" && ok "one volume with a page" || bad "no URL"
get "$URL/"
grep -q '"name":"image","type":"image","source":"/data"' "$T/b" && ok "one volume: one image layer at /data" || { bad "one volume page"; head -c 300 "$T/b"; }
kill -TERM $SPID; wait $SPID
# a segmentation whose info names meshes: its largest segments are selected, 4 panels
mkdir -p "$T/meshed" && cp -r "$D/segmentation.precomputed" "$T/meshed/seg"
sed -i 's/^{/{"mesh": "mesh", /' "$T/meshed/seg/info"
start_server meshed "$T/meshed" --web "$W" --segments 3 && ok "serving a meshed segmentation" || bad "no URL"
get "$URL/"
grep -q '"mesh":true,"skeletons":false,"segments":\["114488","24720","57746"\]' "$T/b" && ok "the 3 largest segments selected" || { bad "segments"; grep -o 'const AXON.*' "$T/b"; }
grep -q '"layout":"4panel"' "$T/b" && ok "4-panel layout for meshes" || bad "layout"
kill -TERM $SPID; wait $SPID

# ---- exhaustion: 400 idle connections from one address (the per-address cap is 256): the
# extra ones are closed at once, the rest after the idle timeout, then it serves again
PY=${PYTHON:-/usr/bin/python3}
start_server idle "$D" --no-browser-page --timeout 1 && ok "serving with --timeout 1" || bad "no URL"
expect 0 "400 idle connections: capped, timed out, then served" -- timeout 60 "$PY" - "${URL##*:}" <<'PYEOF'
import socket, sys, time, urllib.request
port = int(sys.argv[1])
socks = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(400)]
def closed():
    n = 0
    for s in socks:
        s.setblocking(False)
        try:
            n += s.recv(1) == b""
        except BlockingIOError:
            pass
        except OSError:
            n += 1
    return n
time.sleep(0.5)
first = closed()
time.sleep(3)
later = closed()
code = urllib.request.urlopen(f"http://127.0.0.1:{port}/data/image.precomputed/info", timeout=5).status
print(f"closed at once: {first}, after the timeout: {later}, then GET: {code}")
sys.exit(0 if first >= 100 and later == 400 and code == 200 else 1)
PYEOF
cat "$T/out"
kill -TERM $SPID; wait $SPID; st=$?
is "after the exhaustion attempt: exit 0" "$st" 0

# ---- --gzip: uncompressed chunks compressed on the fly for clients that accept it
start_server gz "$D" --no-browser-page --gzip && ok "serving with --gzip" || bad "no URL"
get --compressed "$URL/data/image.precomputed/${imgdir##*/}/$chunk"
hdr "--gzip: Content-Encoding gzip" "^Content-Encoding: gzip"
cmp -s "$T/b" "$imgdir/$chunk" && ok "--gzip: decodes to the chunk" || bad "--gzip bytes differ"
get -r 10-19 --compressed "$URL/data/image.precomputed/${imgdir##*/}/$chunk"
grep -qi "^Content-Encoding" "$T/h" && bad "--gzip: a range came compressed" || ok "--gzip: ranges stay identity"
tail -c +11 "$imgdir/$chunk" | head -c 10 | cmp -s - "$T/b" && ok "--gzip: range bytes" || bad "--gzip range bytes"
get "$URL/data/image.precomputed/${imgdir##*/}/$chunk"
cmp -s "$T/b" "$imgdir/$chunk" && ok "--gzip: identity for clients without gzip" || bad "--gzip identity bytes"
kill -TERM $SPID; wait $SPID

# ---- a real browser on the start page (skipped without chromium or the bundle)
shot=${AX_TEST_TMP:-$T}/serve_screenshot.png
bash tests/serve/browser_test.sh "$D" "$shot"; st=$?
case $st in
  0) ok "browser: Neuroglancer shows the segments over the EM ($shot)"
     cp "$shot" "$(dirname "$A")/serve_screenshot.png" 2>/dev/null ;;
  77) echo "skip browser test" ;;
  *) bad "browser test (screenshot $shot)" ;;
esac

rm -rf "$T"
echo "cli serve: $fails failures"
[ $fails -eq 0 ]
