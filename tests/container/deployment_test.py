#!/usr/bin/env python3
"""Tests of the deployment files in container/ (the README's "Deployment" section):

- the systemd unit passes `systemd-analyze verify` (with ExecStart pointed at the built binary,
  in a generated copy: verify insists the binary exists; no running systemd is needed) and its
  offline security exposure stays low;
- the Kubernetes manifests parse, the sidecar has the probes, limits and securityContext the
  README promises, and the config and rules its ConfigMaps carry load with the real binary
  (`check --strict`, `doctor` with no error);
- the Dockerfile, which cannot be built here (no docker), is checked statically: two stages on
  Debian 12, a non-root numeric USER, a HEALTHCHECK on /healthz, every path it copies exists,
  and the runtime stage installs a package for every shared library the binary links.

Run one test:  deployment_test.py --binary build/dev/scrubproxy Deployment.test_systemd_unit
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

import yaml

BINARY = "scrubproxy"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONTAINER = os.path.join(ROOT, "container")


def read(*parts):
    with open(os.path.join(*parts), encoding="utf-8") as f:
        return f.read()


class Deployment(unittest.TestCase):
    def setUp(self):
        self._dir = tempfile.TemporaryDirectory(prefix="scrub-deploy-")
        self.dir = self._dir.name
        os.chmod(self.dir, 0o755)

    def tearDown(self):
        self._dir.cleanup()

    # --- systemd ------------------------------------------------------------------------------

    def unit_copy(self):
        unit = read(CONTAINER, "systemd", "scrubproxy.service")
        self.assertIn("ExecStart=/usr/local/bin/scrubproxy run ", unit)
        path = os.path.join(self.dir, "scrubproxy.service")
        with open(path, "w", encoding="utf-8") as f:
            f.write(unit.replace("/usr/local/bin/scrubproxy", BINARY))
        return unit, path

    @unittest.skipUnless(shutil.which("systemd-analyze"), "systemd-analyze not installed")
    def test_systemd_unit(self):
        unit, path = self.unit_copy()
        out = subprocess.run(["systemd-analyze", "verify", path], capture_output=True,
                             timeout=60, check=False)
        # verify only warns (exit 0) about unknown keys: any output at all is a failure.
        self.assertEqual((out.returncode, out.stdout, out.stderr), (0, b"", b""))
        # The exposure score, 0 (locked down) to 100 on the --threshold scale; 1.4 of 10 today.
        out = subprocess.run(["systemd-analyze", "security", "--offline=yes", "--threshold=20",
                              "--no-pager", path], capture_output=True, timeout=60, check=False)
        self.assertEqual(out.returncode, 0, out.stdout.decode("utf-8", "replace")[-2000:])

        settings = {}
        for line in unit.splitlines():
            if "=" in line and not line.startswith("#"):
                key, value = line.split("=", 1)
                settings.setdefault(key, []).append(value)
        for key, value in [("DynamicUser", "yes"), ("ProtectSystem", "strict"),
                           ("ProtectHome", "yes"), ("PrivateTmp", "yes"),
                           ("NoNewPrivileges", "yes"), ("MemoryDenyWriteExecute", "yes"),
                           ("LimitCORE", "0"), ("CapabilityBoundingSet", ""),
                           ("RestrictAddressFamilies", "AF_UNIX AF_INET AF_INET6"),
                           ("SystemCallFilter", "@system-service")]:
            self.assertIn(value, settings.get(key, []), key)
        # The config it starts with is the shipped one, and that one is clean.
        self.assertIn("--config /etc/scrubproxy/scrubproxy.yaml", unit)

    def test_systemd_verify_catches_a_typo(self):
        # The test above means something only if verify reports what is wrong.
        if not shutil.which("systemd-analyze"):
            self.skipTest("systemd-analyze not installed")
        _, path = self.unit_copy()
        with open(path, encoding="utf-8") as f:
            text = f.read()
        with open(path, "w", encoding="utf-8") as f:
            f.write(text.replace("LockPersonality=yes", "LockPersonalty=yes"))
        out = subprocess.run(["systemd-analyze", "verify", path], capture_output=True,
                             timeout=60, check=False)
        self.assertIn(b"Unknown key 'LockPersonalty'", out.stderr)

    # --- Kubernetes ---------------------------------------------------------------------------

    def k8s(self):
        docs = {}
        for name in sorted(os.listdir(os.path.join(CONTAINER, "k8s"))):
            for doc in yaml.safe_load_all(read(CONTAINER, "k8s", name)):
                docs[(doc["kind"], doc["metadata"]["name"])] = doc
        return docs

    def test_k8s_sidecar(self):
        docs = self.k8s()
        deployment = docs[("Deployment", "openfn-runner")]
        pod = deployment["spec"]["template"]["spec"]
        self.assertTrue(pod["securityContext"]["runAsNonRoot"])
        self.assertEqual(pod["securityContext"]["seccompProfile"], {"type": "RuntimeDefault"})
        containers = {c["name"]: c for c in pod["containers"]}
        self.assertIn("runner", containers)
        proxy = containers["scrubproxy"]
        security = proxy["securityContext"]
        self.assertTrue(security["runAsNonRoot"])
        self.assertTrue(security["readOnlyRootFilesystem"])
        self.assertFalse(security["allowPrivilegeEscalation"])
        self.assertEqual(security["capabilities"], {"drop": ["ALL"]})
        self.assertEqual(security["seccompProfile"], {"type": "RuntimeDefault"})
        # The image's USER is the pod's runAsUser.
        self.assertIn("USER %d:" % pod["securityContext"]["runAsUser"],
                      read(CONTAINER, "Dockerfile"))
        for kind in ("requests", "limits"):
            self.assertEqual(set(proxy["resources"][kind]), {"cpu", "memory"})
        probes = {name: " ".join(proxy[name]["exec"]["command"])
                  for name in ("livenessProbe", "readinessProbe")}
        self.assertIn("http://127.0.0.1:9464/healthz", probes["livenessProbe"])
        self.assertIn("http://127.0.0.1:9464/readyz", probes["readinessProbe"])

        # ConfigMaps mounted whole (subPath mounts never see updates, so no hot reload).
        volumes = {v["name"]: v["configMap"]["name"] for v in pod["volumes"]}
        mounts = {m["mountPath"]: volumes[m["name"]] for m in proxy["volumeMounts"]}
        self.assertFalse(any("subPath" in m for m in proxy["volumeMounts"]))
        self.assertTrue(all(m.get("readOnly") for m in proxy["volumeMounts"]))
        self.assertEqual(mounts, {"/etc/scrubproxy/config": "scrubproxy-config",
                                  "/etc/scrubproxy/rules": "scrubproxy-rules"})
        self.assertEqual(proxy["args"][:3], ["run", "--config",
                                             "/etc/scrubproxy/config/scrubproxy.yaml"])

    def test_k8s_config_and_rules_load(self):
        docs = self.k8s()
        # The ConfigMaps as the pod sees them, under a temporary folder instead of /etc.
        etc = os.path.join(self.dir, "etc", "scrubproxy")
        for folder, name in (("config", "scrubproxy-config"), ("rules", "scrubproxy-rules")):
            os.makedirs(os.path.join(etc, folder))
            for key, text in docs[("ConfigMap", name)]["data"].items():
                with open(os.path.join(etc, folder, key), "w", encoding="utf-8") as f:
                    f.write(text.replace("/etc/scrubproxy/", etc + "/"))
        rules = os.path.join(etc, "rules", "openfn-site.yaml")
        out = subprocess.run([BINARY, "check", "--strict", "--rules", rules],
                             capture_output=True, timeout=60, check=False)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertTrue(out.stdout.startswith(b"ok: openfn-site (allowlist, "), out.stdout)

        config = os.path.join(etc, "config", "scrubproxy.yaml")
        out = subprocess.run([BINARY, "doctor", "--json", "--config", config],
                             capture_output=True, timeout=60, check=False)
        self.assertEqual(out.returncode, 0, (out.stdout, out.stderr))
        report = json.loads(out.stdout)
        self.assertLessEqual({f["id"] for f in report["findings"]}, {"running-as-root"})

        # The commented Loki sink is what the README suggests: it must load and pass too.
        text = read(config)
        loki = re.search(r"( *#   - name: loki\n(?: *#     .*\n)+)", text)
        self.assertIsNotNone(loki)
        with open(config, "w", encoding="utf-8") as f:
            f.write(text.replace("sinks: [stdout]", "sinks: [stdout, loki]") + "\n".join(
                line.replace("#   ", "", 1) for line in loki.group(1).splitlines()) + "\n")
        out = subprocess.run([BINARY, "doctor", "--json", "--config", config],
                             capture_output=True, timeout=60, check=False,
                             env=dict(os.environ, LOKI_TOKEN="t" * 40))
        self.assertEqual(out.returncode, 0, (out.stdout, out.stderr))
        # (and it really is in the config: without its token the config does not load)
        env = {k: v for k, v in os.environ.items() if k != "LOKI_TOKEN"}
        out = subprocess.run([BINARY, "doctor", "--config", config], capture_output=True,
                             timeout=60, check=False, env=env)
        self.assertEqual(out.returncode, 3)
        self.assertIn(b"${env:LOKI_TOKEN}", out.stderr)

    # --- Dockerfile (static: no docker here) --------------------------------------------------

    def test_dockerfile_static(self):
        text = read(CONTAINER, "Dockerfile")
        # Instructions, continuation lines joined.
        lines = re.sub(r"\\\n\s*", " ", text).splitlines()
        instructions = [l.strip() for l in lines if l.strip() and not l.strip().startswith("#")]
        froms = [i for i in instructions if i.startswith("FROM ")]
        self.assertEqual(froms, ["FROM debian:12 AS build", "FROM debian:12-slim"])
        final = instructions[instructions.index(froms[1]):]

        users = [i.split()[1] for i in final if i.startswith("USER ")]
        self.assertEqual(len(users), 1)
        uid = users[0].split(":")[0]
        self.assertTrue(uid.isdigit() and int(uid) != 0, users)
        health = [i for i in final if i.startswith("HEALTHCHECK ")]
        self.assertEqual(len(health), 1)
        self.assertIn("http://127.0.0.1:9464/healthz", health[0])
        self.assertIn("scripts/setup.sh", text)
        self.assertIn("scripts/build.sh release", text)

        # Every path copied from the build context exists.
        for instruction in instructions:
            if instruction.startswith("COPY ") and "--from=" not in instruction:
                sources = instruction.split()[1:-1]
                for source in sources:
                    if source != ".":
                        self.assertTrue(os.path.exists(os.path.join(ROOT, source)), instruction)
        self.assertTrue(any("--from=build /src/build/release/scrubproxy" in i for i in final))
        dockerignore = read(ROOT, ".dockerignore").split()
        self.assertIn(".git", dockerignore)
        self.assertIn("build/", dockerignore)

        # The runtime stage installs a package for every library the binary links, and no -dev
        # package. (The base image has libc6, libgcc-s1 and libstdc++6.)
        installs = " ".join(i for i in final if "apt-get install" in i)
        packages = set(re.findall(r"\b(lib[a-z0-9.+-]+|zlib1g|ca-certificates|curl)\b", installs))
        self.assertFalse([p for p in packages if p.endswith("-dev")])
        # The binary's own NEEDED entries (what those libraries need, their packages pull in),
        # resolved to files by ldd and to packages by one dpkg -S.
        dynamic = subprocess.run(["readelf", "-d", BINARY], capture_output=True, text=True,
                                 check=True).stdout
        direct = set(re.findall(r"\(NEEDED\)\s+Shared library: \[(\S+)\]", dynamic))
        ldd = subprocess.run(["ldd", BINARY], capture_output=True, text=True, check=True).stdout
        paths = [os.path.realpath(path) for name, path in re.findall(r"(\S+) => (/\S+)", ldd)
                 if name in direct]
        self.assertEqual(len(paths), len(direct), (direct, ldd))
        owners = subprocess.run(["dpkg", "-S", *paths], capture_output=True, text=True,
                                check=False).stdout
        needed = {line.split(":")[0] for line in owners.splitlines() if ":" in line}
        self.assertTrue(needed, ldd)
        missing = needed - packages - {"libc6", "libgcc-s1", "libstdc++6"}
        if os.environ.get("SCRUB_SANITIZED"):
            # A sanitizer build (tests/sanitizers/run.sh) links the sanitizer runtimes, which
            # the release image never ships.
            missing = {p for p in missing if not re.match(r"lib(asan|ubsan|tsan)\d+$", p)}
        self.assertEqual(missing, set())


def main():
    global BINARY
    args = sys.argv[1:]
    if len(args) >= 2 and args[0] == "--binary":
        BINARY = os.path.abspath(args[1])
        args = args[2:]
    unittest.main(argv=[sys.argv[0], "-v"] + args)


if __name__ == "__main__":
    main()
