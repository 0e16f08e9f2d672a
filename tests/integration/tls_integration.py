#!/usr/bin/env python3
"""Integration tests for TLS: tls:// and https:// listeners (curl, Python ssl), certificate reload
on SIGHUP, and tls:// sinks. The real binary, real sockets, port 0 wherever the proxy binds; a
throwaway CA and certificates made by the `openssl` command in the test's temporary directory
(no key is kept in the repository). Waits on log lines and sink counts, never on sleeps.

Run one test:  tls_integration.py --binary build/scrubproxy TlsIntegration.test_https_listener
Reuses the helpers of proxy_integration.py.
"""

import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import proxy_integration as pi  # noqa: E402


class Pki:
    """A CA and certificates signed by it, made with the openssl command."""

    def __init__(self, workdir, name="ca"):
        self.dir = os.path.join(workdir, "pki")
        os.makedirs(self.dir, exist_ok=True)
        self.ca = self.path(name + ".crt")
        self.ca_key = self.path(name + ".key")
        self._run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                  "-nodes", "-keyout", self.ca_key, "-out", self.ca, "-days", "2",
                  "-subj", "/CN=scrub-test-" + name)

    def path(self, name):
        return os.path.join(self.dir, name)

    def _run(self, *args):
        subprocess.run(["openssl"] + list(args), check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)

    def issue(self, name, cn, serial, san="DNS:localhost,IP:127.0.0.1", client=False, days=2):
        """Certificate `name`.crt and key `name`.key, valid for `days`; returns (cert, key)."""
        cert, key, csr, ext = (self.path(name + s) for s in (".crt", ".key", ".csr", ".ext"))
        with open(ext, "w") as f:
            f.write("extendedKeyUsage=clientAuth\n" if client else "subjectAltName=%s\n" % san)
        self._run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                  "-keyout", key, "-out", csr, "-subj", "/CN=" + cn)
        self._run("x509", "-req", "-in", csr, "-CA", self.ca, "-CAkey", self.ca_key,
                  "-set_serial", str(serial), "-days", str(days), "-out", cert, "-extfile", ext)
        return cert, key


    def issue_expired(self, name, cn, serial, san="DNS:localhost,IP:127.0.0.1"):
        """Like issue(), valid for one day in 2020: `openssl x509 -req` cannot backdate in
        OpenSSL 3.0, `openssl ca` with -startdate/-enddate can."""
        cert, key, csr, ext, cnf = (self.path(name + s)
                                    for s in (".crt", ".key", ".csr", ".ext", ".cnf"))
        db, serial_file = self.path(name + ".index"), self.path(name + ".serial")
        open(db, "w").close()
        with open(serial_file, "w") as f:
            f.write("%04X\n" % serial)
        with open(ext, "w") as f:
            f.write("subjectAltName=%s\n" % san)
        with open(cnf, "w") as f:
            f.write("[ca]\ndefault_ca=d\n[d]\ndatabase=%s\nserial=%s\nnew_certs_dir=%s\n"
                    "default_md=sha256\npolicy=p\n[p]\ncommonName=supplied\n"
                    % (db, serial_file, self.dir))
        self._run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                  "-keyout", key, "-out", csr, "-subj", "/CN=" + cn)
        self._run("ca", "-batch", "-config", cnf, "-cert", self.ca, "-keyfile", self.ca_key,
                  "-in", csr, "-out", cert, "-notext", "-extfile", ext,
                  "-startdate", "20200101000000Z", "-enddate", "20200102000000Z")
        return cert, key


class TlsSyslogNg(pi.SyslogNg):
    """The real syslog-ng of proxy_integration.py, with a TLS source instead of plain TCP."""

    def __init__(self, workdir, port, cert, key):
        super().__init__(workdir, port, name="syslog-ng-tls")
        with open(self.conf, "w") as conf:
            conf.write(
                "@version: 3.38\n"
                "options { stats-freq(0); keep-hostname(yes); log-msg-size(1048576); };\n"
                'source s_net { network(transport("tls") ip("127.0.0.1") port(%d) '
                "flags(no-parse) max-connections(10) log-iw-size(2000) "
                'tls(key-file("%s") cert-file("%s") peer-verify(optional-untrusted))); };\n'
                'destination d_file { file("%s" template("$MSG\\n")); };\n'
                "log { source(s_net); destination(d_file); flags(flow-control); };\n"
                % (port, key, cert, self.out)
            )


