#!/usr/bin/env python3
"""Bounded soak test: the real binary under mixed load for SCRUB_SOAK_SECONDS (default 90).

- TCP clients (SCRUB_SOAK_TCP_CLIENTS, default 16; each reconnects every few batches) and HTTP
  clients (SCRUB_SOAK_HTTP_CLIENTS, default 4; keep-alive, a 503 is retried) send valid lines
  with unique `_id`s and a canary in a field the rules remove, mixed with malformed lines
  (invalid JSON, invalid UTF-8, not an object, over-long) that carry canaries too;
- the sink is a real syslog-ng that flaps: paused (SIGSTOP) or restarted (SIGTERM, start) for a
  few seconds in every cycle;
- the rules file is rewritten and the proxy sent SIGHUP every SCRUB_SOAK_RELOAD_SECONDS
  (default 3), every fourth time with a broken file that must be refused.

Asserts at the end: every good record arrived (a record may be missing only when the proxy
reported it as possibly lost with a sink connection that dropped, and no more than it
reported), none twice beyond what the proxy reported as resent, no malformed line and no canary
reached the sink, resident memory flat after warm-up (the highest VmRSS of the last third of the
run at most 10% + 4 MiB above that of the middle third), and the proxy's open file descriptors
back to their count before the clients came.

Usage: soak.py --binary build/dev/scrubproxy. Standard library only; waits on log lines, counts
and deadlines (the clients' pacing is the only timed part: it is the load).
"""

import http.client
import json
import os
import random
import signal
import socket
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import proxy_integration as pi  # noqa: E402

SECONDS = float(os.environ.get("SCRUB_SOAK_SECONDS", "90"))
TCP_CLIENTS = int(os.environ.get("SCRUB_SOAK_TCP_CLIENTS", "16"))
HTTP_CLIENTS = int(os.environ.get("SCRUB_SOAK_HTTP_CLIENTS", "4"))
RELOAD_SECONDS = float(os.environ.get("SCRUB_SOAK_RELOAD_SECONDS", "3"))
FLAP_PERIOD = float(os.environ.get("SCRUB_SOAK_FLAP_SECONDS", "15"))
BATCH = 50
MALFORMED_ID_BASE = 9 * 10**17  # ids of malformed lines: none may arrive

# Synthetic personal values (invented), planted in removed fields and in malformed lines.
CANARIES = ["Dzenana Soakovic", "+387 61 555 0199", "soak.person@example.org",
            "0101990175009", "Ulica Testna 17"]

RULES_V1 = ("version: 1\nname: soak\npolicy: allowlist\nkeep:\n"
            "  - path: _id\n    value: '[1-9][0-9]{0,18}'\n  - path: level\n")
RULES_V2 = RULES_V1 + "  - path: phase\n    value: '[a-z]+'\n"
RULES_BROKEN = RULES_V1 + "  - path: phase\n    vaule: '[a-z]+'\n"


def good_line(i):
    canary = CANARIES[i % len(CANARIES)]
    return ('{"_id":%d,"level":"info","phase":"soak","note":"%s","child":{"name":"%s"}}\n'
            % (i, canary, canary)).encode()


def malformed_line(i, kind):
    canary = CANARIES[i % len(CANARIES)].encode()
    n = MALFORMED_ID_BASE + i
    if kind == 0:
        return b'{"_id":%d,"level":"info","note":"%s"\n' % (n, canary)  # unclosed object
    if kind == 1:
        return b'{"_id":%d,"level":"info","note":"%s \xff\xfe"}\n' % (n, canary)  # bad UTF-8
    if kind == 2:
        return b'["_id",%d,"%s"]\n' % (n, canary)  # not an object
    return b'{"_id":%d,"note":"%s%s"}\n' % (n, canary, b"x" * (70 << 10))  # over max_line_bytes


class Ids:
    """Hands out unique ids and remembers which were accepted by the proxy."""

    def __init__(self):
        self.lock = threading.Lock()
        self.next = 1
        self.accepted = set()

    def take(self, n):
        with self.lock:
            first = self.next
            self.next += n
            return range(first, first + n)

    def accept(self, ids):
        with self.lock:
            self.accepted.update(ids)


class TcpClient(threading.Thread):
    def __init__(self, port, ids, stop, seed):
        super().__init__(daemon=True)
        self.port, self.ids, self.stop, self.rng = port, ids, stop, random.Random(seed)
        self.error = None
        self.connections = 0

    def run(self):
        try:
            while not self.stop.is_set():
                with socket.create_connection(("127.0.0.1", self.port), timeout=120) as sock:
                    self.connections += 1
                    for _ in range(self.rng.randint(1, 20)):
                        if self.stop.is_set():
                            break
                        ids = self.ids.take(BATCH)
                        data = b"".join(good_line(i) for i in ids)
                        if self.rng.random() < 0.3:
                            data += malformed_line(ids[0], self.rng.randrange(4))
                        sock.sendall(data)
                        # Handed to the kernel on a connection the proxy reads to its end.
                        self.ids.accept(ids)
                        time.sleep(self.rng.uniform(0.01, 0.1))  # pacing: this is the load
        except OSError as e:
            self.error = e


