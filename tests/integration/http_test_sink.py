"""A fault-injecting HTTP log sink for the integration tests (standard library only).

It records every request it reads (method, path, headers, body, gzip decoded) and answers from
a script the test sets: each request takes the next action, then 200 once the script is empty.
Actions:
  200, 204, 400, 500, 503, ...   answer with that status
  "429:N" / "503:N"              answer with `Retry-After: N`
  "drop"                         read the request, then close the connection without an answer
                                 (not stored: the proxy does not know the outcome)
  "store-drop"                   store the request as received, then close without an answer
                                 (the case where a 2xx is lost: the proxy sends it again)
  "hang"                         store nothing and answer nothing until release() is called,
                                 then answer 200 and store it
  ("bulk", [201, 429, 400, ...]) answer 200 with an Elasticsearch `_bulk` body: `"errors":true`
                                 and one item per status, in order; failed items carry an error
                                 whose reason quotes `BULK_REASON_CANARY`, as Elasticsearch quotes
                                 the value that failed to parse. The request is stored.
With `tls` (an ssl.SSLContext) it speaks HTTPS. The real Elasticsearch, Loki and Splunk are not
Debian packages; their request shapes are asserted by the tests against their documentation.
"""

import gzip
import http.server
import json
import socket
import threading
import time

BULK_REASON_CANARY = "Amra Bulkreason-Canary"


def bulk_answer(statuses):
    items = []
    for status in statuses:
        result = {"_index": "logs", "_id": "x%d" % len(items), "status": status}
        if status >= 300:
            result["error"] = {"type": "mapper_parsing_exception",
                               "reason": "Preview of field's value: '%s'" % BULK_REASON_CANARY}
        items.append({"index": result})
    return json.dumps({"took": 7, "errors": True, "items": items}).encode()


class Request:
    def __init__(self, method, path, headers, raw, body, at):
        self.method = method
        self.path = path
        self.headers = headers  # lower-case name -> value
        self.raw = raw          # as received
        self.body = body        # gzip decoded when Content-Encoding says so
        self.at = at            # time.monotonic() when it was read


class HttpTestSink:
    def __init__(self, tls=None):
        self.requests = []      # stored (acknowledged or store-drop) requests
        self.seen = []          # every request read, whatever the answer
        self.script = []
        self.cond = threading.Condition()
        self.released = threading.Event()
        self.hanging = 0
        sink = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                body = raw
                if self.headers.get("Content-Encoding", "").lower() == "gzip":
                    body = gzip.decompress(raw)
                req = Request(self.command, self.path,
                              {k.lower(): v for k, v in self.headers.items()}, raw, body,
                              time.monotonic())
                with sink.cond:
                    action = sink.script.pop(0) if sink.script else 200
                    sink.seen.append(req)
                    sink.cond.notify_all()
                if action == "hang":
                    with sink.cond:
                        sink.hanging += 1
                        sink.cond.notify_all()
                    sink.released.wait()
                    action = 200
                if action in ("drop", "store-drop"):
                    if action == "store-drop":
                        sink.store(req)
                    self.close_connection = True
                    try:
                        self.connection.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    return
                if isinstance(action, tuple) and action[0] == "bulk":
                    sink.store(req)
                    reply = bulk_answer(action[1])
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(reply)))
                    self.end_headers()
                    self.wfile.write(reply)
                    return
                status, retry_after = action, None
                if isinstance(action, str):
                    status, retry_after = (int(x) for x in action.split(":"))
                if 200 <= status < 300:
                    sink.store(req)
                reply = b'{"ok":true}' if status < 300 else b'{"error":"scripted"}'
                self.send_response(status)
                if retry_after is not None:
                    self.send_header("Retry-After", str(retry_after))
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def get_request(self):
                conn, addr = self.socket.accept()
                if tls is not None:
                    try:
                        conn = tls.wrap_socket(conn, server_side=True)
                    except (OSError, ValueError):
                        conn.close()
                        raise OSError("TLS handshake failed")
                return conn, addr

            def handle_error(self, request, client_address):
                pass  # resets and failed handshakes are part of the tests

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def store(self, req):
        with self.cond:
            self.requests.append(req)
            self.cond.notify_all()

    def set_script(self, actions):
        with self.cond:
            self.script = list(actions)

    def release(self):
        self.released.set()

    def wait(self, predicate, what, timeout=60.0):
        end = time.monotonic() + timeout
        with self.cond:
            while not predicate():
                left = end - time.monotonic()
                if left <= 0:
                    raise AssertionError("timed out waiting for the HTTP sink: %s" % what)
                self.cond.wait(min(left, 1.0))

    def records(self, split=None):
        """Every stored record, in order (NDJSON bodies by default)."""
        with self.cond:
            bodies = [r.body for r in self.requests]
        out = []
        for body in bodies:
            out.extend(split(body) if split else [l for l in body.split(b"\n") if l])
        return out

    def close(self):
        self.released.set()
        self.server.shutdown()
        self.server.server_close()