def client_context(ca, cert=None, key=None):
    ctx = ssl.create_default_context(cafile=ca)
    if cert:
        ctx.load_cert_chain(cert, key)
    return ctx


class TlsBase(unittest.TestCase):
    """The fixture of proxy_integration.py plus a PKI and TLS configs; no tests of its own."""

    setUp = pi.ProxyIntegration.setUp
    tearDown = pi.ProxyIntegration.tearDown
    _outcome_ok = pi.ProxyIntegration._outcome_ok
    proxy = pi.ProxyIntegration.proxy
    sink = pi.ProxyIntegration.sink
    write = pi.ProxyIntegration.write

    def pki(self):
        pki = Pki(self.workdir)
        self.cert, self.key = pki.issue("server", "localhost", 1001)
        return pki

    def listener_config(self, scheme, sink_address, tls_extra="", sink_block="", workers=1,
                        port=0):
        return self.write("tls.yaml", (
            "version: 1\n"
            "workers: %d\n"
            "log:\n  level: info\n  stats_interval: 0\n"
            "listeners:\n  - name: secure\n    listen: %s://127.0.0.1:%d\n"
            "    rules: [openfn-retry-ids]\n    sinks: [out]\n"
            "    tls:\n      cert_file: %s\n      key_file: %s\n%s"
            "sinks:\n  - name: out\n    address: %s\n"
            "    reconnect_min: 20ms\n    reconnect_max: 200ms\n%s"
        ) % (workers, scheme, port, self.cert, self.key, tls_extra, sink_address, sink_block))

    def start(self, scheme, tls_extra="", workers=1):
        sink = self.sink().listen()
        config = self.listener_config(scheme, "tcp://127.0.0.1:%d" % sink.port, tls_extra,
                                      workers=workers)
        proxy = self.proxy("--config", config)
        port = int(proxy.log.wait_for(r"listening on %s://127\.0\.0\.1:(\d+) " % scheme)[0]
                   .group(1))
        return proxy, sink, port

    def curl(self, url, body, *args):
        path = os.path.join(self.workdir, "body.ndjson")
        with open(path, "wb") as f:
            f.write(body)
        cmd = ["curl", "-sS", "-o", "-", "-w", r"\n%{http_code}\n", "-H",
               "Content-Type: application/x-ndjson", "--data-binary", "@" + path] + list(args) + [url]
        out = subprocess.run(cmd, capture_output=True, check=False, timeout=60)
        return out.returncode, out.stdout.decode("utf-8", "replace"), out.stderr.decode()



