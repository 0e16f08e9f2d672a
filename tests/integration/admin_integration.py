#!/usr/bin/env python3
"""Integration tests for the admin endpoint (/metrics, /healthz, /readyz, /rules) and hot reload:
the real binary, real sockets, the real `curl` and Prometheus's real `promtool`. Port 0
everywhere; waits poll an endpoint or the log with a deadline, never a fixed sleep.

Run one test:  admin_integration.py --binary build/scrubproxy AdminEndpoint.test_metrics
Reuses the helpers of proxy_integration.py (Proxy, LineSink, job_line).
"""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import proxy_integration as pi  # noqa: E402

# Planted in payload: a value and a key name that no admin page may ever show.
CANARY_VALUE = "zq8x.canary.value@example.org"
CANARY_KEY = "canary_key_q7w3v"


def canary_line(i):
    return ('{"level":"info","_id":%d,"%s":"%s","note":"mail %s"}\n'
            % (i, CANARY_KEY, CANARY_VALUE, CANARY_VALUE)).encode()


def metric(text, name, **labels):
    """The value of one sample, or None."""
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$", line)
        if not m or m.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(m.group(4))
    return None


class AdminFixture:
    """Helpers shared by the test classes below (no tests of its own)."""
    setUp = pi.ProxyIntegration.setUp
    tearDown = pi.ProxyIntegration.tearDown
    _outcome_ok = pi.ProxyIntegration._outcome_ok
    proxy = pi.ProxyIntegration.proxy
    sink = pi.ProxyIntegration.sink
    write = pi.ProxyIntegration.write

    def start(self, sink_port, rules="kobo-redact", workers=2, extra="", args=()):
        config = self.write("proxy.yaml", (
            "version: 1\n"
            "workers: %d\n"
            "log:\n  level: info\n  stats_interval: 0\n"
            "admin:\n  listen: 127.0.0.1:0\n"
            "listeners:\n  - name: in\n    listen: tcp://127.0.0.1:0\n"
            "    rules: [%s]\n    sinks: [out]\n"
            "sinks:\n  - name: out\n    address: tcp://127.0.0.1:%d\n"
            "    reconnect_min: 20ms\n    reconnect_max: 100ms\n%s"
        ) % (workers, rules, sink_port, extra))
        proxy = self.proxy("--config", config, *args)
        found = proxy.log.wait_for(r"admin endpoint on (http://127\.0\.0\.1:\d+) ")
        proxy.admin = found[0].group(1)
        return proxy

    def get(self, proxy, path):
        """(status, body) of GET path, with the real curl."""
        out = subprocess.run(["curl", "-sS", "-o", "-", "-w", r"\n%{http_code}",
                              proxy.admin + path], capture_output=True, timeout=60, check=True)
        body, _, status = out.stdout.decode().rpartition("\n")
        return int(status), body

    def poll(self, proxy, path, predicate, what):
        """GETs path until predicate(status, body) holds; returns the last (status, body)."""
        for _ in pi.deadline_loop(pi.DEADLINE, what):
            status, body = self.get(proxy, path)
            if predicate(status, body):
                return status, body
            time.sleep(0.05)  # polling interval, not synchronisation: the deadline decides

    def promtool(self, text):
        out = subprocess.run(["promtool", "check", "metrics"], input=text.encode(),
                             capture_output=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stdout.decode() + out.stderr.decode())
        self.assertEqual(out.stdout.decode().strip() + out.stderr.decode().strip(), "",
                         "promtool has remarks")

    def send(self, port, data):
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.sendall(data)


