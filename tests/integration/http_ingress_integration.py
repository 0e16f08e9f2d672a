#!/usr/bin/env python3
"""Integration tests for the HTTP ingress (`--listen http://…`): the real binary and the real
`curl` binary, port 0 everywhere, waits on log lines or sink counts with deadlines, never sleeps.

Run one test:  http_ingress_integration.py --binary build/scrubproxy HttpIngress.test_formats
Reuses the helpers of proxy_integration.py (Proxy, LineSink, corpus, canaries).
"""

import gzip
import os
import re
import signal
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import proxy_integration as pi  # noqa: E402

KEY_A = "k" * 8 + "A" * 24 + "-rotation-old"
KEY_B = "k" * 8 + "B" * 24 + "-rotation-new"
PASSWORD = "correct horse battery"


class HttpIngress(unittest.TestCase):
    # The fixture of proxy_integration.py (temporary directory, processes killed at the end),
    # without inheriting its tests.
    setUp = pi.ProxyIntegration.setUp
    tearDown = pi.ProxyIntegration.tearDown
    _outcome_ok = pi.ProxyIntegration._outcome_ok
    proxy = pi.ProxyIntegration.proxy
    sink = pi.ProxyIntegration.sink
    write = pi.ProxyIntegration.write

    def http_config(self, sink_port, http_block="", workers=1):
        return self.write("http.yaml", (
            "version: 1\n"
            "workers: %d\n"
            "log:\n  level: info\n  stats_interval: 0\n"
            "listeners:\n  - name: web\n    listen: http://127.0.0.1:0\n"
            "    rules: [openfn-retry-ids]\n    sinks: [out]\n%s"
            "sinks:\n  - name: out\n    address: tcp://127.0.0.1:%d\n"
        ) % (workers, http_block, sink_port))

    def start(self, http_block="", env=None, extra=()):
        sink = self.sink().listen()
        config = self.http_config(sink.port, http_block)
        if env:
            os.environ.update(env)
        proxy = self.proxy("--config", config, *extra)
        found = proxy.log.wait_for(r"listening on http://127\.0\.0\.1:(\d+) ")
        url = "http://127.0.0.1:%s/v1/logs" % found[0].group(1)
        return proxy, sink, url

    def curl(self, *args, data=None):
        """Runs curl; returns (status codes, stdout text)."""
        cmd = ["curl", "-sS", "-o", "-", "-w", r"\n%{http_code} %{num_connects}\n"] + list(args)
        out = subprocess.run(cmd, input=data, capture_output=True, check=False, timeout=60)
        text = out.stdout.decode("utf-8", "replace")
        codes = [int(m.group(1)) for m in re.finditer(r"^(\d{3}) \d+$", text, re.M)]
        connects = [int(m.group(1)) for m in re.finditer(r"^\d{3} (\d+)$", text, re.M)]
        return codes, connects, text

    def post(self, url, body, ctype="application/x-ndjson", headers=(), auth=None):
        path = os.path.join(self.workdir, "body.bin")
        with open(path, "wb") as f:
            f.write(body)
        args = ["-H", "Content-Type: " + ctype, "--data-binary", "@" + path]
        for h in headers:
            args += ["-H", h]
        if auth:
            args += ["-H", "Authorization: Bearer " + auth]
        return self.curl(*(args + [url]))

    def test_slow_client(self):
        """A client that trickles its request in (slowloris) is answered 408 and cut off once
        listeners.http.request_timeout has passed since the request's first byte, although it
        never goes idle; a keep-alive connection quiet between requests is not affected."""
        proxy, sink, url = self.start("    http:\n      request_timeout: 1s\n")
        port = int(url.split(":")[2].split("/")[0])
        record = pi.job_line(1)
        request = (b"POST /v1/logs HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-ndjson\r\n"
                   b"Content-Length: %d\r\n\r\n" % len(record)) + record

        with socket.create_connection(("127.0.0.1", port), timeout=pi.DEADLINE) as slow:
            started = time.monotonic()
            answer = b""
            for i in range(len(request)):  # one byte every 100 ms: never idle, never done
                try:
                    slow.sendall(request[i:i + 1])
                except (BrokenPipeError, ConnectionResetError):
                    break
                slow.settimeout(0.1)
                try:
                    chunk = slow.recv(4096)
                except socket.timeout:
                    continue
                answer += chunk
                if not chunk or b"\r\n\r\n" in answer:
                    break
            elapsed = time.monotonic() - started
            self.assertTrue(answer.startswith(b"HTTP/1.1 408 "), answer)
            self.assertGreaterEqual(elapsed, 0.9)
            self.assertLess(elapsed, 5)
            slow.settimeout(pi.DEADLINE)
            while slow.recv(4096):  # then the proxy closes the connection
                pass
        proxy.log.wait_for(r"request not complete within 1000ms: 408")

        # A whole request, a pause longer than request_timeout, another request: both 200.
        with socket.create_connection(("127.0.0.1", port), timeout=pi.DEADLINE) as conn:
            for _ in range(2):
                conn.sendall(request)
                answer = b""
                while b"}" not in answer:
                    chunk = conn.recv(4096)
                    self.assertTrue(chunk, "closed by the proxy after: %r" % answer)
                    answer += chunk
                self.assertTrue(answer.startswith(b"HTTP/1.1 200 "), answer)
                time.sleep(1.3)  # the time under test, not a synchronisation
        sink.wait_count(2)

    def test_busy_sink_answers_503(self):
        """With the sink above its high watermark (a sink that stops reading), a request is
        answered 503 with Retry-After instead of being queued: backpressure over HTTP."""
        sink = self.sink(rate=1).listen()  # reads one byte a second: the queue fills up
        config = self.write("busy.yaml", (
            "version: 1\nworkers: 1\nlog:\n  stats_interval: 0\n"
            "listeners:\n  - name: web\n    listen: http://127.0.0.1:0\n"
            "    rules: [openfn-retry-ids]\n    sinks: [out]\n"
            "sinks:\n  - name: out\n    address: tcp://127.0.0.1:%d\n"
            "    max_buffer_bytes: 1MiB\n") % sink.port)
        proxy = self.proxy("--config", config)
        found = proxy.log.wait_for(r"listening on http://127\.0\.0\.1:(\d+) ")
        url = "http://127.0.0.1:%s/v1/logs" % found[0].group(1)
        big = b"".join(pi.job_line(i, ',"_id2":%d' % i) for i in range(1, 3001))
        path = os.path.join(self.workdir, "big.ndjson")
        with open(path, "wb") as f:
            f.write(big)
        codes = []
        deadline = time.monotonic() + pi.DEADLINE
        while 503 not in codes and time.monotonic() < deadline:
            got, _, text = self.curl("-D", "-", "-H", "Content-Type: application/x-ndjson",
                                     "--data-binary", "@" + path, url)
            codes += got
        self.assertIn(503, codes)
        self.assertIn("Retry-After: 1", text)
        self.assertIn('{"error":"sink busy, retry later"}', text)

    def test_http10_keep_alive(self):
        """An HTTP/1.0 client asking for keep-alive gets it said in the answer and its second
        request goes over the same connection (ApacheBench -k works this way)."""
        proxy, sink, url = self.start()
        path = os.path.join(self.workdir, "one.ndjson")
        with open(path, "wb") as f:
            f.write(pi.job_line(1))
        args = ["--http1.0", "-H", "Connection: keep-alive", "-H",
                "Content-Type: application/x-ndjson", "--data-binary", "@" + path, "-D", "-"]
        again = ["-sS", "-o", "-", "-w", r"\n%{http_code} %{num_connects}\n"] + args
        codes, connects, text = self.curl(*(args + [url, "--next"] + again + [url]))
        self.assertEqual(codes, [200, 200], text)
        self.assertEqual(connects, [1, 0], text)
        self.assertIn("Connection: keep-alive", text)
        sink.wait_count(2)

    def test_formats(self):
        proxy, sink, url = self.start()
        codes, _, text = self.post(url, b"".join(pi.job_line(i) for i in range(1, 4)))
        self.assertEqual(codes, [200], text)
        self.assertIn('"received":3,"forwarded":3', text)
        sink.wait_count(3)
        arr = b"[" + b",".join(pi.job_line(i).strip() for i in range(4, 9)) + b"]"
        codes, _, text = self.post(url, arr, "application/json")
        self.assertEqual(codes, [200], text)
        self.assertIn('"received":5,"forwarded":5', text)
        codes, _, text = self.post(url, pi.job_line(9), "application/json; charset=utf-8")
        self.assertEqual(codes, [200], text)
        sink.wait_count(9)
        self.assertEqual(sorted(pi.ids_of(sink.snapshot())), list(range(1, 10)))
        # A non-object element is counted, not forwarded.
        codes, _, text = self.post(url, b"[1]", "application/json")
        self.assertIn('"not_object":1', text)
        rc, stats = proxy.stop()
        self.assertEqual(rc, 0)
        self.assertEqual(stats["forwarded"], 9)

    def test_gzip_chunked_keep_alive(self):
        proxy, sink, url = self.start(
            "    http:\n      max_body_bytes: 64KiB\n      max_decompressed_bytes: 256KiB\n")
        gz = gzip.compress(b"".join(pi.job_line(i) for i in range(1, 101)))
        codes, _, text = self.post(url, gz, headers=["Content-Encoding: gzip"])
        self.assertEqual(codes, [200], text)
        self.assertIn('"received":100,"forwarded":100', text)
        codes, _, text = self.post(url, b"".join(pi.job_line(i) for i in range(101, 111)),
                                   headers=["Transfer-Encoding: chunked"])
        self.assertEqual(codes, [200], text)
        sink.wait_count(110)
        # Zip bomb: 1 MiB of zeros compresses to ~1 KiB, decompressed over the limit.
        codes, _, text = self.post(url, gzip.compress(b"0" * (1 << 20)),
                                   headers=["Content-Encoding: gzip"])
        self.assertEqual(codes, [413], text)
        # Corrupt gzip.
        codes, _, _ = self.post(url, b"\x1f\x8b not gzip", headers=["Content-Encoding: gzip"])
        self.assertEqual(codes, [400])
        # Keep-alive: ten requests on one connection.
        path = os.path.join(self.workdir, "one.json")
        with open(path, "wb") as f:
            f.write(pi.job_line(999))
        args = ["-H", "Content-Type: application/x-ndjson", "--data-binary", "@" + path]
        codes, connects, text = self.curl(*(args + [url] * 10))
        self.assertEqual(codes, [200] * 10, text)
        self.assertEqual(sum(connects), 1, text)
        sink.wait_count(120)
        # Expect: 100-continue.
        codes, _, text = self.post(url, pi.job_line(1000), headers=["Expect: 100-continue"])
        self.assertEqual(codes, [200], text)
        proxy.stop()

    def test_errors(self):
        proxy, sink, url = self.start("    http:\n      max_body_bytes: 4KiB\n")
        big = b"".join(pi.job_line(i) for i in range(200))
        self.assertEqual(self.post(url, big)[0], [413])
        codes, _, text = self.post(url, b'{"a": [1, 2', "application/json")
        self.assertEqual(codes, [400])
        self.assertNotIn('"a"', text)
        self.assertEqual(self.post(url, b"x", "text/plain")[0], [415])
        self.assertEqual(self.post(url, b"x", headers=["Content-Encoding: br"])[0], [415])
        self.assertEqual(self.post(url.replace("/v1/logs", "/nope"), b"{}")[0], [404])
        self.assertEqual(self.curl(url)[0], [405])
        # 411: a POST with neither Content-Length nor chunked, over a raw socket.
        port = int(url.split(":")[2].split("/")[0])
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.sendall(b"POST /v1/logs HTTP/1.1\r\nHost: x\r\n"
                      b"Content-Type: application/x-ndjson\r\n\r\n")
            self.assertTrue(s.recv(4096).startswith(b"HTTP/1.1 411 "))
        # A malformed request line.
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.sendall(b"BLAH\x01 / HTTP/1.1\r\n\r\n")
            self.assertTrue(s.recv(4096).startswith(b"HTTP/1.1 400 "))
        # Headers over the limit.
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.sendall(b"POST /v1/logs HTTP/1.1\r\nX-Big: " + b"a" * 40000 + b"\r\n\r\n")
            self.assertTrue(s.recv(4096).startswith(b"HTTP/1.1 431 "))
        self.assertEqual(self.post(url, pi.job_line(1))[0], [200])
        sink.wait_count(1)
        proxy.stop()

    def test_authentication(self):
        pw = self.write("pw.txt", PASSWORD + "\n")
        block = ("    http:\n      max_auth_failures: 3\n      api_keys:\n"
                 "        - {id: old, key: \"${env:SCRUB_IT_KEY_A}\"}\n"
                 "        - {id: new, key: \"${env:SCRUB_IT_KEY_B}\"}\n"
                 "      basic_users:\n        - {user: runner, password: \"${file:%s}\"}\n" % pw)
        proxy, sink, url = self.start(block, env={"SCRUB_IT_KEY_A": KEY_A,
                                                  "SCRUB_IT_KEY_B": KEY_B})
        line = pi.job_line(1)
        for auth in (KEY_A, KEY_B):
            self.assertEqual(self.post(url, line, auth=auth)[0], [200])
        self.assertEqual(self.post(url, line, headers=["X-API-Key: " + KEY_B])[0], [200])
        codes, _, _ = self.curl("-u", "runner:" + PASSWORD, "-H",
                                "Content-Type: application/x-ndjson", "--data-binary", "{}", url)
        self.assertEqual(codes, [200])
        sink.wait_count(3)
        # Missing credential: 401 with the challenge.
        out = subprocess.run(["curl", "-sS", "-i", "-H", "Content-Type: application/x-ndjson",
                              "--data-binary", "{}", url], capture_output=True, timeout=60)
        head = out.stdout.decode()
        self.assertIn("401 Unauthorized", head)
        self.assertIn("WWW-Authenticate: Bearer", head)
        self.assertIn("WWW-Authenticate: Basic", head)
        # Wrong key, wrong password: 401, then the peer is rate-limited (429).
        self.assertEqual(self.post(url, line, auth=KEY_A + "x")[0], [401])
        codes, _, _ = self.curl("-u", "runner:wrong-password!", "-H",
                                "Content-Type: application/x-ndjson", "--data-binary", "{}", url)
        self.assertEqual(codes, [401])
        self.assertEqual(self.post(url, line, auth=KEY_A)[0], [429])
        proxy.log.wait_for(r"authentication failed \(wrong credential\)")
        rc, _ = proxy.stop()
        self.assertEqual(rc, 0)
        log = proxy.log.text()
        for secret in (KEY_A, KEY_B, PASSWORD):
            self.assertNotIn(secret, log)
        self.assertIn("authenticated as 'old'", log)
        self.assertIn("authenticated as 'new'", log)

    def test_api_key_env_and_start_errors(self):
        sink = self.sink().listen()
        env = dict(os.environ, SCRUB_IT_KEY=KEY_A, SCRUB_IT_SHORT="short-key")

        def run(*args, config=None):
            cmd = [pi.BINARY, "run"] + (["--config", config] if config else []) + list(args)
            return subprocess.run(cmd, capture_output=True, env=env, timeout=60)

        out = run("--listen", "https://127.0.0.1:0")
        self.assertEqual(out.returncode, 3)
        self.assertIn(b"a TLS listener needs a certificate and key", out.stderr)
        out = run("--listen", "http://127.0.0.1:0", "--api-key-env", "SCRUB_IT_SHORT")
        self.assertEqual(out.returncode, 2)
        self.assertIn(b"shorter than 32", out.stderr)
        self.assertNotIn(b"short-key", out.stderr)
        inline = self.write("inline.yaml", (
            "version: 1\nlisteners:\n  - name: web\n    listen: http://127.0.0.1:0\n"
            "    http:\n      api_keys:\n        - {id: a, key: %s}\n"
            "sinks:\n  - name: out\n    address: stdout\n") % KEY_A)
        out = run(config=inline)
        self.assertEqual(out.returncode, 3)
        self.assertRegex(out.stderr.decode(), r"inline\.yaml:7:\d+: .*reference")
        self.assertNotIn(KEY_A.encode(), out.stderr)

        os.environ["SCRUB_IT_KEY"] = KEY_A
        proxy = self.proxy("--listen", "http://127.0.0.1:0", "--sink",
                           "tcp://127.0.0.1:%d" % sink.port, "--api-key-env", "SCRUB_IT_KEY")
        port = proxy.log.wait_for(r"listening on http://127\.0\.0\.1:(\d+) ")[0].group(1)
        url = "http://127.0.0.1:%s/v1/logs" % port
        self.assertEqual(self.post(url, pi.job_line(1))[0], [401])
        self.assertEqual(self.post(url, pi.job_line(1), auth=KEY_A)[0], [200])
        sink.wait_count(1)
        proxy.stop()

    def test_no_canary_in_responses_or_log(self):
        path, lines, marks = pi.corpus(self.workdir, 2000, 7)
        patterns = pi.canary_patterns(marks)
        proxy, sink, url = self.start("    http:\n      max_body_bytes: 64MiB\n")
        bodies = []
        for start in range(0, len(lines), 500):
            chunk = b"\n".join(lines[start:start + 500]) + b"\n"
            bodies.append(self.post(url, chunk)[2])
            bodies.append(self.post(url, gzip.compress(chunk),
                                    headers=["Content-Encoding: gzip"])[2])
        arr = b"[" + b",".join(lines[:300]) + b"]"
        bodies.append(self.post(url, arr, "application/json")[2])
        # Malformed bodies whose bytes carry canaries.
        bodies.append(self.post(url, b"[" + lines[0], "application/json")[2])
        bodies.append(self.post(url, lines[1], "text/plain")[2])
        rc, _ = proxy.stop()
        self.assertEqual(rc, 0)
        for text in bodies:
            self.assertEqual(pi.find_canaries(text.encode(), patterns), [], text[:200])
        with open(os.path.join(self.workdir, "proxy.stderr"), "rb") as f:
            self.assertEqual(pi.find_canaries(f.read(), patterns), [])


def main():
    args = sys.argv[1:]
    if len(args) >= 2 and args[0] == "--binary":
        pi.BINARY = os.path.abspath(args[1])
        args = args[2:]
    # SIGPIPE stays ignored (Python's default): see proxy_integration.main().
    unittest.main(module=__name__, argv=[sys.argv[0], "-v"] + args)


if __name__ == "__main__":
    main()