class TlsIntegration(TlsBase):
    """tls:// and https:// listeners."""

    def test_https_listener(self):
        pki = self.pki()
        proxy, sink, port = self.start("https")
        proxy.log.wait_for(r"listener 'secure': TLS certificate .*serial 03E9")
        url = "https://localhost:%d/v1/logs" % port
        rc, out, err = self.curl(url, b"".join(pi.job_line(i) for i in range(1, 4)),
                                 "--cacert", pki.ca)
        self.assertEqual(rc, 0, err)
        self.assertIn('"received":3,"forwarded":3', out)
        sink.wait_count(3)
        self.assertEqual(sorted(pi.ids_of(sink.snapshot())), [1, 2, 3])
        self.assertNotIn(b"Test Person", b"".join(sink.snapshot()))  # filtered, then forwarded
        proxy.log.wait_for(r"connection \d+: TLS established \(TLSv1\.3 ")
        # An error answer that closes the connection (lingering close) arrives intact over TLS.
        rc, out, err = self.curl("https://localhost:%d/nope" % port, pi.job_line(9),
                                 "--cacert", pki.ca)
        self.assertEqual(rc, 0, err)
        self.assertTrue(out.rstrip().endswith("404"), out)

        # A client that does not trust the proxy's CA: refused by curl, nothing forwarded.
        other = Pki(self.workdir, "other-ca")
        rc, out, err = self.curl(url, pi.job_line(4), "--cacert", other.ca)
        self.assertEqual(rc, 60, err)  # CURLE_PEER_FAILED_VERIFICATION
        proxy.log.wait_for(r"closed \(TLS: .*unknown ca")
        # TLS 1.1 is refused: 1.2 is the minimum.
        rc, out, err = self.curl(url, pi.job_line(5), "--cacert", pki.ca, "--tls-max", "1.1")
        self.assertNotEqual(rc, 0)
        # Plain HTTP to the TLS port is a TLS failure, not a request.
        rc, out, err = self.curl("http://127.0.0.1:%d/v1/logs" % port, pi.job_line(6))
        self.assertNotEqual(rc, 0)
        rc, stats = proxy.stop()
        self.assertEqual(rc, 0)
        self.assertEqual(stats["forwarded"], 3)

    def test_expired_certificate(self):
        """A proxy serving an expired certificate is refused by a verifying client, and nothing
        is forwarded."""
        pki = self.pki()
        self.cert, self.key = pki.issue_expired("expired", "localhost", 1500)
        proxy, sink, port = self.start("https")
        rc, out, err = self.curl("https://localhost:%d/v1/logs" % port, pi.job_line(1),
                                 "--cacert", pki.ca)
        self.assertEqual(rc, 60, err)  # CURLE_PEER_FAILED_VERIFICATION
        self.assertIn("expired", err)
        proxy.log.wait_for(r"closed \(TLS: .*certificate expired")
        rc, stats = proxy.stop()
        self.assertEqual(rc, 0)
        self.assertEqual(stats["forwarded"], 0)

    def test_https_client_certificates(self):
        pki = self.pki()
        client_cert, client_key = pki.issue("client", "scrub-client", 2001, client=True)
        other = Pki(self.workdir, "other-ca")
        rogue_cert, rogue_key = other.issue("rogue", "rogue-client", 3001, client=True)
        proxy, sink, port = self.start("https", "      client_ca_file: %s\n" % pki.ca)
        proxy.log.wait_for(r"client certificates required")
        url = "https://localhost:%d/v1/logs" % port
        rc, out, err = self.curl(url, pi.job_line(1), "--cacert", pki.ca)
        self.assertNotEqual(rc, 0, out)
        proxy.log.wait_for(r"closed \(TLS: .*peer did not return a certificate")
        rc, out, err = self.curl(url, pi.job_line(2), "--cacert", pki.ca, "--cert", rogue_cert,
                                 "--key", rogue_key)
        self.assertNotEqual(rc, 0, out)
        proxy.log.wait_for(r"closed \(TLS: .*certificate verify failed")
        rc, out, err = self.curl(url, pi.job_line(3), "--cacert", pki.ca, "--cert", client_cert,
                                 "--key", client_key)
        self.assertEqual(rc, 0, err)
        self.assertIn('"forwarded":1', out)
        proxy.log.wait_for(r"TLS established .*client /CN=scrub-client")
        sink.wait_count(1)
        self.assertEqual(sorted(pi.ids_of(sink.snapshot())), [3])
        rc, stats = proxy.stop()
        self.assertEqual(rc, 0)
        self.assertEqual(stats["forwarded"], 1)
        self.assertEqual(stats["tls_handshake_failures"], 2)  # no certificate, a rogue one

    def test_tls_line_listener(self):
        pki = self.pki()
        proxy, sink, port = self.start("tls")
        ctx = client_context(pki.ca)
        with socket.create_connection(("127.0.0.1", port)) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
                tls.sendall(b"".join(pi.job_line(i) for i in range(1, 201)))
                sink.wait_count(200)
                tls.unwrap()  # close_notify
        self.assertEqual(sorted(pi.ids_of(sink.snapshot())), list(range(1, 201)))
        self.assertNotIn(b"Test Person", b"".join(sink.snapshot()))
        proxy.log.wait_for(r"closed \(closed by the client \(close_notify\)\): lines=200 "
                           r"forwarded=200")
        # `openssl s_client` too (the brief's other client), and plaintext is refused.
        s_client = subprocess.run(
            ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-CAfile", pki.ca,
             "-servername", "localhost", "-verify_return_error", "-quiet", "-no_ign_eof"],
            input=pi.job_line(201), capture_output=True, timeout=60)
        self.assertEqual(s_client.returncode, 0, s_client.stderr)
        sink.wait_count(201)
        with socket.create_connection(("127.0.0.1", port)) as plain:
            plain.sendall(pi.job_line(999) * 3)
            plain.settimeout(pi.DEADLINE)
            while plain.recv(4096):
                pass
        proxy.log.wait_for(r"closed \(TLS: .*(wrong version number|http request|packet length)")
        rc, stats = proxy.stop()
        self.assertEqual(rc, 0)
        self.assertEqual(stats["forwarded"], 201)
        self.assertEqual(stats["tls_handshake_failures"], 1)  # the plaintext client
        self.assertNotIn(999, pi.ids_of(sink.snapshot()))

    def test_start_errors(self):
        pki = self.pki()
        other_cert, other_key = pki.issue("other", "other", 1002)

        def run(tls_block):
            config = self.write("bad.yaml", (
                "version: 1\nlisteners:\n  - name: secure\n    listen: tls://127.0.0.1:0\n"
                "    sinks: [out]\n    tls:\n%s"
                "sinks:\n  - name: out\n    address: stdout\n") % tls_block)
            proc = subprocess.run([pi.BINARY, "run", "--config", config], capture_output=True,
                                  timeout=60, stdin=subprocess.DEVNULL)
            return proc.returncode, proc.stderr.decode().strip().splitlines()

        rc, lines = run("      cert_file: %s\n      key_file: %s\n" % (self.cert, other_key))
        self.assertEqual(rc, 3, lines)
        self.assertEqual(len(lines), 1, lines)
        self.assertIn("does not match", lines[0])
        self.assertIn(other_key, lines[0])
        rc, lines = run("      cert_file: %s\n      key_file: %s\n" % (self.key, self.key))
        self.assertEqual(rc, 3, lines)
        self.assertIn("not a PEM certificate", lines[0])
        rc, lines = run("      cert_file: %s\n      key_file: %s\n"
                        % (pki.path("missing.crt"), self.key))
        self.assertEqual(rc, 3, lines)
        self.assertEqual(len(lines), 1, lines)
        self.assertIn("missing.crt", lines[0])

    def test_sighup_certificate_reload(self):
        pki = self.pki()
        proxy, sink, port = self.start("tls")
        ctx = client_context(pki.ca)

        def connect():
            tls = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)),
                                  server_hostname="localhost")
            return tls, tls.getpeercert()["serialNumber"]

        old, serial = connect()
        self.assertEqual(serial, "03E9")
        old.sendall(pi.job_line(1))
        sink.wait_count(1)

        # New files in place, then SIGHUP.
        pki.issue("server", "localhost", 1002)
        mark = proxy.log.mark()
        proxy.signal(signal.SIGHUP)
        proxy.log.wait_for(r"TLS certificate reloaded: .*serial 03EA", start=mark)
        new, serial = connect()
        self.assertEqual(serial, "03EA")
        # Both connections carry lines: the established one was not dropped.
        old.sendall(pi.job_line(2))
        new.sendall(pi.job_line(3))
        sink.wait_count(3)

        # A reload that fails keeps the current certificate and says why.
        with open(self.key, "w") as f:
            f.write("not a key\n")
        mark = proxy.log.mark()
        proxy.signal(signal.SIGHUP)
        proxy.log.wait_for(r"tls: key_file .* keeps its previous certificate .*serial 03EA",
                           start=mark)
        third, serial = connect()
        self.assertEqual(serial, "03EA")
        third.sendall(pi.job_line(4))
        old.sendall(pi.job_line(5))
        sink.wait_count(5)
        for conn in (old, new, third):
            conn.close()
        self.assertEqual(sorted(pi.ids_of(sink.snapshot())), [1, 2, 3, 4, 5])
        rc, stats = proxy.stop()
        self.assertEqual(rc, 0)


