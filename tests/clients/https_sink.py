#!/usr/bin/env python3
"""An HTTPS server for the delivery tests (Python's standard library).

Usage: https_sink.py PORT CERT KEY OUT.jsonl

Listens on 127.0.0.1:PORT with TLS (CERT and KEY, PEM), answers every
POST with 200 and appends {"path", "headers", "body"} to OUT.jsonl.
Prints "ready" once it listens; runs until killed.
"""

import http.server
import json
import ssl
import sys


def main():
    port, cert, key, out = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length).decode("utf-8", "replace")
            line = {
                "path": self.path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body,
            }
            with open(out, "a", encoding="utf-8") as f:
                f.write(json.dumps(line) + "\n")
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
