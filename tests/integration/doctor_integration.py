#!/usr/bin/env python3
"""Integration tests for `scrubproxy doctor`: the real binary on the embedded default config
(clean, exit 0) and on deliberately bad deployments written to a temporary folder (exit 1 with
the expected finding ids). No sockets: doctor never binds or connects.

Run one test:  doctor_integration.py --binary build/dev/scrubproxy Doctor.test_bad_deployment
"""

import json
import os
import resource
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tls_integration import Pki  # noqa: E402

BINARY = "scrubproxy"
KEY = "0123456789abcdef0123456789abcdef-doctor"


def doctor(*args, env=None, core_limit=0, user=None):
    """Runs `scrubproxy doctor --json ARGS`; returns (exit code, parsed report or None, stderr)."""
    def limits():
        resource.setrlimit(resource.RLIMIT_CORE, (core_limit, core_limit))

    full_env = dict(os.environ)
    full_env.update(env or {})
    out = subprocess.run([BINARY, "doctor", "--json", *args], capture_output=True, timeout=60,
                         env=full_env, preexec_fn=limits, user=user, check=False)
    report = json.loads(out.stdout) if out.stdout.strip() else None
    return out.returncode, report, out.stderr.decode("utf-8", "replace")


def ids(report):
    return sorted(f["id"] for f in report["findings"])