class TlsSinks(TlsBase):
    """tls:// sinks: a real syslog-ng with a TLS source as the receiver."""

    def syslog_ng(self):
        for _ in range(3):
            daemon = TlsSyslogNg(self.workdir, pi.free_port(), self.cert, self.key)
            try:
                daemon.start()
                self.procs.append(daemon)
                return daemon
            except AssertionError:
                daemon.stop()
        raise AssertionError("syslog-ng did not start")

    def sink_config(self, sinks):
        """A tcp:// listener feeding every sink in `sinks` [(name, address, tls block)]."""
        text = ("version: 1\nworkers: 1\nlog:\n  level: info\n  stats_interval: 0\n"
                "limits:\n  shutdown_timeout: 3s\n"
                "listeners:\n  - name: in\n    listen: tcp://127.0.0.1:0\n"
                "    rules: [openfn-retry-ids]\n    sinks: [%s]\n"
                "sinks:\n") % ", ".join(name for name, _, _ in sinks)
        for name, address, tls in sinks:
            text += ("  - name: %s\n    address: %s\n    reconnect_min: 20ms\n"
                     "    reconnect_max: 200ms\n    tls:\n%s") % (name, address, tls)
        return self.write("sinks.yaml", text)

    def send(self, port, lines):
        with socket.create_connection(("127.0.0.1", port)) as conn:
            conn.sendall(lines)

    def test_sink_to_syslog_ng(self):
        pki = self.pki()
        daemon = self.syslog_ng()
        config = self.sink_config([
            ("out", "tls://localhost:%d" % daemon.port, "      ca_file: %s\n" % pki.ca)])
        proxy = self.proxy("--config", config)
        proxy.log.wait_for(r"sink 'out' \[w0\]: connected to tls://localhost:\d+ \(TLSv1\.\d \S+, "
                           r"certificate verified for localhost\)")
        self.send(proxy.port(), b"".join(pi.job_line(i) for i in range(1, 501)))
        daemon.wait_count(500)
        lines = daemon.lines()
        self.assertEqual(sorted(pi.ids_of(lines)), list(range(1, 501)))
        self.assertNotIn(b"Test Person", b"".join(lines))
        rc, stats = proxy.stop()
        self.assertEqual(rc, 0)
        self.assertEqual(stats["sinks"]["out"]["delivered"], 500)
        self.assertEqual(proxy.log.matches(r"insecure_skip_verify"), [])

    def test_sink_verification(self):
        """A wrong CA or a wrong name: no delivery, the verify reason logged; insecure_skip_verify
        delivers and warns at start."""
        pki = self.pki()
        other = Pki(self.workdir, "other-ca")
        daemon = self.syslog_ng()
        address = "tls://localhost:%d" % daemon.port
        config = self.sink_config([
            ("good", address, "      ca_file: %s\n" % pki.ca),
            ("badca", address, "      ca_file: %s\n" % other.ca),
            ("badname", address, "      ca_file: %s\n      server_name: logs.example.org\n" % pki.ca),
            ("insecure", address, "      ca_file: %s\n      insecure_skip_verify: true\n" % other.ca),
        ])
        proxy = self.proxy("--config", config)
        proxy.log.wait_for(r"sink 'insecure' \(tls://localhost:\d+\): tls\.insecure_skip_verify is "
                           r"set: the sink's certificate and name are NOT verified")
        proxy.log.wait_for(r"sink 'badca' \[w0\]: cannot connect to tls://localhost:\d+: TLS "
                           r"handshake failed: .*certificate verify failed.*unable to get local "
                           r"issuer certificate")
        proxy.log.wait_for(r"sink 'badname' \[w0\]: cannot connect to tls://localhost:\d+: TLS "
                           r"handshake failed: .*hostname mismatch")
        proxy.log.wait_for(r"sink 'insecure' \[w0\]: connected to .*certificate NOT verified")
        self.send(proxy.port(), b"".join(pi.job_line(i) for i in range(1, 51)))
        daemon.wait_count(100)  # good and insecure: 50 each
        self.assertEqual(pi.ids_of(daemon.lines()), {i: 2 for i in range(1, 51)})
        rc, stats = proxy.stop()
        self.assertEqual(rc, 0)
        self.assertEqual(stats["sinks"]["good"]["delivered"], 50)
        self.assertEqual(stats["sinks"]["insecure"]["delivered"], 50)
        for bad in ("badca", "badname"):
            self.assertEqual(stats["sinks"][bad]["delivered"], 0)
            self.assertEqual(stats["sinks"][bad]["connects"], 0)
        # Never payload in the log, also not in the failures.
        self.assertNotIn("Test Person", proxy.log.text())

    def mutual_tls_receiver(self, scheme, port=0):
        """A proxy whose `scheme` listener requires client certificates signed by the test's CA
        and forwards to a line sink: (pki, line sink, receiver, its port, its config file)."""
        pki = self.pki()
        line_sink = self.sink().listen()
        config = self.listener_config(scheme, "tcp://127.0.0.1:%d" % line_sink.port,
                                      "      client_ca_file: %s\n" % pki.ca, port=port)
        receiver = self.proxy("--config", config)
        port = int(receiver.log.wait_for(r"listening on %s://127\.0\.0\.1:(\d+) " % scheme)[0]
                   .group(1))
        return pki, line_sink, receiver, port, config

    def test_sink_client_certificate(self):
        """A tls:// sink with a client certificate, to a proxy whose tls:// listener requires
        one (client_ca_file): the receiving end checks it."""
        pki, line_sink, receiver, port, _ = self.mutual_tls_receiver("tls")
        client_cert, client_key = pki.issue("client", "scrub-sink-client", 2001, client=True)
        config = self.sink_config([
            ("withcert", "tls://127.0.0.1:%d" % port,
             "      ca_file: %s\n      cert_file: %s\n      key_file: %s\n"
             % (pki.ca, client_cert, client_key)),
        ])
        sender = self.proxy("--config", config)
        sender.log.wait_for(r"sink 'withcert' \[w0\]: connected to tls://127\.0\.0\.1:\d+ .*"
                            r"certificate verified for 127\.0\.0\.1")
        receiver.log.wait_for(r"TLS established .*client /CN=scrub-sink-client")
        self.send(sender.port(), b"".join(pi.job_line(i) for i in range(1, 11)))
        line_sink.wait_count(10)
        self.assertEqual(sorted(pi.ids_of(line_sink.snapshot())), list(range(1, 11)))
        rc, _ = sender.stop()
        self.assertEqual(rc, 0)
        # The sender closed with close_notify: a clean close, not a truncation.
        receiver.log.wait_for(r"closed \(closed by the client \(close_notify\)\): lines=10 "
                              r"forwarded=10")
        rc, _ = receiver.stop()
        self.assertEqual(rc, 0)

    def test_sink_certificate_reload(self):
        """SIGHUP re-reads a tls:// sink's client certificate and key: the open connection keeps
        the old ones, the next connection presents the new; files that do not load keep the
        current ones. The receiver is a proxy requiring client certificates, restarted on the
        same port to make the sender connect again."""
        pki, line_sink, first, port, receiver_config = self.mutual_tls_receiver(
            "tls", pi.free_port())
        client_cert, client_key = pki.issue("client", "sink-client-one", 2001, client=True)

        def receiver():
            proc = self.proxy("--config", receiver_config)
            proc.log.wait_for(r"listening on tls://127\.0\.0\.1:%d " % port)
            return proc

        def reconnect(previous, cn, first_id, last_id):
            """Stops the receiver, starts a new one on the same port: the sender connects again
            and must present `cn`; then lines first_id..last_id go through it."""
            rc, _ = previous.stop()
            self.assertEqual(rc, 0)
            current = receiver()
            current.log.wait_for(r"TLS established .*client /CN=%s" % cn)
            self.send(sender.port(), b"".join(pi.job_line(i) for i in range(first_id, last_id + 1)))
            line_sink.wait_count(last_id)
            return current

        sender = self.proxy("--config", self.sink_config([
            ("out", "tls://127.0.0.1:%d" % port,
             "      ca_file: %s\n      cert_file: %s\n      key_file: %s\n"
             % (pki.ca, client_cert, client_key))]))
        first.log.wait_for(r"TLS established .*client /CN=sink-client-one")
        self.send(sender.port(), b"".join(pi.job_line(i) for i in range(1, 4)))
        line_sink.wait_count(3)

        # Rotated files, then SIGHUP: the open connection goes on with the old certificate.
        pki.issue("client", "sink-client-two", 2002, client=True)
        mark = sender.log.mark()
        sender.signal(signal.SIGHUP)
        sender.log.wait_for(r"SIGHUP: sink 'out': TLS files reloaded \(subject /CN=sink-client-two, "
                            r"serial 07D2", start=mark)
        self.send(sender.port(), b"".join(pi.job_line(i) for i in range(4, 6)))
        line_sink.wait_count(5)
        self.assertEqual(first.log.matches(r"CN=sink-client-two"), [])
        second = reconnect(first, "sink-client-two", 6, 7)

        # A key that does not load: the sink keeps the files it has and says why.
        with open(client_key, "w") as f:
            f.write("not a key\n")
        mark = sender.log.mark()
        sender.signal(signal.SIGHUP)
        sender.log.wait_for(r"SIGHUP: sink 'out': tls: .*; it keeps its previous TLS files "
                            r"\(subject /CN=sink-client-two", start=mark)
        third = reconnect(second, "sink-client-two", 8, 9)
        self.assertEqual(sorted(pi.ids_of(line_sink.snapshot())), list(range(1, 10)))
        rc, stats = sender.stop()
        self.assertEqual(rc, 0)
        self.assertEqual(stats["sinks"]["out"]["delivered"], 9)
        rc, _ = third.stop()
        self.assertEqual(rc, 0)

    def test_https_sink_client_certificate(self):
        """An https:// sink with a client certificate (libcurl's side of mutual TLS), to a proxy
        whose https:// listener requires one: delivered with it, held without it."""
        pki, line_sink, receiver, port, _ = self.mutual_tls_receiver("https")
        client_cert, client_key = pki.issue("client", "scrub-https-client", 2002, client=True)
        address = "https://localhost:%d/v1/logs" % port
        fast = "    http:\n      flush_interval: 20ms\n"

        config = self.sink_config([
            ("withcert", address, "      ca_file: %s\n      cert_file: %s\n      key_file: %s\n%s"
             % (pki.ca, client_cert, client_key, fast)),
        ])
        sender = self.proxy("--config", config)
        self.send(sender.port(), b"".join(pi.job_line(i) for i in range(1, 11)))
        line_sink.wait_count(10)
        self.assertEqual(sorted(pi.ids_of(line_sink.snapshot())), list(range(1, 11)))
        receiver.log.wait_for(r"TLS established .*client /CN=scrub-https-client")
        rc, stats = sender.stop()
        self.assertEqual(rc, 0)
        self.assertEqual(stats["sinks"]["withcert"]["delivered"], 10)

        # The same sink without the certificate: the receiver refuses the handshake, the sender
        # keeps the batch and reports it undelivered at shutdown; nothing arrives.
        config = self.sink_config([("nocert", address, "      ca_file: %s\n%s" % (pki.ca, fast))])
        sender = self.proxy("--config", config)
        self.send(sender.port(), b"".join(pi.job_line(i) for i in range(11, 14)))
        receiver.log.wait_for(r"closed \(TLS: .*peer did not return a certificate")
        sender.log.wait_for(r"sending 3 lines to https://localhost:%d/v1/logs failed" % port)
        rc, stats = sender.stop()
        self.assertEqual(rc, 0)
        self.assertEqual(stats["sinks"]["nocert"]["delivered"], 0)
        self.assertEqual(stats["sinks"]["nocert"]["undelivered"], 3)
        rc, stats = receiver.stop()
        self.assertEqual(rc, 0)
        self.assertEqual(stats["forwarded"], 10)
        self.assertEqual(sorted(pi.ids_of(line_sink.snapshot())), list(range(1, 11)))


def main():
    args = sys.argv[1:]
    if len(args) >= 2 and args[0] == "--binary":
        pi.BINARY = os.path.abspath(args[1])
        args = args[2:]
    unittest.main(module=__name__, argv=[sys.argv[0], "-v"] + args)


if __name__ == "__main__":
    main()
