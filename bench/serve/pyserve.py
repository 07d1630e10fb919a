#!/usr/bin/env python3
"""bench/serve peer: the Python standard library's static file server (http.server,
ThreadingHTTPServer + SimpleHTTPRequestHandler, a thread per connection) set up as well as
it can be without writing a server: HTTP/1.1 (keep-alive; `python3 -m http.server` answers
HTTP/1.0, a new connection per request), TCP_NODELAY (without it each keep-alive response
waits ~40 ms on Nagle + delayed ACK: headers and body go out in two writes) and a listen
backlog of 128 (the default 5 drops connections when 64 clients connect at once).
No request log. Listens on 127.0.0.1 only; prints "http://127.0.0.1:PORT/" once listening.
Usage: pyserve.py PORT DIR   (PORT 0: any free port)
"""
import functools
import http.server
import sys


class Handler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass


class Server(http.server.ThreadingHTTPServer):
    request_queue_size = 128


srv = Server(("127.0.0.1", int(sys.argv[1])), functools.partial(Handler, directory=sys.argv[2]))
print(f"http://127.0.0.1:{srv.server_address[1]}/", flush=True)
srv.serve_forever()