class AdminEndpoint(AdminFixture, unittest.TestCase):
    def test_metrics(self):
        sink = self.sink().listen()
        proxy = self.start(sink.port)
        status, text = self.get(proxy, "/metrics")
        self.assertEqual(status, 200)
        self.promtool(text)
        self.assertEqual(metric(text, "scrubproxy_listener_lines_in_total", listener="in"), 0)
        self.assertEqual(metric(text, "scrubproxy_rules_reloads_total", result="failure"), 0)
        self.assertIsNotNone(metric(text, "scrubproxy_rules_info", listener="in",
                                    rules="kobo-redact"))

        n = 40
        self.send(proxy.port(), b"".join(canary_line(i) for i in range(1, n + 1)) + b"not json\n")
        sink.wait_count(n)
        status, text = self.poll(
            proxy, "/metrics",
            lambda s, t: metric(t, "scrubproxy_listener_lines_in_total", listener="in") == n + 1
            and metric(t, "scrubproxy_sink_lines_delivered_total", sink="out") == n,
            "/metrics to count the lines")
        self.promtool(text)
        self.assertEqual(metric(text, "scrubproxy_listener_lines_out_total", listener="in"), n)
        self.assertEqual(metric(text, "scrubproxy_lines_dropped_total", listener="in",
                                reason="invalid_json"), 1)
        self.assertGreater(metric(text, "scrubproxy_listener_bytes_in_total", listener="in"), 0)
        self.assertGreaterEqual(metric(text, "scrubproxy_detector_hits_total", listener="in",
                                       rule="email"), 2 * n)
        self.assertGreaterEqual(metric(text, "scrubproxy_detector_fields_total", listener="in",
                                       rule="email", action="masked"), 2 * n)
        self.assertGreaterEqual(metric(text, "scrubproxy_sink_batches_delivered_total",
                                       sink="out"), 1)
        self.assertEqual(metric(text, "scrubproxy_sink_latency_seconds_count", sink="out"), n)
        self.assertEqual(metric(text, "scrubproxy_sink_latency_seconds_bucket", sink="out",
                                le="+Inf"), n)
        self.assertGreaterEqual(metric(text, "scrubproxy_sink_connects_total", sink="out"), 1)
        self.assertEqual(metric(text, "scrubproxy_connections_active"), 0)

        status, body = self.get(proxy, "/healthz")
        self.assertEqual(status, 200)
        status, rules = self.get(proxy, "/rules")
        self.assertEqual(status, 200)
        doc = json.loads(rules)
        self.assertEqual(doc["listeners"][0]["rules"], "kobo-redact")
        self.assertRegex(doc["listeners"][0]["fingerprint"], r"^[0-9a-f]{16,}$")
        self.assertTrue(all(re.match(r"^[0-9a-f]{64}$", f["sha256"])
                            for f in doc["listeners"][0]["files"]))
        status, ready = self.get(proxy, "/readyz")
        self.assertEqual(status, 200, ready)
        self.assertEqual(self.get(proxy, "/nope")[0], 404)
        out = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-X",
                              "POST", "--data", "x", proxy.admin + "/metrics"],
                             capture_output=True, timeout=60)
        self.assertEqual(out.stdout, b"405")

        # The canary reached the sink (kobo-redact keeps the key, masks the value) but never an
        # admin page or the proxy's own log.
        self.assertTrue(any(CANARY_KEY.encode() in l for l in sink.snapshot()))
        for page in (text, rules, ready):
            self.assertNotIn(CANARY_KEY, page)
            self.assertNotIn(CANARY_VALUE, page)
            self.assertNotIn("zq8x", page)
        rc, _ = proxy.stop()
        self.assertEqual(rc, 0)
        log = proxy.log.text()
        self.assertNotIn(CANARY_KEY, log)
        self.assertNotIn("zq8x", log)

    def test_readyz_follows_sink(self):
        sock = pi.bound_socket()  # reserved, refusing connections until listen()
        sink = self.sink(sock=sock)
        proxy = self.start(sink.port, workers=1)
        status, body = self.poll(proxy, "/readyz", lambda s, b: s == 503, "readyz 503, sink down")
        detail = json.loads(body)
        self.assertFalse(detail["ready"])
        self.assertEqual(detail["sinks"], [{"name": "out", "address": "tcp://127.0.0.1:%d"
                                            % sink.port, "reachable": False}])
        self.assertEqual(self.get(proxy, "/healthz")[0], 200)  # alive all the same
        sink.listen()
        self.poll(proxy, "/readyz", lambda s, b: s == 200, "readyz 200 once the sink is up")
        # shutdown() wakes the accepting thread (a plain close() would leave it listening).
        sock.shutdown(socket.SHUT_RDWR)
        sink.close()
        _, body = self.poll(proxy, "/readyz", lambda s, b: s == 503, "readyz 503, sink gone")
        self.assertFalse(json.loads(body)["sinks"][0]["reachable"])
        proxy.kill()

    def test_flags_and_config(self):
        sink = self.sink().listen()
        # --admin off: no endpoint.
        proxy = self.proxy("--listen", "tcp://127.0.0.1:0", "--sink",
                           "tcp://127.0.0.1:%d" % sink.port, "--admin", "off")
        proxy.port()
        self.assertFalse(proxy.log.matches(r"admin endpoint on"))
        proxy.stop()

        def run(*args):
            proc = subprocess.run([pi.BINARY, "run"] + list(args), cwd=self.workdir,
                                  capture_output=True, timeout=60)
            return proc.returncode, proc.stderr.decode()

        # A public address must be asked for.
        rc, err = run("--sink", "stdout", "--admin", "0.0.0.0:0")
        self.assertEqual(rc, 3, err)
        self.assertIn("--admin: http://0.0.0.0:0 is not a loopback address", err)
        cfg = self.write("public.yaml", "version: 1\nadmin: {listen: 0.0.0.0:0}\n"
                         "listeners: [{name: a, listen: 'tcp://127.0.0.1:0'}]\n"
                         "sinks: [{name: s, address: stdout}]\n")
        rc, err = run("--config", cfg)
        self.assertEqual(rc, 3, err)
        self.assertIn("public.yaml:2:17: http://0.0.0.0:0 is not a loopback address", err)
        self.assertIn("admin.allow_public: true", err)
        rc, err = run("--config", cfg, "--admin", "nonsense")
        self.assertEqual(rc, 2, err)
        # A configured address in use stops start-up.
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen(1)
            rc, err = run("--listen", "tcp://127.0.0.1:0", "--sink", "stdout", "--admin",
                          "127.0.0.1:%d" % taken.getsockname()[1])
            self.assertEqual(rc, 6, err)
            self.assertIn("admin endpoint", err)