class Doctor(unittest.TestCase):
    def setUp(self):
        self._dir = tempfile.TemporaryDirectory(prefix="scrub-doctor-")
        self.dir = self._dir.name
        # mkdtemp makes 0700: others could not reach the files at all. Open it like /etc.
        os.chmod(self.dir, 0o755)

    def tearDown(self):
        self._dir.cleanup()

    def write(self, name, text, mode=0o644):
        path = os.path.join(self.dir, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(path, mode)
        return path

    def test_embedded_default_is_clean(self):
        code, report, err = doctor()
        self.assertEqual(code, 0, err)
        self.assertEqual(report["errors"], 0, report)
        # Whoever runs the suite: root is a warning, nothing else may show.
        self.assertLessEqual(set(ids(report)), {"running-as-root"})
        # Text output: the summary line.
        out = subprocess.run([BINARY, "doctor"], capture_output=True, timeout=60, check=False)
        self.assertEqual(out.returncode, 0)
        self.assertRegex(out.stdout.decode(), r"doctor: 0 errors, [01] warnings?, 0 infos\n$")

    @unittest.skipUnless(os.geteuid() == 0, "needs root to run the binary as another user")
    def test_embedded_default_as_nobody_has_no_findings(self):
        code, report, err = doctor(user=65534)
        self.assertEqual(code, 0, err)
        self.assertEqual(report["findings"], [], report)

    def test_bad_deployment(self):
        rules = self.write("loose.yaml", (
            "version: 1\nname: loose\npolicy: allowlist\nkeep:\n"
            "  - path: _id\n    value: '[1-9][0-9]{0,18}'\n"
            "  - path: 'message[]'\n"      # free text without a contract
            "  - path: level\n"
        ), mode=0o666)
        config = self.write("proxy.yaml", (
            "version: 1\n"
            "admin: {listen: '0.0.0.0:9464', allow_public: true}\n"
            "listeners:\n"
            "  - name: runners\n"
            "    listen: tcp://0.0.0.0:5170\n"
            "    allow_public: true\n"
            "    rules: [%s]\n"
            "  - name: webhooks\n"
            "    listen: http://0.0.0.0:8088\n"
            "    allow_public: true\n"
            "    http:\n"
            "      api_keys: [{id: kobo, key: '${env:SCRUB_DOCTOR_KEY}'}]\n"
            "sinks:\n"
            "  - name: loki\n"
            "    address: http://loki.example.org:3100/loki/api/v1/push\n"
            "    http:\n"
            "      format: loki\n"
            "      headers: {Authorization: 'Bearer not-a-real-token', X-Scope-OrgID: t1}\n"
            "  - name: syslog\n"
            "    address: tls://logs.example.org:6514\n"
            "    tls: {insecure_skip_verify: true}\n"
        ) % rules, mode=0o666)
        code, report, err = doctor("--config", config, env={"SCRUB_DOCTOR_KEY": KEY},
                                   core_limit=resource.RLIM_INFINITY)
        self.assertEqual(code, 1, err)
        found = [i for i in ids(report) if i != "running-as-root"]
        self.assertEqual(found, sorted([
            "admin-public",
            "core-dumps-possible",
            "file-writable-by-others",     # proxy.yaml
            "file-writable-by-others",     # loose.yaml
            "keep-free-text",
            "listener-public-no-auth",     # runners (webhooks has an API key)
            "listener-public-no-tls",      # runners
            "listener-public-no-tls",      # webhooks
            "secret-inline",
            "sink-plain-http",
            "sink-tls-unverified",
        ]))
        self.assertEqual(report["errors"], 10)
        by_id = {f["id"]: f for f in report["findings"]}
        self.assertEqual(by_id["core-dumps-possible"]["severity"], "info")
        self.assertIn("turns them off itself", by_id["core-dumps-possible"]["message"])
        self.assertTrue(by_id["keep-free-text"]["message"].startswith(rules + ":7:11: "))
        self.assertEqual(by_id["listener-public-no-auth"]["checklist"],
                         {"seed": "000_33300e7848f53676.txt", "item": "6",
                          "label": "UNICARE #6 (webhook authentication)"})
        # The report names where secrets are configured, never their values.
        text = json.dumps(report)
        self.assertNotIn("not-a-real-token", text)
        self.assertNotIn(KEY, text)

        # The same deployment fixed: modes, TLS on the sinks, the header from the environment.
        os.chmod(config, 0o644)
        os.chmod(rules, 0o644)
        code, report, err = doctor("--config", config, "--sink", "tls://logs.example.org:6514",
                                   "--listen", "unix://%s/scrub.sock" % self.dir,
                                   "--rules", "openfn-retry-ids", "--admin", "127.0.0.1:0",
                                   env={"SCRUB_DOCTOR_KEY": KEY})
        self.assertEqual(code, 0, (err, report))
        self.assertLessEqual(set(ids(report)), {"running-as-root"})

    def test_certificates(self):
        """Certificates made by the openssl command: expired, ending in 2 days, not a
        certificate, and one valid for a year."""
        pki = Pki(self.dir)
        expired_cert, expired_key = pki.issue_expired("expired", "localhost", 1001)
        good_cert, good_key = pki.issue("good", "localhost", 1002, days=365)
        soon_cert, soon_key = pki.issue("soon", "scrub-client", 1003, client=True, days=2)
        not_cert = self.write("not-a-cert.pem", "-----BEGIN NOTHING-----\n")
        for key in (expired_key, good_key, soon_key):
            os.chmod(key, 0o600)
        config = self.write("proxy.yaml", (
            "version: 1\n"
            "listeners:\n"
            "  - name: old\n"
            "    listen: https://127.0.0.1:0\n"
            "    tls: {cert_file: %s, key_file: %s}\n"
            "  - name: fine\n"
            "    listen: tls://127.0.0.1:0\n"
            "    tls: {cert_file: %s, key_file: %s}\n"
            "sinks:\n"
            "  - name: central\n"
            "    address: tls://localhost:6514\n"
            "    tls: {ca_file: %s, cert_file: %s, key_file: %s}\n"
            "  - name: es\n"
            "    address: https://localhost:9200/_bulk\n"
            "    tls: {ca_file: %s, cert_file: %s, key_file: %s}\n"
        ) % (expired_cert, expired_key, good_cert, good_key, pki.ca, soon_cert, soon_key,
             pki.ca, not_cert, good_key))
        code, report, err = doctor("--config", config)
        self.assertEqual(code, 1, err)
        found = [f for f in report["findings"] if f["id"] != "running-as-root"]
        self.assertEqual([(f["id"], f["severity"]) for f in found], [
            ("tls-cert-expired", "error"),
            ("tls-cert-unreadable", "error"),
            ("tls-cert-expiring", "warning"),
        ])
        self.assertIn("of listener 'old' (/CN=localhost) expired", found[0]["message"])
        self.assertIn("not-a-cert.pem of sink 'es' cannot be read", found[1]["message"])
        # 2 days from its issue a moment ago: 2 when doctor ran within the same second, else 1.
        self.assertRegex(found[2]["message"],
                         r"of sink 'central' \(/CN=scrub-client\) expires in (1 day|2 days)$")
        self.assertEqual(found[0]["checklist"]["item"], "Your SSL certificate should be valid.")

    def test_flags_are_run_flags(self):
        # Flags audit what `run` would do with them.
        code, report, _ = doctor("--listen", "http://0.0.0.0:8088", "--allow-public",
                                 "--api-key-env", "SCRUB_DOCTOR_KEY",
                                 env={"SCRUB_DOCTOR_KEY": KEY})
        self.assertEqual(code, 1)
        self.assertIn("listener-public-no-tls", ids(report))
        self.assertNotIn("listener-public-no-auth", ids(report))

    def test_config_and_rules_that_do_not_load(self):
        # As `run`: 2 bad flags, 3 config invalid, 4 rules invalid; nothing on stdout.
        code, report, err = doctor("--bogus")
        self.assertEqual((code, report), (2, None))
        self.assertIn("scrubproxy doctor: ", err)
        bad = self.write("bad.yaml", "version: 1\nlisteners: [{listen: tcp://127.0.0.1:0, x: 1}]\n")
        code, report, err = doctor("--config", bad)
        self.assertEqual((code, report), (3, None))
        self.assertIn("bad.yaml:2:", err)
        code, report, err = doctor("--rules", self.write("r.yaml", "version: 1\nkeep: 3\n"))
        self.assertEqual((code, report), (4, None))
        self.assertIn("r.yaml:2:", err)
        # A public listener the config did not allow: refused as `run` refuses it.
        code, report, err = doctor("--listen", "tcp://0.0.0.0:5170")
        self.assertEqual((code, report), (3, None))
        self.assertIn("add --allow-public", err)


def main():
    global BINARY
    args = sys.argv[1:]
    if len(args) >= 2 and args[0] == "--binary":
        BINARY = os.path.abspath(args[1])
        args = args[2:]
    unittest.main(argv=[sys.argv[0], "-v"] + args)


if __name__ == "__main__":
    main()
