#!/usr/bin/env python3
"""bench/serve: `axon serve` against Python's http.server, chunk fetches over loopback,
in one run, driven by the same load generator (tests/serve/loadgen.c, compiled here).

Dataset: `axon export-precomputed` of the bundled sample (data/sample/medulla_z120-149.h5,
raw + gt_bodies, no meshes or skeletons): image (raw uint8) and segmentation
(compressed_segmentation) chunks at 2 scales, 40 files of 2-123 KB (~59 KB on average).
Every request is one of those chunk files, cycling through the list.

Servers (all on 127.0.0.1, port 0 = a free port; all three run for the whole bench and
the repeats are interleaved, so slow spells of the shared machine hit every side alike):
- axon: `axon serve DIR --port 0 --no-browser-page --workers 2` (2 worker threads),
  URLs /data/<volume>/...
- python (keep-alive): bench/serve/pyserve.py: the standard library's ThreadingHTTPServer
  + SimpleHTTPRequestHandler answering HTTP/1.1 with TCP_NODELAY and a listen backlog of
  128, the best the stdlib does without writing a server. A thread per connection, under
  the GIL.
- python -m http.server: `python3 -m http.server --bind 127.0.0.1 0 --directory DIR` as
  shipped: HTTP/1.0, so a new connection per request, listen backlog 5.
Load: loadgen -c 64: keep-alive runs send --requests (20000) requests over 64 connections
to axon and pyserve.py; connection-per-request runs (loadgen --close) send
--close-requests (1000) to axon and to the stock `python3 -m http.server`.
Reported: requests/s and MiB/s (loadgen's), min and median of --reps, and the ratios.
Every server is stopped at the end, also on errors and on SIGINT/SIGTERM (and dies with
this process if it is killed: PR_SET_PDEATHSIG).
"""
import argparse
import ctypes
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
_libc = ctypes.CDLL(None, use_errno=True)


def _die_with_parent():
    _libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _stop(*_):
    raise SystemExit(130)


class Server:
    def __init__(self, name, cmd, url_re, work, env=None):
        self.name = name
        self.out = open(os.path.join(work, f"{name}.out"), "w+")
        self.err = open(os.path.join(work, f"{name}.err"), "w+")
        self.p = subprocess.Popen(cmd, stdout=self.out, stderr=self.err, stdin=subprocess.DEVNULL,
                                  preexec_fn=_die_with_parent, env=env)
        deadline = time.monotonic() + 15
        self.url = None
        while self.url is None:
            self.out.seek(0)
            m = re.search(url_re, self.out.read())
            if m:
                self.url = f"http://127.0.0.1:{m.group(1)}"
            elif self.p.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start: {self.tail()}")
            else:
                time.sleep(0.05)

    def tail(self):
        self.err.seek(0)
        return self.err.read()[-1500:]

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(5)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.out.close()
        self.err.close()