RULES_V1 = "version: 1\nname: v1\npolicy: allowlist\nkeep:\n  - _id\n  - level\n"
RULES_V2 = RULES_V1.replace("v1", "v2") + "  - extra\n"
BROKEN = "version: 1\nname: broken\nkeep:\n  - path: _id\n    vaule: '[0-9]+'\n"


def reload_line(i):
    return ('{"level":"info","_id":%d,"extra":"x%d"}\n' % (i, i)).encode()


class HotReload(AdminFixture, unittest.TestCase):
    """Rule files (and the config file) watched with uv_fs_event: a change applies between
    lines, on the connections already open; a broken file keeps the old rules."""

    def start_with_rules(self, sink, rules_path, workers=2):
        config = self.write("reload.yaml", (
            "version: 1\nworkers: %d\n"
            "log:\n  level: info\n  stats_interval: 0\n"
            "admin:\n  listen: 127.0.0.1:0\n"
            "listeners:\n  - name: in\n    listen: tcp://127.0.0.1:0\n"
            "    rules: [%s]\n    sinks: [out]\n"
            "sinks:\n  - name: out\n    address: tcp://127.0.0.1:%d\n"
        ) % (workers, rules_path, sink.port))
        proxy = self.proxy("--config", config)
        found = proxy.log.wait_for(r"admin endpoint on (http://127\.0\.0\.1:\d+) ")
        proxy.admin = found[0].group(1)
        return proxy, config

    def line_through(self, conn, sink, i):
        """Sends line i on the open connection; returns what the sink got for it."""
        conn.sendall(reload_line(i))
        for _ in pi.deadline_loop(pi.DEADLINE, "line %d at the sink" % i):
            for got in sink.snapshot():
                if b'"_id":%d,' % i in got or got.endswith(b'"_id":%d}' % i):
                    return got
            time.sleep(0.01)

    def reloads(self, proxy, result):
        return metric(self.get(proxy, "/metrics")[1], "scrubproxy_rules_reloads_total",
                      result=result)

    def test_rules_file_rewrite_applies_without_reconnecting(self):
        sink = self.sink().listen()
        rules = self.write("rules.yaml", RULES_V1)
        proxy, _ = self.start_with_rules(sink, rules)
        with socket.create_connection(("127.0.0.1", proxy.port())) as conn:
            self.assertNotIn(b"extra", self.line_through(conn, sink, 1))
            mark = proxy.log.mark()
            with open(rules, "w") as f:  # rewritten in place, as `cat > rules.yaml` does
                f.write(RULES_V2)
            proxy.log.wait_for(r"rules reloaded: listener 'in' now uses 'v2'", start=mark)
            self.assertIn(b'"extra":"x2"', self.line_through(conn, sink, 2))
            self.assertEqual(self.reloads(proxy, "success"), 1)
            # Broken: the old (v2) rules stay, the failure is counted and shown with its position.
            mark = proxy.log.mark()
            with open(rules, "w") as f:
                f.write(BROKEN)
            proxy.log.wait_for(r"rules reload failed", start=mark)
            self.assertIn(b'"extra":"x3"', self.line_through(conn, sink, 3))
            self.assertEqual(self.reloads(proxy, "failure"), 1)
            status, body = self.get(proxy, "/readyz")
            self.assertEqual(status, 200, body)  # the old rules are loaded and serving
            self.assertRegex(json.loads(body)["reloads"]["last_error"],
                             r"rules\.yaml:5:5: keep: unknown key 'vaule'")
            self.assertTrue(proxy.log.matches(r"rules\.yaml:5:5: keep: unknown key 'vaule'"))
            # Fixed again: v1.
            mark = proxy.log.mark()
            with open(rules, "w") as f:
                f.write(RULES_V1)
            proxy.log.wait_for(r"rules reloaded: listener 'in' now uses 'v1'", start=mark)
            self.assertNotIn(b"extra", self.line_through(conn, sink, 4))
            self.assertEqual(self.reloads(proxy, "success"), 2)
            self.assertIsNone(json.loads(self.get(proxy, "/readyz")[1])["reloads"]["last_error"])
        rc, stats = proxy.stop()
        self.assertEqual(rc, 0)
        self.assertEqual(stats["accepted"], 1)  # one connection carried all four lines
        self.assertFalse(proxy.log.matches(r"connection \d+ closed \((?!closed by the client)"))

    def test_configmap_symlink_swap(self):
        """The Kubernetes ConfigMap update: rules.yaml -> ..data/rules.yaml, and ..data, a
        symlink to a timestamped directory, replaced by rename."""
        sink = self.sink().listen()
        mount = os.path.join(self.workdir, "configmap")
        os.makedirs(os.path.join(mount, "..2026_01"))
        with open(os.path.join(mount, "..2026_01", "rules.yaml"), "w") as f:
            f.write(RULES_V1)
        os.symlink("..2026_01", os.path.join(mount, "..data"))
        os.symlink("..data/rules.yaml", os.path.join(mount, "rules.yaml"))
        proxy, _ = self.start_with_rules(sink, os.path.join(mount, "rules.yaml"))
        with socket.create_connection(("127.0.0.1", proxy.port())) as conn:
            self.assertNotIn(b"extra", self.line_through(conn, sink, 1))
            mark = proxy.log.mark()
            os.makedirs(os.path.join(mount, "..2026_02"))
            with open(os.path.join(mount, "..2026_02", "rules.yaml"), "w") as f:
                f.write(RULES_V2)
            os.symlink("..2026_02", os.path.join(mount, "..data_tmp"))
            os.replace(os.path.join(mount, "..data_tmp"), os.path.join(mount, "..data"))
            shutil.rmtree(os.path.join(mount, "..2026_01"))
            proxy.log.wait_for(r"rules reloaded: listener 'in' now uses 'v2'", start=mark)
            self.assertIn(b'"extra":"x2"', self.line_through(conn, sink, 2))
        self.assertEqual(self.reloads(proxy, "success"), 1)
        rc, _ = proxy.stop()
        self.assertEqual(rc, 0)

    def test_config_file_change(self):
        sink = self.sink().listen()
        v1 = self.write("v1.yaml", RULES_V1)
        v2 = self.write("v2.yaml", RULES_V2)
        proxy, config = self.start_with_rules(sink, v1)
        with open(config) as f:
            text = f.read()
        mark = proxy.log.mark()
        with open(config, "w") as f:
            f.write(text.replace("workers: 2", "workers: 3"))
        proxy.log.wait_for(r"config file .*reload\.yaml changed \(workers\): needs a restart to "
                           r"apply \(not applied\)", start=mark)
        mark = proxy.log.mark()
        with open(config, "w") as f:
            f.write(text.replace(v1, v2))
        proxy.log.wait_for(r"rules reloaded: listener 'in' now uses 'v2'", start=mark)
        # Judged against the running config: back to 2 workers needs nothing.
        self.assertEqual(len(proxy.log.matches(r"needs a restart")), 1)
        with socket.create_connection(("127.0.0.1", proxy.port())) as conn:
            self.assertIn(b'"extra":"x1"', self.line_through(conn, sink, 1))
        mark = proxy.log.mark()
        with open(config, "w") as f:
            f.write(text.replace("stats_interval: 0", "stats_intervall: 0"))
        proxy.log.wait_for(r"config file .* changed but does not load: .*reload\.yaml:5:3: log: "
                           r"unknown key 'stats_intervall'", start=mark)
        self.assertEqual(self.reloads(proxy, "failure"), 1)
        rc, _ = proxy.stop()
        self.assertEqual(rc, 0)


def main():
    args = sys.argv[1:]
    if len(args) >= 2 and args[0] == "--binary":
        pi.BINARY = os.path.abspath(args[1])
        args = args[2:]
    if shutil.which("promtool") is None:
        sys.stderr.write("promtool not found (Debian package prometheus; scripts/setup.sh)\n")
    unittest.main(argv=[sys.argv[0], "-v"] + args)


if __name__ == "__main__":
    main()
