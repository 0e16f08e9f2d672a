#!/usr/bin/env python3
"""PII-attempt alerts with the real binary: records whose fields the detectors fire on are sent
over TCP; the alert reaches a webhook receiver (a local HTTP server standing in for Slack, which
has no local counterpart) once per window, and the proxy's log carries the same warning. The
alert names rules, counts, the listener and the kept ids, and never a value. Waits on events
with deadlines, never sleeps.

Run:  alerts_integration.py --binary build/scrubproxy Alerts.test_webhook_and_warning
"""

import http.server
import json
import os
import socket
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import admin_integration as ai  # noqa: E402
import proxy_integration as pi  # noqa: E402

PHONE = "+387 61 733 904"
EMAIL = "selma.canary.%d@example.org"


class Webhook:
    """Records every POST body; answers 500 to the first `fail_first` requests."""

    def __init__(self, fail_first=0):
        self.bodies = []
        self.cond = threading.Condition()
        self.fail_first = fail_first
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with outer.cond:
                    failing = outer.fail_first > 0
                    if failing:
                        outer.fail_first -= 1
                    else:
                        outer.bodies.append((self.path, self.headers.get("Content-Type"), body))
                    outer.cond.notify_all()
                self.send_response(500 if failing else 200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait(self, count, timeout=pi.DEADLINE):
        with self.cond:
            if not self.cond.wait_for(lambda: len(self.bodies) >= count, timeout):
                raise AssertionError("webhook got %d of %d alerts" % (len(self.bodies), count))
            return list(self.bodies)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Alerts(unittest.TestCase):
    setUp = pi.ProxyIntegration.setUp
    tearDown = pi.ProxyIntegration.tearDown
    _outcome_ok = pi.ProxyIntegration._outcome_ok
    proxy = pi.ProxyIntegration.proxy
    sink = pi.ProxyIntegration.sink
    write = pi.ProxyIntegration.write
    get = ai.AdminFixture.get
    poll = ai.AdminFixture.poll
    promtool = ai.AdminFixture.promtool

    def test_webhook_and_warning(self):
        hook = Webhook(fail_first=1)  # the first attempt fails: the alert is retried
        self.addCleanup(hook.close)
        sink = self.sink().listen()
        config = self.write("alerts.yaml", (
            "version: 1\nworkers: 2\nlog:\n  stats_interval: 0\n"
            "admin:\n  listen: 127.0.0.1:0\n"
            "listeners:\n  - name: runners\n    listen: tcp://127.0.0.1:0\n"
            "    rules: [kobo-redact, pii-detectors]\n    sinks: [out]\n"
            "sinks:\n  - name: out\n    address: tcp://127.0.0.1:%d\n"
            "alerts:\n  webhook_url: ${env:SCRUB_IT_HOOK}\n  window: 1s\n  max_ids: 3\n"
        ) % sink.port)
        os.environ["SCRUB_IT_HOOK"] = "http://127.0.0.1:%d/services/T0/B0/secret-path" % hook.port
        proxy = self.proxy("--config", config)
        proxy.admin = proxy.log.wait_for(r"admin endpoint on (http://127\.0\.0\.1:\d+) ")[0].group(1)
        port = proxy.port()

        lines = []
        for i in range(1, 6):
            lines.append(json.dumps({"_id": 9000 + i, "_xform_id": 7205,
                                     "note": "call %s or %s" % (PHONE, EMAIL % i)}) + "\n")
        lines.append(json.dumps({"_id": 9100, "note": "nothing personal here"}) + "\n")
        with socket.create_connection(("127.0.0.1", port)) as conn:
            conn.sendall("".join(lines).encode())
        sink.wait_count(len(lines))

        bodies = hook.wait(1)
        path, ctype, body = bodies[0]
        self.assertEqual(path, "/services/T0/B0/secret-path")
        self.assertEqual(ctype, "application/json")
        alert = json.loads(body)
        self.assertEqual(alert["listener"], "runners")
        self.assertEqual(alert["records"], 5)
        self.assertEqual(alert["detectors"].get("email"), 5)
        self.assertIn("phone_ba", alert["detectors"])
        self.assertEqual(len(alert["ids"]), 3)
        self.assertEqual(alert["ids"], ["_id=9001", "_xform_id=7205", "_id=9002"])
        self.assertEqual(alert["ids_not_shown"], 3)  # 9003..9005 beyond max_ids
        self.assertIn("PII attempt on listener 'runners': 5 records", alert["text"])

        warning = proxy.log.wait_for(r"PII attempt on listener 'runners': 5 records")
        self.assertIn("email x5", warning[0].string)
        proxy.log.wait_for(r"alerts webhook: HTTP 500 \(attempt 1\); retrying")

        # The same counts in /metrics (the retried post counts once, as delivered).
        _, metrics = self.poll(proxy, "/metrics", lambda s, t: ai.metric(
            t, "scrubproxy_alert_webhook_posts_total", result="delivered") == 1,
            "/metrics to count the delivered alert")
        self.promtool(metrics)
        self.assertEqual(ai.metric(metrics, "scrubproxy_pii_attempt_records_total",
                                   listener="runners"), 5)
        self.assertEqual(ai.metric(metrics, "scrubproxy_alerts_total", listener="runners"), 1)
        self.assertEqual(ai.metric(metrics, "scrubproxy_alert_webhook_posts_total",
                                   result="failed"), 0)

        rc, _ = proxy.stop()
        self.assertEqual(rc, 0)
        log = proxy.log.text()
        for text in [log, body.decode(), metrics]:
            self.assertNotIn("733 904", text)
            self.assertNotIn("selma.canary", text)
            self.assertNotIn("secret-path", log)  # the webhook URL is a credential
        self.assertEqual(len(hook.bodies), 1)  # one window with attempts, one alert


if __name__ == "__main__":
    pi.main()