def loadgen(lg, server, paths, n, close, conns, timeout):
    cmd = [lg, "-c", str(conns), "-n", str(n), "-t", str(timeout)]
    if close:
        cmd.append("--close")
    r = subprocess.run(cmd + [server.url] + paths, capture_output=True, text=True)
    m = re.search(r"(\d+) ok, (\d+) failed.*?([0-9.]+) s, (\d+) req/s, ([0-9.]+) MiB/s", r.stdout)
    if r.returncode != 0 or not m:
        raise RuntimeError(f"loadgen on {server.name} failed (exit {r.returncode}): "
                           f"{r.stdout}{r.stderr}\nserver: {server.tail()}")
    return float(m.group(4)), float(m.group(5))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--axon", default=os.path.join(ROOT, "build", "axon"))
    ap.add_argument("--requests", type=int, default=20000, help="per keep-alive run")
    ap.add_argument("--close-requests", type=int, default=1000, help="per connection-per-request run")
    ap.add_argument("--conns", type=int, default=64)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--workers", type=int, default=2, help="axon serve --workers")
    ap.add_argument("--timeout", type=int, default=60, help="seconds, per load generator run")
    a = ap.parse_args()
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    sample = os.path.join(ROOT, "data", "sample", "medulla_z120-149.h5")
    work = tempfile.mkdtemp(prefix="axon-bench-serve-")
    servers = []
    try:
        env = dict(os.environ, AX_PROGRESS="0")
        ds = os.path.join(work, "ds")
        subprocess.run([a.axon, "--threads", "2", "export-precomputed", "-o", ds, "--raw",
                        f"{sample}:raw", "--seg", f"{sample}:gt_bodies", "--no-meshes",
                        "--no-skeletons"], check=True, capture_output=True, env=env)
        lg = os.path.join(work, "loadgen")
        subprocess.run(["cc", "-O2", "-pthread", "-o", lg, os.path.join(ROOT, "tests", "serve", "loadgen.c")],
                       check=True)
        files = sorted(os.path.relpath(os.path.join(d, f), ds) for d, _, fs in os.walk(ds)
                       for f in fs if f != "info")
        sizes = [os.path.getsize(os.path.join(ds, f)) for f in files]

        ax = Server("axon", [a.axon, "serve", ds, "--port", "0", "--no-browser-page", "--workers",
                             str(a.workers)], r"http://127\.0\.0\.1:(\d+)/", work, env)
        servers.append(ax)
        py = Server("pyserve", [sys.executable, os.path.join(HERE, "pyserve.py"), "0", ds],
                    r"http://127\.0\.0\.1:(\d+)/", work)
        servers.append(py)
        stock = Server("http.server", [sys.executable, "-u", "-m", "http.server", "--bind", "127.0.0.1",
                                       "0", "--directory", ds], r"port (\d+)", work)
        servers.append(stock)
        ax_paths = ["/data/" + f for f in files]
        py_paths = ["/" + f for f in files]

        runs = [  # (label, server, paths, requests, close)
            ("axon serve, keep-alive", ax, ax_paths, a.requests, False),
            ("python ThreadingHTTPServer, keep-alive", py, py_paths, a.requests, False),
            ("axon serve, connection per request", ax, ax_paths, a.close_requests, True),
            ("python3 -m http.server (HTTP/1.0)", stock, py_paths, a.close_requests, True),
        ]
        for _, s, p, _, close in runs:  # warm-up: page cache, threads, code paths
            loadgen(lg, s, p, 200, close, a.conns, a.timeout)
        res = {r[0]: [] for r in runs}
        for _ in range(a.reps):
            for label, s, p, n, close in runs:
                res[label].append(loadgen(lg, s, p, n, close, a.conns, a.timeout))
    finally:
        for s in servers:
            s.stop()
        shutil.rmtree(work, ignore_errors=True)

    print(f"chunk fetches over loopback (127.0.0.1): {len(files)} chunk files of the sample's "
          f"precomputed export ({min(sizes) / 1e3:.0f}-{max(sizes) / 1e3:.0f} KB, mean "
          f"{sum(sizes) / len(sizes) / 1e3:.0f} KB), tests/serve/loadgen.c with {a.conns} connections")
    print(f"axon serve --workers {a.workers}; the Python servers run a thread per connection "
          f"under the GIL; {a.reps} runs of each, interleaved")
    hdr = (f"{'server, connections':<40} {'requests':>8} {'req/s max':>10} {'req/s med':>10} "
           f"{'MiB/s med':>10}")
    print(hdr)
    print("-" * len(hdr))
    med = {}
    for label, _, _, n, _ in runs:
        rq = [r[0] for r in res[label]]
        mb = [r[1] for r in res[label]]
        med[label] = statistics.median(rq)
        print(f"{label:<40} {n:>8} {max(rq):>10.0f} {statistics.median(rq):>10.0f} "
              f"{statistics.median(mb):>10.1f}")
    ka = med["axon serve, keep-alive"] / med["python ThreadingHTTPServer, keep-alive"]
    cl = med["axon serve, connection per request"] / med["python3 -m http.server (HTTP/1.0)"]
    print(f"axon / python, keep-alive (HTTP/1.1, TCP_NODELAY, backlog 128: bench/serve/pyserve.py): "
          f"{ka:.1f}x the requests/s (median)")
    print(f"axon / `python3 -m http.server` as shipped (a connection per request both): "
          f"{cl:.1f}x the requests/s (median); most of that gap is the stock server's listen "
          f"backlog of 5: with {a.conns} clients connecting at once the kernel drops SYNs and the "
          f"clients retry after 1 s")
    print("(req/s max: the best run; the load generator's 64 threads share the 2 cores with the "
          "server.) The machine is shared with another heavy job during this run: absolute "
          "rates are noisy; the ratios compare runs interleaved in this run.")


if __name__ == "__main__":
    main()
