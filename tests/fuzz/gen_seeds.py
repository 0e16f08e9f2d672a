#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (tests/fuzz/<target>/seed-*). Synthetic values only:
invented names, documentation-range numbers, example.org addresses. Rerun after editing; crash
inputs kept as regressions (crash-*) are not touched."""
import gzip
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def write(corpus, seeds):
    folder = os.path.join(HERE, corpus)
    os.makedirs(folder, exist_ok=True)
    for name in os.listdir(folder):
        if name.startswith("seed-"):
            os.remove(os.path.join(folder, name))
    for i, seed in enumerate(seeds):
        data = seed.encode() if isinstance(seed, str) else seed
        with open(os.path.join(folder, "seed-%03d" % i), "wb") as f:
            f.write(data)


# line_framer: 2 bytes line limit, 1 byte read chunk, then the stream.
framer = [
    b"\x00\x40\x07" + b'{"a":1}\n{"b":2}\r\n\n{"c":3}\n',
    b"\x00\x10\x03" + b"short\n" + b"x" * 100 + b"\nafter\n" + b"y" * 17 + b"\nok\n",
    b"\x00\x08\x02" + b"0123456789",
    b"\x01\x00\xff" + (b'{"level":"info","message":["x"]}\n' * 40) + b'{"partial":',
    b"\x00\x05\x01" + b"12345\r\n123456\r\n\r\n\r\r\n",
]

# line_filter: first byte picks where the canary goes (0 top level, 1 object in message[],
# 2 JSON string in message[]); the rest continues the object.
filter_lines = [
    '"level":"info","name":"JOB","message":["Starting operation 2",{"_id":9448242,"_xform_id":7205,"child/phone":"061 482 913"}],"time":"1795397774154603532"}',
    '"level":"info","message":["{\\"_id\\":77,\\"child/full_name\\":\\"Emir Test\\"}"]}',
    '"_id":9448242,"notes/free_text":"call +387 61 482 913 or e.h@example.net","n":1e400,"z":-0.0}',
    '"level":"warn","message":["Operation 1 complete in 0ms"],"source":"R/T","timestamp":"2026-01-01T00:00:00Z","step_id":"a-1"}',
    '"data":{"by_email":{"someone@example.org":{"_id":1}},"ok_key":{"_id":2},"arr":[[{"_id":3}],null,true,"s"]}}',
    '"k\\u005fid":12,"\\u005fid":13,"esc":"\\ud83d\\ude00\\n\\t\\"","_id":"not-a-number"}',
    '"message":["{\\"a\\":\\"{\\\\\\"_id\\\\\\":5}\\"}"],"level":"debug"}',
    '"iban":"BA391290079401028494","card":"4111 1111 1111 1111","ip":"192.0.2.7","gps":"43.8563, 18.4131"}',
    '"level":"info","_geolocation":[43.85,18.41],"_submitted_by":"tester","jmbg":"0101990170007"}',
    '"level":"info","deep":' + "[" * 70 + "]" * 70 + "}",
    '"bad_utf8":"\xff\xfe"}',
    '"trailing":1} extra',
]
filter_seeds = []
for i, line in enumerate(filter_lines):
    filter_seeds.append(bytes([i % 3]) + line.encode("utf-8", "surrogateescape"))
filter_seeds[10] = bytes([1]) + b'"bad_utf8":"\xff\xfe"}'

packs = []
for name in sorted(os.listdir(os.path.join(ROOT, "rules", "packs"))):
    with open(os.path.join(ROOT, "rules", "packs", name), "rb") as f:
        packs.append(f.read())
rules = packs + [
    "version: 1\nname: mine\nkeep:\n  - path: _id\n    value: '[0-9]+'\n  - time\n",
    "version: 1\nname: r\npolicy: redact\naction: mask\ndeny:\n  - name: email\n    pattern: '(?i)[a-z0-9._%+-]+@[a-z0-9.-]+\\.[a-z]{2,}'\n",
    "version: 1\nname: w\nkeep:\n  - path: '**._id'\n  - path: 'a.*.b[]'\n  - path: '\"x.y\"'\nwildcard_keys: '[a-z]+'\n",
    "version: 1\nname: h\npolicy: redact\naction: hash\nhash_key: {id: k1, env: NOPE}\ndeny:\n  - name: d\n    pattern: '[0-9]{3}'\n",
    "version: 1\nname: t\nkeep:\n  - path: _id\n    vaule: x\n",
    "version: 1\nname: i\ninclude: [pii-detectors]\nenvelope: [level]\ndrop_empty: false\nmask: '[X:{rule}]'\n",
]

with open(os.path.join(ROOT, "config", "scrubproxy.yaml"), "rb") as f:
    shipped_config = f.read()
configs = [
    shipped_config,
    "version: 1\nlisteners:\n  - name: a\n    listen: tcp://127.0.0.1:0\n    sinks: [s]\nsinks:\n  - name: s\n    address: tcp://127.0.0.1:6514\n",
    "version: 1\nworkers: 2\nlisteners:\n  - name: h\n    listen: http://127.0.0.1:8088\n    rules: [kobo-redact]\n    sinks: [out]\n    http:\n      path: /v1/logs\n      max_body_bytes: 1MiB\n      api_keys: [{id: k, secret: '${env:KEY}'}]\nsinks:\n  - name: out\n    address: stdout\n",
    "version: 1\nlisteners:\n  - name: u\n    listen: unix:///tmp/x.sock\n    sinks: [o]\n    allow_public: true\nsinks:\n  - name: o\n    address: stdout\n    high_watermark: 90%\n    low_watermark: 10%\n    reconnect_min: 5ms\n",
    "version: 1\nlimits:\n  max_line_bytes: 64KiB\n  idle_timeout: 0\nlisteners: []\n",
    "version: 1\nlistners: []\n",
]

# http_request: first byte bit 0 requires an API key, second byte is the read size; then the
# client's byte stream.
key = "k" * 32
ndjson = '{"level":"info","_id":1}\n{"level":"warn","_id":2}\n'
http = [
    "POST /v1/logs HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-ndjson\r\nContent-Length: %d\r\n\r\n%s" % (len(ndjson), ndjson),
    "POST /v1/logs?x=1 HTTP/1.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n[{\"a\"\r\n9\r\n:1},2,\"s\"]\r\n0\r\n\r\n",
    "POST /v1/logs HTTP/1.1\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: 9\r\nExpect: 100-continue\r\n\r\n{\"a\":[]}"
    "GET /v1/logs HTTP/1.1\r\n\r\nPOST /other HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
    "POST /v1/logs HTTP/1.1\r\nContent-Type: text/plain\r\nContent-Length: 1\r\n\r\nx",
    "POST /v1/logs HTTP/1.1\r\nContent-Type: application/ndjson\r\nContent-Encoding: br\r\nContent-Length: 1\r\n\r\nx",
    "POST /v1/logs HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: 5\r\n\r\n{bad}",
    "POST /v1/logs HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 99999999\r\n\r\n",
    "POST /v1/logs HTTP/1.1\r\nContent-Type: application/json\r\n\r\n{}",
]
http_seeds = [b"\x00\x40" + h.encode() for h in http]
http_seeds.append(b"\x01\xff" + ("POST /v1/logs HTTP/1.1\r\nAuthorization: Bearer %s\r\nContent-Type: application/jsonl\r\nContent-Length: %d\r\n\r\n%s" % (key, len(ndjson), ndjson)).encode())
http_seeds.append(b"\x01\x10" + ("POST /v1/logs HTTP/1.1\r\nX-API-Key: wrong\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}").encode())
gz = gzip.compress(ndjson.encode(), mtime=0)
http_seeds.append(b"\x00\x20" + b"POST /v1/logs HTTP/1.1\r\nContent-Type: application/x-ndjson\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(gz) + gz)
http_seeds.append(b"\x00\x20" + b"POST /v1/logs HTTP/1.1\r\nContent-Type: application/x-ndjson\r\nContent-Encoding: gzip\r\nContent-Length: 10\r\n\r\n" + gz[:10])

# fast_contract: a contract pattern, then texts to compare with RE2, one per line.
patterns = [
    "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\n7f7ca3c9-03f2-4879-be5a-c50ca8250a63\n7f7ca3c9-03f2-4879-be5a-c50ca8250a6",
    "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})|[0-9]{10,19}\n2025-03-04T13:21:34.170Z\n1741094486355728813\n2025-03-04T13:21:34+01:00",
    "(Starting operation [0-9]{1,6}|Operation [0-9]{1,6} complete in [0-9]{1,9}(\\.[0-9]{1,3})?(ms|s)|Run complete with status: (success|fail))\nOperation 3 complete in 12.5ms\nOperation 3 took longer than 5000ms",
    "(a(b|c)?)?d|x*y\nabd\nd\nxxy\nacbd",
    "(?:a|)b[a-z_]{1,4}\\d+\nbab7\nab__9\nbabcde1",
    "^[A-Za-z0-9-]{2,}(\\.[a-z]{2})?$\nab.cd\na-b\n-.zz",
    "[1-9][0-9]{0,18}\n706647048\n0706647048\n-1",
    "(trace|debug|info|R/T)\ninfo\nR/T\ninfo ",
]
# bulk_response: first byte is the number of records sent, then the sink's `_bulk` answer.
def bulk(statuses, action="index"):
    items = ",".join('{"%s":{"_index":"logs","_id":"x%d","status":%d%s}}'
                     % (action, i, s, ',"error":{"type":"x","reason":"Preview: \'Emir Test\'"}'
                        if s >= 300 else "")
                     for i, s in enumerate(statuses))
    return '{"took":5,"errors":%s,"items":[%s]}' % ("true" if any(s >= 300 for s in statuses)
                                                    else "false", items)


bulk_seeds = [
    bytes([3]) + bulk([201, 201, 201]).encode(),
    bytes([5]) + bulk([201, 429, 400, 201, 503]).encode(),
    bytes([2]) + bulk([409, 200], "create").encode(),
    bytes([4]) + bulk([201, 429]).encode(),
    bytes([1]) + b'{"errors":true}',
    bytes([1]) + b'{"ok":true}',
    bytes([2]) + b'{"items":[{"delete":{"status":404}},{"update":{"status":500}}],"errors":true}',
]
write("bulk_response", bulk_seeds)
write("fast_contract", patterns)
write("http_request", http_seeds)
write("line_framer", framer)
write("line_filter", filter_seeds)
write("rule_loader", rules)
write("proxy_config", configs)
print("seeds written", file=sys.stderr)