class HttpClient(threading.Thread):
    def __init__(self, port, ids, stop, seed):
        super().__init__(daemon=True)
        self.port, self.ids, self.stop, self.rng = port, ids, stop, random.Random(seed)
        self.error = None
        self.status = {}

    def run(self):
        conn = None
        try:
            pending = None
            while not self.stop.is_set() or pending is not None:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
                if pending is None:
                    ids = self.ids.take(BATCH)
                    body = b"".join(good_line(i) for i in ids)
                    if self.rng.random() < 0.3:
                        body += malformed_line(ids[0], self.rng.randrange(3))
                    pending = (ids, body, "application/x-ndjson")
                if self.rng.random() < 0.05:  # a malformed JSON body: 400, nothing forwarded
                    conn.request("POST", "/v1/logs", body=b'{"_id":1,"note":"%s"' %
                                 CANARIES[0].encode(), headers={"Content-Type": "application/json"})
                    self._answer(conn)
                conn.request("POST", "/v1/logs", body=pending[1],
                             headers={"Content-Type": pending[2]})
                status = self._answer(conn)
                if status == 200:
                    self.ids.accept(pending[0])
                    pending = None
                elif status == 503:
                    time.sleep(0.2)  # Retry-After says 1 s; the sink flaps for seconds
                else:
                    raise AssertionError("unexpected HTTP status %d" % status)
                time.sleep(self.rng.uniform(0.01, 0.1))
        except (OSError, http.client.HTTPException, AssertionError) as e:
            self.error = e
        finally:
            if conn is not None:
                conn.close()

    def _answer(self, conn):
        response = conn.getresponse()
        response.read()
        self.status[response.status] = self.status.get(response.status, 0) + 1
        return response.status


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def main():
    args = sys.argv[1:]
    if len(args) >= 2 and args[0] == "--binary":
        pi.BINARY = os.path.abspath(args[1])
    workdir = tempfile.mkdtemp(prefix="scrub-soak-")
    ok = False
    procs = []
    try:
        run(workdir, procs)
        ok = True
    finally:
        for proc in procs:
            try:
                proc.kill() if isinstance(proc, pi.Proxy) else proc.stop()
            except Exception:
                pass
        if ok:
            import shutil
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            sys.stderr.write("soak: kept %s for inspection\n" % workdir)


