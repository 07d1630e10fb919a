#!/usr/bin/env bash
# browser_test.sh: `axon serve` in a real browser. Starts the server on DATASET (loopback,
# any free port), loads its start page in headless Chromium, which redirects to the bundled
# Neuroglancer with the dataset's layers, takes screenshots with a growing virtual-time
# budget until tests/serve/check_screenshot.py sees coloured segments over grey EM, and
# keeps the last screenshot at OUT_PNG.
#
#   AXON=build/axon bash tests/serve/browser_test.sh DATASET OUT_PNG
#
# Env: AXON (the binary), CHROMIUM (the browser; default chromium), PYTHON (python3 with
# numpy and PIL), AXON_WEB (--web; default: the binary's own lookup).
# Exit 0: passed, 1: failed, 77: skipped (no browser, no Neuroglancer bundle, no PIL).
# Chromium may reach nothing but 127.0.0.1: every other host name resolves to nothing.
set -u
here=$(cd "$(dirname "$0")" && pwd)
A=${AXON:-build/axon}
PY=${PYTHON:-/usr/bin/python3}
[ -x "$PY" ] || PY=python3
ds=${1:?usage: browser_test.sh DATASET OUT_PNG}
out=${2:?usage: browser_test.sh DATASET OUT_PNG}

browser=${CHROMIUM:-}
if [ -z "$browser" ]; then
  for b in chromium chromium-browser google-chrome; do
    command -v "$b" >/dev/null && { browser=$b; break; }
  done
fi
[ -n "$browser" ] || { echo "browser test: skipped (no chromium; apt-get install chromium)"; exit 77; }
web=${AXON_WEB:-$(dirname "$A")/web}
[ -f "$web/neuroglancer/index.html" ] || {
  echo "browser test: skipped (no Neuroglancer bundle in $web/neuroglancer; run BUILD=$(dirname "$A") bash scripts/neuroglancer.sh)"
  exit 77
}
"$PY" -c "import numpy, PIL" 2>/dev/null || { echo "browser test: skipped (no numpy/PIL for $PY)"; exit 77; }

tmp=$(mktemp -d "${AX_TEST_TMP:-/tmp}/browser.XXXXXX")
"$A" serve "$ds" --port 0 --web "$web" --log >"$tmp/serve.out" 2>"$tmp/serve.err" &
spid=$!
trap 'kill $spid 2>/dev/null; rm -rf "$tmp"' EXIT
url=
for _ in $(seq 100); do
  url=$(sed -n 's|^axon serve: \(http://127\.0\.0\.1:[0-9]*/\)$|\1|p' "$tmp/serve.out")
  [ -n "$url" ] && break
  kill -0 $spid 2>/dev/null || break
  sleep 0.1
done
[ -n "$url" ] || { echo "browser test: FAIL: the server printed no URL"; cat "$tmp/serve.err"; exit 1; }
echo "browser test: $url with $browser"

status=1
for budget in 8000 20000 60000; do
  rm -f "$tmp/shot.png"
  timeout 180 "$browser" --headless --no-sandbox --disable-gpu --enable-unsafe-swiftshader \
    --disable-background-networking --disable-component-update --disable-sync \
    --disable-extensions --no-first-run --no-default-browser-check --hide-scrollbars \
    --host-resolver-rules="MAP * ~NOTFOUND, EXCLUDE 127.0.0.1" \
    --user-data-dir="$tmp/profile" --window-size=1280,900 \
    --virtual-time-budget=$budget --screenshot="$tmp/shot.png" "$url" >"$tmp/chromium.log" 2>&1
  if [ ! -s "$tmp/shot.png" ]; then
    echo "browser test: no screenshot (budget $budget ms)"; tail -5 "$tmp/chromium.log"
    continue
  fi
  mkdir -p "$(dirname "$out")"
  cp "$tmp/shot.png" "$out"
  if "$PY" "$here/check_screenshot.py" "$tmp/shot.png"; then status=0; break; fi
  echo "browser test: not loaded yet with a virtual-time budget of $budget ms"
done
kill -TERM $spid; wait $spid; st=$?
trap 'rm -rf "$tmp"' EXIT
[ $st = 0 ] || { echo "browser test: FAIL: server exit status $st after SIGTERM"; status=1; }
# what the browser asked for (--log): the page, the viewer, the data, all answered
n_data=$(grep -c "GET /data/.* 200 " "$tmp/serve.err")
n_viewer=$(grep -c "GET /neuroglancer/main.bundle.js 200 " "$tmp/serve.err")
n_bad=$(grep -E "GET /(data|neuroglancer)/.* [45][0-9][0-9] " "$tmp/serve.err" | grep -vc "favicon")
echo "browser test: served $n_data data files, the viewer $n_viewer time(s), $n_bad refused"
[ "$n_data" -gt 0 ] && [ "$n_viewer" -gt 0 ] || { echo "browser test: FAIL: the browser fetched no data"; status=1; }
[ "$n_bad" = 0 ] || { grep -E " [45][0-9][0-9] " "$tmp/serve.err" | head -5; }
[ $status = 0 ] && echo "browser test: ok, screenshot $out" || echo "browser test: FAIL, last screenshot $out"
exit $status
