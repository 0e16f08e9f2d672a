#!/usr/bin/env python3
"""Integration tests for the HTTP(S) sinks: the real binary, real sockets, and a fault-injecting
HTTP sink (http_test_sink.py) standing in for Elasticsearch, Loki and Splunk HEC. Port 0
everywhere; waits on log lines, request counts or exits with deadlines, never on sleeps.

Run one test:  http_sink_integration.py --binary build/scrubproxy HttpSink.test_formats
"""

import collections
import json
import os
import re
import signal
import ssl
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import proxy_integration as pi  # noqa: E402
from http_test_sink import BULK_REASON_CANARY, HttpTestSink  # noqa: E402

TOKEN = "tok-" + "z" * 28


def ids(records):
    return collections.Counter(int(m.group(1)) for m in (pi.ID_RE.search(r) for r in records) if m)


class HttpSink(unittest.TestCase):
    setUp = pi.ProxyIntegration.setUp
    _outcome_ok = pi.ProxyIntegration._outcome_ok
    proxy = pi.ProxyIntegration.proxy
    write = pi.ProxyIntegration.write

    def tearDown(self):
        for sink in getattr(self, "http_sinks", []):
            sink.close()
        pi.ProxyIntegration.tearDown(self)

    def http_sink(self, tls=None):
        sink = HttpTestSink(tls=tls)
        self.http_sinks = getattr(self, "http_sinks", []) + [sink]
        return sink

    def start(self, sinks, listen="tcp://127.0.0.1:0", listener_extra="", workers=1,
              shutdown="20s", env=None):
        """`sinks`: list of (name, address, extra yaml lines under the sink)."""
        text = ("version: 1\nworkers: %d\nlog:\n  level: info\n  stats_interval: 0\n"
                "limits:\n  shutdown_timeout: %s\n"
                "listeners:\n  - name: in\n    listen: %s\n    rules: [openfn-retry-ids]\n"
                "    sinks: [%s]\n%s"
                "sinks:\n") % (workers, shutdown, listen, ", ".join(s[0] for s in sinks),
                               listener_extra)
        for name, address, extra in sinks:
            text += ("  - name: %s\n    address: %s\n    reconnect_min: 50ms\n"
                     "    reconnect_max: 400ms\n%s") % (name, address, extra)
        config = self.write("proxy.yaml", text)
        if env:
            os.environ.update(env)
        proxy = self.proxy("--config", config)
        scheme = listen.split(":")[0]
        port = int(proxy.log.wait_for(r"listening on %s://[^ ]*:(\d+) " % scheme)[0].group(1))
        return proxy, port

    def send(self, port, first, last):
        client = pi.Client(port, payload=b"".join(pi.job_line(i) for i in range(first, last + 1)))
        client.start()
        client.join(pi.DEADLINE)
        self.assertIsNone(client.error)

    def assert_no_payload_in_log(self, proxy):
        text = proxy.log.text()
        self.assertNotIn("Test Person", text)
        self.assertNotIn('"_id"', text)

    # -- request shapes --------------------------------------------------------------------------

    def test_ndjson_shape_headers_and_batches(self):
        sink = self.http_sink()
        proxy, port = self.start(
            [("out", "http://127.0.0.1:%d/ingest?tenant=a" % sink.port,
              "    http:\n      batch_records: 10\n      flush_interval: 100ms\n"
              "      headers: {Authorization: 'Bearer ${env:SCRUB_IT_SINK_TOKEN}', "
              "X-Scope-OrgID: tenant-a}\n")],
            env={"SCRUB_IT_SINK_TOKEN": TOKEN})
        self.send(port, 1, 25)
        sink.wait(lambda: len(sink.records()) >= 25, "25 records")
        for req in sink.requests:
            self.assertEqual(req.method, "POST")
            self.assertEqual(req.path, "/ingest?tenant=a")
            self.assertEqual(req.headers["content-type"], "application/x-ndjson")
            self.assertEqual(req.headers["authorization"], "Bearer " + TOKEN)
            self.assertEqual(req.headers["x-scope-orgid"], "tenant-a")
            self.assertNotIn("content-encoding", req.headers)
            self.assertTrue(req.body.endswith(b"\n"))
            self.assertLessEqual(len(req.body.splitlines()), 10)
        records = sink.records()
        for r in records:
            obj = json.loads(r)
            self.assertNotIn("child/full_name", json.dumps(obj))
        self.assertEqual(ids(records), collections.Counter(range(1, 26)))
        rc, stats = proxy.stop()
        self.assertEqual(rc, 0)
        out = stats["sinks"]["out"]
        self.assertEqual(out["delivered"], 25)
        self.assertEqual(out["batches_delivered"], len(sink.requests))
        self.assertNotIn(TOKEN, proxy.log.text())
        self.assert_no_payload_in_log(proxy)

    def test_formats(self):
        sink = self.http_sink()
        base = "http://127.0.0.1:%d" % sink.port
        fast = "    http:\n      flush_interval: 50ms\n"
        proxy, port = self.start([
            ("arr", base + "/array", fast + "      format: json_array\n"),
            ("es", base + "/_bulk", fast + "      format: elasticsearch\n      index: job-logs\n"),
            ("loki", base + "/loki/api/v1/push",
             fast + "      format: loki\n      gzip: true\n"
             "      labels: {job: runner, env: staging}\n"),
            ("hec", base + "/services/collector/event",
             fast + "      format: splunk_hec\n      sourcetype: 'scrub:json'\n"
             "      headers: {Authorization: 'Splunk ${env:SCRUB_IT_SINK_TOKEN}'}\n"),
        ], env={"SCRUB_IT_SINK_TOKEN": TOKEN})
        before_ns = time.time_ns()
        self.send(port, 1, 5)

        def by_path(path):
            return [r for r in sink.requests if r.path == path]

        def count(path, split):
            return sum(len(split(r.body)) for r in by_path(path))

        def arr_split(body):
            return json.loads(body)

        def es_split(body):
            lines = body.split(b"\n")
            self.assertEqual(lines[-1], b"")  # ends with a newline
            return lines[1:-1:2]

        def loki_split(body):
            return json.loads(body)["streams"][0]["values"]

        def hec_split(body):
            decoder, text, pos, out = json.JSONDecoder(), body.decode(), 0, []
            while pos < len(text):
                obj, pos = decoder.raw_decode(text, pos)
                out.append(obj)
            return out

        sink.wait(lambda: count("/array", arr_split) >= 5 and count("/_bulk", es_split) >= 5
                  and count("/loki/api/v1/push", loki_split) >= 5
                  and count("/services/collector/event", hec_split) >= 5, "5 records per format")
        # JSON array
        for r in by_path("/array"):
            self.assertEqual(r.headers["content-type"], "application/json")
            self.assertTrue(r.body.startswith(b"[") and r.body.endswith(b"]"))
        self.assertEqual(sorted(o["message"][0]["_id"] for r in by_path("/array")
                                for o in json.loads(r.body)), [1, 2, 3, 4, 5])
        # Elasticsearch _bulk: action line, source line, trailing newline
        for r in by_path("/_bulk"):
            self.assertEqual(r.headers["content-type"], "application/x-ndjson")
            lines = r.body.split(b"\n")[:-1]
            self.assertEqual(len(lines) % 2, 0)
            for action in lines[0::2]:
                self.assertEqual(json.loads(action), {"index": {"_index": "job-logs"}})
            for source in lines[1::2]:
                self.assertIn("_id", json.loads(source)["message"][0])
        # Loki push API, gzip
        for r in by_path("/loki/api/v1/push"):
            self.assertEqual(r.headers["content-type"], "application/json")
            self.assertEqual(r.headers["content-encoding"], "gzip")
            self.assertEqual(r.raw[:2], b"\x1f\x8b")
            push = json.loads(r.body)
            self.assertEqual(list(push.keys()), ["streams"])
            stream = push["streams"][0]
            self.assertEqual(stream["stream"], {"job": "runner", "env": "staging"})
            for ts, line in stream["values"]:
                self.assertIsInstance(ts, str)
                self.assertTrue(before_ns <= int(ts) <= time.time_ns() + 10**9)
                self.assertIn("_id", json.loads(line)["message"][0])
        # Splunk HEC
        for r in by_path("/services/collector/event"):
            self.assertEqual(r.headers["content-type"], "application/json")
            self.assertEqual(r.headers["authorization"], "Splunk " + TOKEN)
            for event in hec_split(r.body):
                self.assertEqual(set(event), {"event", "sourcetype"})
                self.assertEqual(event["sourcetype"], "scrub:json")
                self.assertIn("_id", event["event"]["message"][0])
        rc, _ = proxy.stop()
        self.assertEqual(rc, 0)

    def test_elasticsearch_partial_failures(self):
        """`_bulk` answers 200 with per-record statuses: the records answered 429/5xx are sent
        again on their own (in order, nothing else twice), those refused with another status are
        counted as rejected and logged by status, never with the answer's text."""
        sink = self.http_sink()
        # Request 1: records 1..5 answered 201, 429, 400, 201, 503. Request 2 (records 2 and 5):
        # 503 for record 5 again. Request 3 (record 5): stored.
        sink.set_script([("bulk", [201, 429, 400, 201, 503]), ("bulk", [201, 503])])
        proxy, port = self.start([("es", "http://127.0.0.1:%d/_bulk" % sink.port,
                                   "    http:\n      format: elasticsearch\n"
                                   "      batch_records: 5\n      flush_interval: 30s\n")])
        self.send(port, 1, 5)
        sink.wait(lambda: len(sink.requests) >= 3, "the batch and two partial retries")

        def ids_of(req):
            return [json.loads(source)["message"][0]["_id"]
                    for source in req.body.split(b"\n")[1:-1:2]]

        self.assertEqual([ids_of(r) for r in sink.requests], [[1, 2, 3, 4, 5], [2, 5], [5]])
        proxy.log.wait_for(r"sink 'es' \[w0\]: http://127\.0\.0\.1:\d+/_bulk refused 1 of 5 records "
                           r"of a _bulk request \(400 x1\); they are dropped")
        proxy.log.wait_for(r"sending 5 lines to .* failed \(2 of 5 records answered 429 x1, "
                           r"503 x1 in the _bulk answer; only those are sent again\)")
        rc, stats = proxy.stop()
        self.assertEqual(rc, 0)
        es = stats["sinks"]["es"]
        self.assertEqual(es["delivered"], 4)
        self.assertEqual(es["rejected"], 1)
        self.assertEqual(es["undelivered"], 0)
        self.assertEqual(es["retries"], 2)
        self.assertNotIn(BULK_REASON_CANARY, proxy.log.text())
        self.assert_no_payload_in_log(proxy)

    def test_elasticsearch_partial_failure_at_shutdown(self):
        """The shutdown deadline passes while the records a `_bulk` answer left to retry are in
        flight: only those are reported undelivered; the rest of the batch was stored."""
        sink = self.http_sink()
        sink.set_script([("bulk", [201, 503, 201]), "hang"])
        proxy, port = self.start([("es", "http://127.0.0.1:%d/_bulk" % sink.port,
                                   "    http:\n      format: elasticsearch\n"
                                   "      batch_records: 3\n      flush_interval: 30s\n")],
                                 shutdown="1s")
        self.send(port, 1, 3)
        sink.wait(lambda: sink.hanging == 1, "the retry of record 2 to hang")
        rc, stats = proxy.stop()
        sink.release()
        self.assertEqual(rc, 0)
        es = stats["sinks"]["es"]
        self.assertEqual((es["delivered"], es["undelivered"], es["rejected"]), (2, 1, 0))

    def test_elasticsearch_partial_failures_ack(self):
        """With `ack: sink`, of two requests sharing one `_bulk` batch, the one holding the
        record the sink refused is answered 502 and the other 200."""
        sink = self.http_sink()
        proxy, port = self.start(
            [("es", "http://127.0.0.1:%d/_bulk" % sink.port,
              "    http:\n      format: elasticsearch\n      batch_records: 4\n"
              "      flush_interval: 30s\n")],
            listen="http://127.0.0.1:0", listener_extra="    http: {ack: sink}\n")
        url = "http://127.0.0.1:%d/v1/logs" % port
        sink.set_script([("bulk", [201, 201, 400, 201])])
        results = {}

        def post(first, last):
            body = b"".join(pi.job_line(i) for i in range(first, last + 1))
            out = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}",
                                  "-H", "Content-Type: application/x-ndjson",
                                  "--data-binary", "@-", url],
                                 input=body, capture_output=True, timeout=120)
            results[(first, last)] = out.stdout.decode()

        threads = [threading.Thread(target=post, args=r) for r in ((1, 2), (3, 4))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        sent = [json.loads(source)["message"][0]["_id"]
                for source in sink.requests[0].body.split(b"\n")[1:-1:2]]
        self.assertEqual(sorted(sent), [1, 2, 3, 4])  # one batch, in the order the requests came
        refused = sent[2]
        self.assertEqual(results, {r: "502" if r[0] <= refused <= r[1] else "200"
                                   for r in ((1, 2), (3, 4))})
        rc, stats = proxy.stop()
        self.assertEqual(rc, 0)
        self.assertEqual(stats["sinks"]["es"]["delivered"], 3)
        self.assertEqual(stats["sinks"]["es"]["rejected"], 1)

    # -- delivery ---------------------------------------------------------------------------------

    def test_retries_deliver_every_record(self):
        sink = self.http_sink()
        # 503, 429 + Retry-After 1s, no answer, 500, stored but the answer lost, then 200s.
        sink.set_script([503, "429:1", "drop", 500, "store-drop"])
        proxy, port = self.start([("out", "http://127.0.0.1:%d/in" % sink.port,
                                   "    http:\n      batch_records: 50\n"
                                   "      flush_interval: 50ms\n")])
        n = 400
        self.send(port, 1, n)
        sink.wait(lambda: set(ids(sink.records())) == set(range(1, n + 1)), "every record")
        got = ids(sink.records())
        # Only the batch whose 2xx was lost (store-drop) arrives twice.
        dup = sorted(i for i, c in got.items() if c > 1)
        self.assertEqual(max(got.values()), 2 if dup else 1)
        first = sink.requests[0].body
        self.assertEqual(dup, sorted(ids(first.split(b"\n")[:-1])))
        # Retry-After: 1 was honoured (the backoff alone would be under 0.4 s).
        times = [r.at for r in sink.seen]
        self.assertGreaterEqual(times[2] - times[1], 0.9)
        rc, stats = proxy.stop()
        self.assertEqual(rc, 0)
        out = stats["sinks"]["out"]
        # Every scripted failure was met. libcurl itself sends a request again once when a reused
        # connection turns out closed before any answer ("drop", "store-drop"), so those two may
        # not reach our count of failed attempts.
        self.assertEqual(len(sink.seen), out["batches_delivered"] + 5)
        self.assertIn(out["batches_failed"], (3, 4, 5))
        self.assertEqual(out["retries"], out["batches_failed"])
        self.assertEqual(out["delivered"], n)
        self.assertEqual(out["undelivered"], 0)
        proxy.log.wait_for(r"sink 'out' \[w0\]: delivered to http://127\.0\.0\.1:%d/in after %d "
                           r"failed attempts" % (sink.port, out["batches_failed"]))
        self.assert_no_payload_in_log(proxy)

    def test_client_error_drops_the_batch(self):
        sink = self.http_sink()
        sink.set_script([400])
        proxy, port = self.start([("out", "http://127.0.0.1:%d/in" % sink.port,
                                   "    http:\n      batch_records: 10\n"
                                   "      flush_interval: 50ms\n")])
        self.send(port, 1, 30)
        sink.wait(lambda: len(sink.records()) >= 20, "the other batches")
        proxy.log.wait_for(r"refused a batch of 10 lines with HTTP 400; the batch is dropped")
        rc, stats = proxy.stop()
        self.assertEqual(rc, 0)
        out = stats["sinks"]["out"]
        self.assertEqual(out["batches_dropped"], 1)
        self.assertEqual(out["rejected"], 10)
        self.assertEqual(out["delivered"], 20)
        self.assertEqual(out["retries"], 0)
        self.assertEqual(len(sink.seen), 3)
        proxy.log.wait_for(r"stopped: .* not_delivered=10 ")
        self.assertNotIn("scripted", proxy.log.text())  # the sink's answer body is not logged
        self.assert_no_payload_in_log(proxy)

    def test_backpressure_when_the_sink_hangs(self):
        sink = self.http_sink()
        sink.set_script(["hang"])
        proxy, port = self.start([("out", "http://127.0.0.1:%d/in" % sink.port,
                                   "    max_buffer_bytes: 1MiB\n    batch_bytes: 64KiB\n"
                                   "    http:\n      request_timeout: 120s\n"
                                   "      flush_interval: 20ms\n")])
        n = 60000  # ~9 MB: far more than the 1 MiB the sink may hold
        batches = ((i, b"".join(pi.job_line(j) for j in range(i - 999, i + 1)))
                   for i in range(1000, n + 1, 1000))
        client = pi.Client(port, batches=batches, sndbuf=64 << 10)
        client.start()
        proxy.log.wait_for(r"sink 'out' \[w0\]: backpressure on")
        sink.wait(lambda: sink.hanging == 1, "the hanging request")
        self.assertFalse(client.done.is_set(), "the sender should be held back")
        self.assertEqual(len(sink.seen), 1)  # one request in flight, nothing more sent
        sink.release()
        client.join(pi.DEADLINE)
        self.assertIsNone(client.error)
        sink.wait(lambda: len(sink.records()) >= n, "every record", timeout=120)
        rc, stats = proxy.stop()
        self.assertEqual(rc, 0)
        got = ids(sink.records())
        self.assertEqual(set(got), set(range(1, n + 1)))
        self.assertEqual(max(got.values()), 1)
        self.assertEqual(stats["sinks"]["out"]["overflow"], 0)

    def test_sink_flag(self):
        sink = self.http_sink()
        proxy = self.proxy("--listen", "tcp://127.0.0.1:0", "--workers", "1",
                           "--sink", "http://127.0.0.1:%d/flag" % sink.port)
        port = proxy.port()
        self.send(port, 1, 3)
        # The default flush interval (1 s) sends the partial batch.
        sink.wait(lambda: len(sink.records()) >= 3, "3 records")
        self.assertEqual(sink.requests[0].path, "/flag")
        self.assertEqual(sink.requests[0].headers["content-type"], "application/x-ndjson")
        rc, stats = proxy.stop()
        self.assertEqual(rc, 0)

    # -- ack: sink --------------------------------------------------------------------------------

    def test_ack_sink(self):
        sink = self.http_sink()
        proxy, port = self.start(
            [("out", "http://127.0.0.1:%d/in" % sink.port,
              "    http:\n      flush_interval: 20ms\n")],
            listen="http://127.0.0.1:0", listener_extra="    http: {ack: sink}\n",
            shutdown="1s")
        url = "http://127.0.0.1:%d/v1/logs" % port
        results = []

        def post(first, last):
            body = b"".join(pi.job_line(i) for i in range(first, last + 1))
            out = subprocess.run(["curl", "-sS", "-o", "-", "-w", r"\n%{http_code}",
                                  "-H", "Content-Type: application/x-ndjson",
                                  "--data-binary", "@-", url],
                                 input=body, capture_output=True, timeout=120)
            results.append(out.stdout.decode().rsplit("\n", 1))

        # 1. answered only after the sink's 2xx
        sink.set_script(["hang"])
        t = threading.Thread(target=post, args=(1, 3))
        t.start()
        sink.wait(lambda: sink.hanging == 1, "the request to hang")
        t.join(0.5)
        self.assertTrue(t.is_alive(), "answered before the sink acknowledged")
        self.assertEqual(results, [])
        sink.release()
        t.join(60)
        self.assertEqual(results[0][1], "200")
        self.assertIn('"forwarded":3', results[0][0])
        self.assertEqual(len(sink.records()), 3)
        # 2. a refused batch: 502
        sink.released.clear()
        sink.set_script([400])
        post(4, 5)
        self.assertEqual(results[1][1], "502")
        # 3. retried until delivered: still 200
        sink.set_script([503, 500])
        post(6, 7)
        self.assertEqual(results[2][1], "200")
        self.assertEqual(set(ids(sink.records())), {1, 2, 3, 6, 7})
        # 4. the shutdown deadline passes before the sink answers: 503
        sink.set_script(["hang"])
        t = threading.Thread(target=post, args=(8, 9))
        t.start()
        sink.wait(lambda: sink.hanging == 2, "the second request to hang")
        proxy.signal(signal.SIGTERM)
        t.join(60)
        self.assertEqual(results[3][1], "503")
        rc = proxy.wait_exit()
        self.assertEqual(rc, 0)
        stats = proxy.final_stats()["sinks"]["out"]
        self.assertEqual(stats["undelivered"], 2)
        sink.release()

    # -- TLS ----------------------------------------------------------------------------------------

    def make_ca(self, name):
        d = os.path.join(self.workdir, name)
        os.makedirs(d)

        def run(*args):
            subprocess.run(["openssl"] + list(args), cwd=d, check=True, capture_output=True)

        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        run("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "1",
            "-subj", "/CN=scrubproxy test CA " + name,
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        run("req", *ec, "-keyout", "sink.key", "-out", "sink.csr", "-subj", "/CN=sink.test")
        with open(os.path.join(d, "ext.cnf"), "w") as f:
            f.write("subjectAltName=DNS:sink.test\nextendedKeyUsage=serverAuth\n")
        run("x509", "-req", "-in", "sink.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "sink.crt", "-days", "1", "-extfile", "ext.cnf")
        return d

    def test_https_sink(self):
        good = self.make_ca("good")
        other = self.make_ca("other")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(os.path.join(good, "sink.crt"), os.path.join(good, "sink.key"))
        sink = self.http_sink(tls=context)
        address = "https://127.0.0.1:%d/secure" % sink.port
        tls = "    tls:\n      ca_file: %s\n      server_name: sink.test\n"
        fast = "    http:\n      flush_interval: 20ms\n"
        proxy, port = self.start([("out", address, tls % os.path.join(good, "ca.crt") + fast)])
        self.send(port, 1, 5)
        sink.wait(lambda: len(sink.records()) >= 5, "5 records over TLS")
        self.assertEqual(sink.requests[0].headers["host"], "sink.test:%d" % sink.port)
        rc, stats = proxy.stop()
        self.assertEqual(rc, 0)
        self.assertEqual(stats["sinks"]["out"]["delivered"], 5)

        # A CA that did not sign the sink's certificate: nothing is sent, the batch is held.
        proxy, port = self.start([("out", address, tls % os.path.join(other, "ca.crt") + fast)],
                                 shutdown="1s")
        self.send(port, 6, 7)
        proxy.log.wait_for(r"sending 2 lines to https://127\.0\.0\.1:%d/secure failed "
                           r"\([^)]*(certificate|SSL)" % sink.port)
        rc, stats = proxy.stop()
        self.assertEqual(rc, 0)
        self.assertEqual(stats["sinks"]["out"]["undelivered"], 2)
        self.assertEqual(len(sink.records()), 5)

        # insecure_skip_verify: delivered, with a warning at start.
        proxy, port = self.start([("out", address, "    tls:\n      insecure_skip_verify: true\n"
                                   + fast)])
        proxy.log.wait_for(r"insecure_skip_verify is set")
        self.send(port, 8, 8)
        sink.wait(lambda: len(sink.records()) >= 6, "the record sent without verification")
        rc, _ = proxy.stop()
        self.assertEqual(rc, 0)


def main():
    args = sys.argv[1:]
    if len(args) >= 2 and args[0] == "--binary":
        pi.BINARY = os.path.abspath(args[1])
        args = args[2:]
    unittest.main(module=__name__, argv=[sys.argv[0], "-v"] + args)


if __name__ == "__main__":
    main()