def run(workdir, procs):
    daemon = pi.start_syslog_ng(workdir)
    procs.append(daemon)
    rules = os.path.join(workdir, "rules.yaml")
    with open(rules, "w") as f:
        f.write(RULES_V1)
    config = os.path.join(workdir, "proxy.yaml")
    with open(config, "w") as f:
        f.write(
            "version: 1\nworkers: 2\n"
            "log:\n  level: info\n  stats_interval: 0\n"
            "limits:\n  max_line_bytes: 64KiB\n  shutdown_timeout: 30s\n"
            "listeners:\n"
            "  - name: tcp\n    listen: tcp://127.0.0.1:0\n    rules: [%s]\n    sinks: [out]\n"
            "  - name: web\n    listen: http://127.0.0.1:0\n    rules: [%s]\n    sinks: [out]\n"
            "sinks:\n  - name: out\n    address: tcp://127.0.0.1:%d\n"
            "    max_buffer_bytes: 8MiB\n    reconnect_min: 20ms\n    reconnect_max: 300ms\n"
            % (rules, rules, daemon.port))
    proxy = pi.Proxy(workdir, ["--config", config])
    procs.append(proxy)
    tcp_port = int(proxy.log.wait_for(r"listening on tcp://127\.0\.0\.1:(\d+) ")[0].group(1))
    http_port = int(proxy.log.wait_for(r"listening on http://127\.0\.0\.1:(\d+) ")[0].group(1))
    proxy.log.wait_for(r"connected to tcp://127\.0\.0\.1:%d" % daemon.port, count=2)
    fds_before = fd_count(proxy.pid)

    ids = Ids()
    stop = threading.Event()
    clients = [TcpClient(tcp_port, ids, stop, seed) for seed in range(TCP_CLIENTS)]
    clients += [HttpClient(http_port, ids, stop, 1000 + seed) for seed in range(HTTP_CLIENTS)]
    for client in clients:
        client.start()

    start = time.monotonic()
    rss = []  # (seconds since start, KiB)
    reloads = {"valid": 0, "broken": 0}
    next_reload = start + RELOAD_SECONDS
    next_flap = start + FLAP_PERIOD / 3
    flaps = 0
    while time.monotonic() - start < SECONDS:
        now = time.monotonic()
        rss.append((now - start, proxy.rss_kib()))
        if now >= next_reload:
            n = reloads["valid"] + reloads["broken"]
            broken = n % 4 == 3
            with open(rules, "w") as f:
                f.write(RULES_BROKEN if broken else (RULES_V2 if n % 2 else RULES_V1))
            proxy.signal(signal.SIGHUP)
            reloads["broken" if broken else "valid"] += 1
            next_reload = now + RELOAD_SECONDS
        if now >= next_flap and now - start < SECONDS - FLAP_PERIOD / 2:
            down = FLAP_PERIOD / 3
            if flaps % 2 == 0:
                daemon.proc.send_signal(signal.SIGSTOP)  # stalled: the proxy holds and backs off
                time.sleep(down)  # the outage itself is the scenario
                daemon.proc.send_signal(signal.SIGCONT)
            else:
                mark = proxy.log.mark()
                daemon.stop()  # gone: the proxy reconnects and reports what may be lost
                proxy.log.wait_for(r"connection to tcp://127\.0\.0\.1:%d lost" % daemon.port,
                                   start=mark)
                time.sleep(down)
                mark = proxy.log.mark()
                daemon.start()
                proxy.log.wait_for(r"connected to tcp://127\.0\.0\.1:%d" % daemon.port,
                                   start=mark, count=2)
            flaps += 1
            next_flap = time.monotonic() + FLAP_PERIOD
        time.sleep(0.25)  # the sampling interval of the memory series

    stop.set()
    for client in clients:
        client.join(pi.DEADLINE)
        assert not client.is_alive(), "a client did not finish"
        assert client.error is None, "client failed: %r" % (client.error,)
    # Every TCP connection read to its end and closed; HTTP connections closed by the clients.
    connections = sum(c.connections for c in clients if isinstance(c, TcpClient))
    connections += sum(1 for c in clients if isinstance(c, HttpClient))
    proxy.log.wait_for(r"connection \d+ closed \(closed by the client\)", count=connections)
    fds_after = None
    for _ in pi.deadline_loop(pi.DEADLINE, "the proxy's file descriptors back to %d" % fds_before):
        fds_after = fd_count(proxy.pid)
        if fds_after == fds_before:
            break
        time.sleep(0.1)  # polling /proc for a count
    rc, stats = proxy.stop()
    daemon.wait_connections_closed()
    daemon.stop()
    assert rc == 0, "proxy exit code %d" % rc

    received = daemon.lines()
    whole = [l for l in received if l.startswith(b"{") and l.endswith(b"}")]
    cut = len(received) - len(whole)
    got = pi.ids_of(whole)
    sink = stats["sinks"]["out"]
    accepted = ids.accepted
    missing = accepted - set(got)
    unexpected = set(got) - accepted
    twice = sum(c - 1 for c in got.values())
    leaked = [c for c in CANARIES if any(c.encode() in l for l in received)]
    malformed = [i for i in got if i >= MALFORMED_ID_BASE]
    http_status = {}
    for c in clients:
        if isinstance(c, HttpClient):
            for k, v in c.status.items():
                http_status[k] = http_status.get(k, 0) + v
    third = SECONDS / 3
    middle = max((kib for t, kib in rss if third <= t < 2 * third), default=0)
    last = max((kib for t, kib in rss if t >= 2 * third), default=0)
    summary = {
        "seconds": SECONDS, "records_accepted": len(accepted), "records_received": len(got),
        "missing": len(missing), "twice": twice, "cut_lines": cut, "unexpected": len(unexpected),
        "canaries_leaked": len(leaked), "malformed_forwarded": len(malformed),
        "reloads": reloads, "flaps": flaps, "tcp_connections": connections,
        "http_status": http_status, "rss_kib_middle_max": middle, "rss_kib_last_max": last,
        "fds_before": fds_before, "fds_after": fds_after, "sink": sink,
        "dropped": {k: v for k, v in stats.items() if k.startswith("dropped")},
    }
    sys.stderr.write("soak: %s\n" % json.dumps(summary, sort_keys=True))

    assert not leaked, "canaries reached the sink"
    assert not malformed, "malformed lines reached the sink"
    assert not unexpected, "records nobody sent reached the sink"
    assert cut <= sink.get("failures", 0), "more cut lines than sink connection failures"
    assert len(missing) <= sink.get("possibly_lost", 0), (
        "%d records missing, the proxy reported %d possibly lost" % (len(missing),
                                                                    sink.get("possibly_lost", 0)))
    assert twice <= sink.get("resent", 0), "%d duplicates, %d reported resent" % (
        twice, sink.get("resent", 0))
    assert sink.get("undelivered", 0) == 0, "records left undelivered at shutdown"
    assert len(accepted) > 0 and reloads["valid"] > 0 and flaps > 0
    assert len(proxy.log.matches(r"rules reload failed .* keeps its previous rules")) >= \
        reloads["broken"], "a broken rules file was not refused"
    assert last <= middle * 1.10 + 4096, "resident memory grew: %d KiB -> %d KiB" % (middle, last)
    assert fds_after == fds_before
    sys.stderr.write("soak: ok\n")


if __name__ == "__main__":
    main()
