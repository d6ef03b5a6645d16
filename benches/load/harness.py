#!/usr/bin/env python3
"""vaxel load harness: vaxel vs haproxy vs nginx on the same mutual-TLS SOAP traffic.

Started by run.sh (which installs the tools and builds vaxel first); see README.md for
what is measured and how to read the result. Standard library only.

Layout of one run:
  1. demo PKI (`vaxel certs`), configs from templates/, the benchmark request built
     from the RIV-TA reference request (../shared/reference, never copied into git);
  2. one demo producer (mutual TLS) and three proxies in front of it, all on 127.0.0.1;
  3. a probe request through every target (200, right response, body forwarded intact);
  4. max-throughput passes, interleaved: round r runs every target once, in a rotated
     order; then fixed-rate passes at half of haproxy's median max, interleaved the same
     way; the producer alone once in each phase for reference;
  5. medians, ratios to haproxy, results/<timestamp>.json + .md, a Markdown table.
Every process started here is stopped on exit, Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import json
import os
import platform
import re
import resource
import signal
import socket
import sqlite3
import ssl
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
REFERENCE_REQUEST = (
    REPO.parent / "shared" / "reference" / "riv-ta" / "npo-requests" / "GetCareDocumentation2.xml"
)

# The benchmark request: GetCareDocumentation:2 (RIV-TA 2.1, LogicalAddress header).
LOGICAL_ADDRESS = "SE2321000016-BENCH"
PATIENT_ID = "191212121212"
CONSUMER = "SE0000000000-DEMOCONSUMER"
CONTRACT = "urn:riv:clinicalprocess:healthcond:description:GetCareDocumentationResponder:2"
RESPONSE_ELEMENT = b"GetCareDocumentationResponse"
REQUEST_PATH = "/vp/clinicalprocess/healthcond/description/GetCareDocumentation/2/rivtabp21"
BODY_BYTES = 2048
TEMPLATE_VARS = {"logicalAddress": LOGICAL_ADDRESS, "patientId1": PATIENT_ID}

PROXIES = ("vaxel", "haproxy", "nginx", "vaxel-base", "vaxel-quiet")
# Measured unless --targets says otherwise; "vaxel-base" (another vaxel build, given with
# --vaxel-base) joins them when given, for a before/after comparison in one run.
# "vaxel-quiet" is the same vaxel binary with per-request metrics and request log lines
# off ([metrics] enabled = false, [log] requests = false): the cost of observability,
# measured side by side (target "vaxel" has both on, request lines as JSON).
DEFAULT_TARGETS = ("vaxel", "haproxy", "nginx")
BASELINE = "haproxy"
PRODUCER = "producer"  # the producer called directly, for reference

CLK_TCK = os.sysconf("SC_CLK_TCK")
# Processes that mean "a build is running": benchmarking next to one on 2 cores is useless.
# A pass during which processes outside the benchmark used more CPU than this (in
# cores) is repeated: on 2 cores, 0.15 core of someone else's work shifts results ~5%.
FOREIGN_LIMIT = 0.15
BUILD_COMMS = {"rustc", "cc", "cc1", "cc1plus", "c++", "ld", "ld.lld", "rust-lld", "collect2", "lld"}

T0 = time.monotonic()


class Abort(Exception):
    """A problem that makes the benchmark invalid: stop loudly, clean up."""


def log(msg: str) -> None:
    t = time.monotonic() - T0
    print(f"[{int(t) // 60:2d}:{int(t) % 60:02d}] {msg}", flush=True)


# --------------------------------------------------------------------------- /proc


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            stat = Path(f"/proc/{d}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(d))
    return children


def process_tree(root: int) -> list[int]:
    """`root` and all its descendants (nginx master + workers, haproxy, vaxel)."""
    children = _children_map()
    out = [root]
    i = 0
    while i < len(out):
        out.extend(children.get(out[i], []))
        i += 1
    return out


def tree_cpu_seconds(root: int) -> float:
    """utime+stime (+ cutime+cstime of reaped children) over the process tree."""
    ticks = 0
    for pid in process_tree(root):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        f = stat[stat.rindex(")") + 2 :].split()
        # fields 14..17 of proc(5) (utime, stime, cutime, cstime) = indexes 11..14 here
        ticks += int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])
    return ticks / CLK_TCK


def tree_peak_rss_kib(root: int) -> int:
    """Sum of VmHWM over the process tree (shared pages of forked workers count twice)."""
    total = 0
    for pid in process_tree(root):
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


def machine_busy_seconds() -> float:
    """CPU time spent by the whole machine (all cores), from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = v
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


def running_builds() -> list[str]:
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            comm = Path(f"/proc/{d}/comm").read_text().strip()
        except OSError:
            continue
        if comm in BUILD_COMMS or comm.startswith("build-script"):
            found.append(f"{comm}({d})")
    return found


def socket_inodes(pids: list[int]) -> set[int]:
    out = set()
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if link.startswith("socket:["):
                out.add(int(link[8:-1]))
    return out


def connections_to(port: int, owner_pids: list[int]) -> set[int]:
    """Local ports of ESTABLISHED TCP connections to remote `port` owned by `owner_pids`."""
    inodes = socket_inodes(owner_pids)
    out = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            if f[3] == "01" and int(f[2].rsplit(":", 1)[1], 16) == port and int(f[9]) in inodes:
                out.add(int(f[1].rsplit(":", 1)[1], 16))
    return out


def children_cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


# --------------------------------------------------------------------------- processes


class Registry:
    """Process groups started here, mirrored to a file so run.sh's trap can kill
    them even if this interpreter dies without cleaning up."""

    def __init__(self, path: Path):
        self.path = path
        self.daemons: list[Daemon] = []
        path.write_text("")

    def _sync(self) -> None:
        self.path.write_text("".join(f"{d.proc.pid}\n" for d in self.daemons if d.proc.poll() is None))

    def add(self, d: "Daemon") -> None:
        self.daemons.append(d)
        self._sync()

    def stop_all(self) -> None:
        for d in reversed(self.daemons):
            d.stop()
        self.daemons.clear()
        self._sync()


class Daemon:
    def __init__(self, name: str, cmd: list[str], port: int, work: Path, registry: Registry):
        self.name = name
        self.port = port
        self.cmd = cmd
        self.log_path = work / "logs" / f"{name}.log"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        logf = open(self.log_path, "wb")
        env = dict(os.environ)
        # vaxel writes its request lines (info) to its log file, as in production;
        # "vaxel-quiet" turns them off in its config. Other builds log warnings only.
        env.setdefault("RUST_LOG", "info" if name in ("vaxel", "vaxel-quiet") else "warn")
        # Own session: Ctrl-C in the terminal reaches this harness, which then stops
        # the daemons in order (and measures nothing half-dead).
        self.proc = subprocess.Popen(
            cmd, stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, cwd=work, env=env,
        )
        logf.close()
        registry.add(self)

    def log_tail(self, n: int = 15) -> str:
        try:
            all_lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "    (no log)"
        # A panic's message comes before a long backtrace: show it first.
        panics = [f"{l} {all_lines[i + 1].strip() if i + 1 < len(all_lines) else ''}"
                  for i, l in enumerate(all_lines) if "panicked at" in l][:3]
        lines = panics + (["    ..."] if panics else []) + all_lines[-n:]
        return "\n".join("    " + l for l in lines) or "    (log is empty)"

    def check_alive(self) -> None:
        rc = self.proc.poll()
        if rc is not None:
            raise Abort(
                f"{self.name} exited with status {rc}.\n  command: {' '.join(self.cmd)}\n"
                f"  log {self.log_path}:\n{self.log_tail()}"
            )

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive()
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise Abort(f"{self.name} does not listen on 127.0.0.1:{self.port} after {timeout:.0f} s.\n"
                            f"  log {self.log_path}:\n{self.log_tail()}")
            time.sleep(0.1)

    def cpu_seconds(self) -> float:
        return tree_cpu_seconds(self.proc.pid)

    def peak_rss_kib(self) -> int:
        return tree_peak_rss_kib(self.proc.pid)

    def stop(self) -> None:
        if self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=5)
        # nginx workers may outlive the master by a moment; the group is ours.
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_text(cmd: list[str]) -> str:
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        return (p.stdout + p.stderr).strip()
    except (OSError, subprocess.SubprocessError) as e:
        return f"unavailable ({e})"


# --------------------------------------------------------------------------- inputs


def build_request() -> bytes:
    if not REFERENCE_REQUEST.is_file():
        raise Abort(
            f"the reference request {REFERENCE_REQUEST} is missing.\n"
            "  The harness reads the real RIV-TA request from ../shared/reference (relative to\n"
            "  the repository root) at run time and never copies it into the repository.\n"
            "  Put the shared reference folder next to the repository and run again."
        )
    text = REFERENCE_REQUEST.read_text(encoding="utf-8")

    def subst(m: re.Match) -> str:
        name = m.group(1)
        if name not in TEMPLATE_VARS:
            raise Abort(f"{REFERENCE_REQUEST}: unknown template variable ${{{name}}}")
        return TEMPLATE_VARS[name]

    text = re.sub(r"\$\{([A-Za-z0-9_]+)\}", subst, text)
    # Pad to BODY_BYTES with a comment inside the Body child (after patientId): the
    # routing-relevant head stays the same, the message gets the size of a real one.
    anchor = "</patientId>"
    if anchor not in text:
        raise Abort(f"{REFERENCE_REQUEST}: no {anchor} to pad after; has the file changed?")
    head, tail = text.split(anchor, 1)
    base = len((head + anchor + tail).encode("utf-8")) + len("\n            <!--  -->")
    filler_len = max(0, BODY_BYTES - base)
    filler = ("vaxel load harness padding " * (filler_len // 27 + 1))[:filler_len]
    body = f"{head}{anchor}\n            <!-- {filler} -->{tail}".encode("utf-8")
    if b"${" in body:
        raise Abort("template variables left in the benchmark request")
    return body


def fill(template: str, values: dict[str, str]) -> str:
    text = (HERE / "templates" / template).read_text()
    for k, v in values.items():
        text = text.replace(f"@{k}@", v)
    left = re.findall(r"@[A-Z_]+@", text)
    if left:
        raise Abort(f"templates/{template}: placeholders without a value: {sorted(set(left))}")
    return text


def fnv1a64(data: bytes) -> int:
    h = 0xCBF29CE484222325
    for b in data:
        h ^= b
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def probe(name: str, port: int, body: bytes, certs: Path) -> dict:
    """One request through a target, checked like a test would: status, response
    contract, and the producer's view of the body (length + FNV-1a) equal to what we sent."""
    ctx = ssl.create_default_context(cafile=str(certs / "ca.pem"))
    ctx.load_cert_chain(str(certs / "consumer.pem"), str(certs / "consumer.key"))
    conn = http.client.HTTPSConnection("localhost", port, context=ctx, timeout=15)
    try:
        conn.request("POST", REQUEST_PATH, body=body,
                     headers={"content-type": "text/xml; charset=UTF-8"})
        r = conn.getresponse()
        data = r.read()
        headers = {k.lower(): v for k, v in r.getheaders()}
    except (OSError, http.client.HTTPException) as e:
        raise Abort(f"{name}: probe request failed: {e!r}")
    finally:
        conn.close()
    problems = []
    if r.status != 200:
        problems.append(f"HTTP {r.status}")
    if RESPONSE_ELEMENT not in data:
        problems.append(f"no {RESPONSE_ELEMENT.decode()} in the response")
    if headers.get("x-demo-body-bytes") != str(len(body)):
        problems.append(f"producer saw {headers.get('x-demo-body-bytes')} body bytes, sent {len(body)}")
    if headers.get("x-demo-body-fnv") != f"{fnv1a64(body):016x}":
        problems.append("the body reached the producer changed (FNV-1a differs)")
    if problems:
        snippet = data[:800].decode("utf-8", "replace")
        raise Abort(
            f"{name} (127.0.0.1:{port}) does not answer the benchmark request correctly: "
            f"{'; '.join(problems)}\n  response ({len(data)} bytes): {snippet}"
        )
    return {"status": r.status, "response_bytes": len(data),
            "caller_seen_by_producer": headers.get("x-demo-sender-id") or headers.get("x-demo-client-cert")}


# --------------------------------------------------------------------------- oha


class Oha:
    def __init__(self, path: str, certs: Path, body_path: Path, connections: int):
        self.path = path
        self.certs = certs
        self.body_path = body_path
        self.connections = connections
        help_text = run_text([path, "--help"])
        self.version = run_text([path, "--version"])
        self.json_args = (["--output-format", "json"] if "--output-format" in help_text else ["-j"])
        self.has_db = "--db-url" in help_text
        self.has_wait = "--wait-ongoing-requests-after-deadline" in help_text
        for flag in ("--cert", "--key", "--cacert", "--no-tui"):
            if flag not in help_text:
                raise Abort(f"{path} ({self.version}) has no {flag} option; install a newer oha "
                            "(cargo install oha --locked)")

    def run(self, port: int, seconds: float, work: Path, tag: str, rate: float | None = None,
            sample=None) -> dict:
        out_json = work / "oha" / f"{tag}.json"
        out_json.parent.mkdir(exist_ok=True)
        db = work / "oha" / f"{tag}.sqlite"
        for p in (out_json, db):
            p.unlink(missing_ok=True)
        cmd = [
            self.path, "--no-tui", "-z", f"{seconds}s", "-c", str(self.connections),
            "-m", "POST", "-H", "content-type: text/xml; charset=UTF-8", "-D", str(self.body_path),
            "--cert", str(self.certs / "consumer.pem"), "--key", str(self.certs / "consumer.key"),
            "--cacert", str(self.certs / "ca.pem"), "--ipv4", "-t", "30s",
        ]
        if self.has_wait:
            cmd.append("-w")  # let in-flight requests finish at the deadline: no aborted requests
        if rate is not None:
            cmd += ["-q", f"{rate:.0f}"]
            if self.has_db:
                cmd += ["--db-url", str(db)]
        cmd += self.json_args
        cmd.append(f"https://localhost:{port}{REQUEST_PATH}")
        err_path = out_json.with_suffix(".stderr")
        t = time.monotonic()
        # stdout (the JSON report) to a file: no pipe to drain while we sample.
        with open(out_json, "wb") as out, open(err_path, "wb") as err:
            proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
            try:
                while proc.poll() is None:
                    if sample:
                        sample()
                    if time.monotonic() - t > seconds + 120:
                        proc.kill()
                        proc.wait()
                        raise Abort(f"oha did not finish within {seconds + 120:.0f} s: {' '.join(cmd)}")
                    time.sleep(0.5)
            except BaseException:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
                raise
        wall = time.monotonic() - t
        stderr = err_path.read_text(errors="replace")
        if proc.returncode != 0:
            raise Abort(f"oha failed (status {proc.returncode}): {' '.join(cmd)}\n{stderr[-2000:]}")
        try:
            # oha may print notes on stderr; the JSON document is stdout.
            report = json.loads(out_json.read_bytes())
        except json.JSONDecodeError:
            raise Abort(f"cannot read oha's JSON output {out_json}:\n{stderr[-1000:]}")
        status = {int(k): v for k, v in report.get("statusCodeDistribution", {}).items()}
        ok = sum(v for k, v in status.items() if 200 <= k < 300)
        total = report["summary"]["total"]
        res = {
            "cmd": cmd,
            "wall_s": wall,
            "duration_s": total,
            "ok": ok,
            "non_2xx": sum(v for k, v in status.items() if not 200 <= k < 300),
            "status": {str(k): v for k, v in sorted(status.items())},
            "errors": report.get("errorDistribution", {}),
            "rps": ok / total if total else 0.0,
            "latency_ms_all": {k: v * 1000 for k, v in report.get("latencyPercentiles", {}).items()},
        }
        if rate is not None and self.has_db and db.exists():
            res.update(self._percentiles_from_db(db, skip_s=1.0))
            db.unlink()
        return res

    @staticmethod
    def _percentiles_from_db(db: Path, skip_s: float) -> dict:
        con = sqlite3.connect(str(db))
        try:
            rows = [r[0] for r in con.execute(
                "SELECT duration FROM oha WHERE status BETWEEN 200 AND 299 AND start >= ? ORDER BY duration",
                (skip_s,))]
        finally:
            con.close()
        if not rows:
            return {}

        def pct(p: float) -> float:
            return rows[min(len(rows) - 1, max(0, int(round(p / 100 * len(rows) + 0.5)) - 1))] * 1000

        return {"latency_ms": {"p50": pct(50), "p90": pct(90), "p99": pct(99), "p99.9": pct(99.9),
                               "max": rows[-1] * 1000},
                "latency_samples": len(rows), "latency_skip_s": skip_s}


# --------------------------------------------------------------------------- the run


class Bench:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.work = Path(args.work).resolve()
        self.certs = self.work / "certs"
        self.quiet_budget = float(args.quiet_wait)
        self.passes: list[dict] = []
        self.warnings: list[str] = []
        self.retries_left = int(args.retries)
        self.discarded = 0
        self.daemons: dict[str, Daemon] = {}
        self.ports: dict[str, int] = {}

    # ---- setup

    def setup(self, registry: Registry) -> None:
        a = self.args
        log(f"work folder {self.work}")
        p = subprocess.run([a.vaxel, "certs", "--out", str(self.certs)], capture_output=True, text=True)
        if p.returncode != 0:
            raise Abort(f"`vaxel certs` failed:\n{p.stdout}{p.stderr}")
        for f in ("ca.pem", "gateway.pem", "gateway.key", "gateway-client.pem", "gateway-client.key",
                  "producer.pem", "producer.key", "consumer.pem", "consumer.key"):
            if not (self.certs / f).is_file():
                raise Abort(f"`vaxel certs` did not write {self.certs / f}")
        # haproxy wants certificate and key in one file.
        for name in ("gateway", "gateway-client"):
            (self.work / f"{name}.combined.pem").write_bytes(
                (self.certs / f"{name}.pem").read_bytes() + (self.certs / f"{name}.key").read_bytes())
            os.chmod(self.work / f"{name}.combined.pem", 0o600)

        self.body = build_request()
        self.body_path = self.work / "request.xml"
        self.body_path.write_bytes(self.body)
        log(f"benchmark request: GetCareDocumentation:2, {len(self.body)} bytes, "
            f"logical address {LOGICAL_ADDRESS}, from {REFERENCE_REQUEST}")

        for name in (PRODUCER,) + PROXIES:
            self.ports[name] = free_port()
        admin_port = free_port()
        values = {"WORK": str(self.work), "CERTS": str(self.certs),
                  "PRODUCER_PORT": str(self.ports[PRODUCER]), "CONTRACT": CONTRACT,
                  "LOGICAL_ADDRESS": LOGICAL_ADDRESS, "CONSUMER": CONSUMER,
                  "ADMIN_PORT": str(admin_port)}
        (self.work / "nginx-tmp").mkdir(exist_ok=True)
        (self.work / "routing-table.toml").write_text(fill("routing-table.toml", values))
        (self.work / "vaxel.toml").write_text(
            fill("vaxel.toml", {**values, "PORT": str(self.ports["vaxel"])})
            + "\n[log]\nformat = \"json\"\nrequests = true\n\n[metrics]\nenabled = true\n")
        (self.work / "quiet").mkdir(exist_ok=True)
        (self.work / "quiet" / "vaxel.toml").write_text(
            fill("vaxel.toml", {**values, "PORT": str(self.ports["vaxel-quiet"]), "ADMIN_PORT": str(free_port())})
            + "\n[log]\nrequests = false\n\n[metrics]\nenabled = false\n")
        # The other build gets its own folder (its own store file: an older build may
        # refuse a newer schema) and its own admin port.
        (self.work / "base").mkdir(exist_ok=True)
        (self.work / "base" / "vaxel.toml").write_text(fill("vaxel.toml", {
            **values, "PORT": str(self.ports["vaxel-base"]), "ADMIN_PORT": str(free_port())}))
        (self.work / "haproxy.cfg").write_text(fill("haproxy.cfg", {**values, "PORT": str(self.ports["haproxy"])}))
        (self.work / "nginx.conf").write_text(fill("nginx.conf", {**values, "PORT": str(self.ports["nginx"])}))

        self.oha = Oha(a.oha, self.certs, self.body_path, a.connections)
        if not self.oha.has_db:
            self.warnings.append("oha has no --db-url: fixed-rate percentiles include the first second")

        commands = {
            PRODUCER: [a.vaxel, "demo-producer", "--listen", f"127.0.0.1:{self.ports[PRODUCER]}",
                       "--cert", str(self.certs / "producer.pem"), "--key", str(self.certs / "producer.key"),
                       "--client-ca", str(self.certs / "ca.pem"), "--threads", "1"],
            "vaxel": [a.vaxel, "serve", "--config", str(self.work / "vaxel.toml")],
            "vaxel-base": [a.vaxel_base or a.vaxel, "serve", "--config", str(self.work / "base" / "vaxel.toml")],
            "vaxel-quiet": [a.vaxel, "serve", "--config", str(self.work / "quiet" / "vaxel.toml")],
            "haproxy": [a.haproxy, "-db", "-f", str(self.work / "haproxy.cfg")],
            "nginx": [a.nginx, "-p", str(self.work), "-c", str(self.work / "nginx.conf")],
        }
        if "haproxy" in self.targets:
            p = subprocess.run([a.haproxy, "-c", "-f", str(self.work / "haproxy.cfg")], capture_output=True, text=True)
            if p.returncode != 0:
                raise Abort(f"haproxy rejects {self.work / 'haproxy.cfg'}:\n{p.stdout}{p.stderr}")
        if "nginx" in self.targets:
            p = subprocess.run([a.nginx, "-t", "-p", str(self.work), "-c", str(self.work / "nginx.conf")],
                               capture_output=True, text=True)
            if p.returncode != 0:
                raise Abort(f"nginx rejects {self.work / 'nginx.conf'}:\n{p.stdout}{p.stderr}")
        for name in (PRODUCER,) + tuple(t for t in PROXIES if t in self.targets):
            d = Daemon(name, commands[name], self.ports[name], self.work, registry)
            d.wait_ready()
            self.daemons[name] = d
            log(f"started {name:8s} pid {d.proc.pid:<7d} 127.0.0.1:{self.ports[name]}")

        for name in (PRODUCER,) + tuple(self.targets):
            try:
                info = probe(name, self.ports[name], self.body, self.certs)
            except Abort as e:
                d = self.daemons[name]
                raise Abort(f"{e}\n  {name} is {'running' if d.proc.poll() is None else 'gone'}; "
                            f"log {d.log_path}:\n{d.log_tail()}")
            log(f"probe {name:8s} OK: HTTP {info['status']}, {info['response_bytes']} response bytes, "
                f"body reached the producer unchanged")

    @property
    def targets(self) -> list[str]:
        return self.args.targets

    # ---- measuring

    def wait_quiet(self) -> bool:
        """No benchmark next to a compiler (or any other busy job) on a 2-core machine:
        wait until no build runs and the machine is idle (our daemons idle too), at most
        --quiet-wait seconds over the whole run. Returns False when measuring anyway."""
        announced = False
        while True:
            builds = running_builds()
            m0 = machine_busy_seconds()
            time.sleep(0.5)
            busy = (machine_busy_seconds() - m0) / 0.5
            if not builds and busy < 0.25:
                return True
            why = f"build running: {', '.join(builds[:4])}" if builds else f"machine busy: {busy:.2f} cores"
            if self.quiet_budget <= 0:
                log(f"WARNING: measuring although the machine is not quiet ({why})")
                return False
            if not announced:
                log(f"waiting for a quiet machine before measuring ({why}); "
                    f"budget left {self.quiet_budget:.0f} s")
                announced = True
            time.sleep(2)
            self.quiet_budget -= 2.5

    def measure(self, target: str, kind: str, rnd: int, seconds: float, rate: float | None, step: str) -> dict:
        """One pass; repeated (up to --retries times per run) when other jobs on the
        machine used more than FOREIGN_LIMIT cores during it. Repeated passes stay in
        the JSON with "discarded": true and do not enter the medians."""
        while True:
            res = self._measure_once(target, kind, rnd, seconds, rate, step)
            disturbed = res["foreign_cores"] > FOREIGN_LIMIT or not res["quiet_before"]
            if not disturbed:
                return res
            if self.retries_left <= 0:
                self.warnings.append(
                    f"{res['tag']}: other processes used {res['foreign_cores']:.2f} cores during the pass"
                    + ("" if res["quiet_before"] else " (the machine was not quiet before it)")
                    + "; kept (no retries left)")
                return res
            self.retries_left -= 1
            res["discarded"] = True
            self.discarded += 1
            log(f"        disturbed by other load: discarded, repeating ({self.retries_left} retries left)")

    def _measure_once(self, target: str, kind: str, rnd: int, seconds: float, rate: float | None,
                      step: str) -> dict:
        quiet = self.wait_quiet()
        for d in self.daemons.values():
            d.check_alive()
        what = "max throughput" if rate is None else f"fixed rate {rate:.0f}/s"
        log(f"{step} round {rnd}: {target:8s} {what}, {self.args.connections} connections, {seconds:g} s ...")
        proxy = self.daemons.get(target) if target != PRODUCER else None
        prod = self.daemons[PRODUCER]
        c0 = proxy.cpu_seconds() if proxy else 0.0
        p0 = prod.cpu_seconds()
        m0 = machine_busy_seconds()
        o0 = children_cpu_seconds()
        tag = f"{target}-{kind}-r{rnd}"
        # Connections towards the producer seen during the pass: with working keep-alive
        # and pooling this stays near the connection count; thousands mean a proxy
        # opens a new (TLS) connection per request and does different work.
        backend: set[int] = set()
        tree = process_tree(proxy.proc.pid) if proxy else []
        res = self.oha.run(self.ports[target], seconds, self.work, tag, rate,
                           sample=lambda: backend.update(connections_to(self.ports[PRODUCER], tree)))
        c1 = proxy.cpu_seconds() if proxy else 0.0
        p1 = prod.cpu_seconds()
        m1 = machine_busy_seconds()
        o1 = children_cpu_seconds()
        ok = res["ok"]
        res.update({
            "target": target, "kind": kind, "round": rnd, "tag": tag, "rate": rate,
            "quiet_before": quiet, "discarded": False,
            "proxy_cpu_s": c1 - c0,
            "proxy_cpu_us_per_req": (c1 - c0) / ok * 1e6 if ok and proxy else None,
            "producer_cpu_us_per_req": (p1 - p0) / ok * 1e6 if ok else None,
            "oha_cpu_us_per_req": (o1 - o0) / ok * 1e6 if ok else None,
            "producer_connections_seen": len(backend) if proxy else None,
            # CPU used by processes outside this benchmark (other jobs), in cores.
            "foreign_cores": max(0.0, ((m1 - m0) - (c1 - c0) - (p1 - p0) - (o1 - o0)) / res["wall_s"]),
        })
        self.passes.append(res)
        self._check(res)
        line = f"        -> {res['rps']:9.0f} req/s, {ok} ok"
        if proxy:
            line += f", proxy CPU {res['proxy_cpu_us_per_req']:.1f} µs/req, {len(backend)} producer conns"
        if "latency_ms" in res:
            line += f", p50 {res['latency_ms']['p50']:.2f} ms, p99 {res['latency_ms']['p99']:.2f} ms"
        if res["foreign_cores"] > FOREIGN_LIMIT or not quiet:
            line += f"  [DISTURBED: other load on the machine {res['foreign_cores']:.2f} cores]"
        log(line)
        return res

    def _check(self, res: dict) -> None:
        tag = f"{res['target']} {res['kind']} round {res['round']}"
        if res["non_2xx"] or res["errors"] or not res["ok"]:
            d = self.daemons.get(res["target"])
            raise Abort(
                f"INVALID BENCHMARK: {tag} got {res['ok']} 2xx, {res['non_2xx']} non-2xx "
                f"(status {res['status']}), errors {res['errors']}.\n"
                "  A proxy that answers with faults is not doing the work being measured.\n"
                f"  Reproduce: curl -v --cert {self.certs}/consumer.pem --key {self.certs}/consumer.key "
                f"--cacert {self.certs}/ca.pem -H 'content-type: text/xml; charset=UTF-8' "
                f"--data-binary @{self.body_path} https://localhost:{self.ports[res['target']]}{REQUEST_PATH}\n"
                + (f"  log {d.log_path}:\n{d.log_tail()}" if d else ""))
        if res["rate"] is not None and res["rps"] < 0.95 * res["rate"]:
            msg = (f"{tag}: reached only {res['rps']:.0f} of {res['rate']:.0f} req/s: "
                   "saturated at this rate, its latency is queueing time")
            log("        WARNING: " + msg)
            self.warnings.append(msg)

    def run(self) -> None:
        a = self.args
        order = list(self.targets)
        n_passes = 2 * (a.rounds * len(order) + 1)
        step = 0

        def nxt() -> str:
            nonlocal step
            step += 1
            return f"[{step:2d}/{n_passes}]"

        if a.warmup > 0:
            for t in order:
                self.wait_quiet()
                log(f"warm-up {t} ({a.warmup:g} s, not counted)")
                self._check({**self.oha.run(self.ports[t], a.warmup, self.work, f"{t}-warmup"),
                             "target": t, "kind": "warm-up", "round": 0, "rate": None})

        est = n_passes * (a.duration + 3)
        log(f"measuring: {a.rounds} rounds x {len(order)} targets x 2 passes + producer alone, "
            f"about {est // 60:.0f} min {est % 60:.0f} s")

        # Phase 1: max throughput, interleaved; the order rotates each round so that
        # drift (thermal, other tenants) does not always hit the same target.
        self.measure(PRODUCER, "max", 1, a.duration, None, nxt())
        for r in range(1, a.rounds + 1):
            for t in order[(r - 1) % len(order):] + order[: (r - 1) % len(order)]:
                self.measure(t, "max", r, a.duration, None, nxt())

        if a.rate:
            self.rate = float(a.rate)
            log(f"fixed rate {self.rate:.0f} req/s (--rate)")
        else:
            base = BASELINE if BASELINE in order else order[0]
            self.rate = round(0.5 * self.median(base, "max", "rps"), -2)
            log(f"fixed rate {self.rate:.0f} req/s = half of {base}'s median max throughput")

        # Phase 2: the same rate for everyone, for latency.
        self.measure(PRODUCER, "fixed", 1, a.duration, self.rate, nxt())
        for r in range(1, a.rounds + 1):
            for t in order[(r - 1) % len(order):] + order[: (r - 1) % len(order)]:
                self.measure(t, "fixed", r, a.duration, self.rate, nxt())

        self.peak_rss = {name: d.peak_rss_kib() for name, d in self.daemons.items()}

    # ---- results

    def values(self, target: str, kind: str, key: str, sub: str | None = None) -> list[float]:
        out = []
        for p in self.passes:
            if p["target"] == target and p["kind"] == kind and not p.get("discarded"):
                v = p.get(key) if key != "cpu_vs_producer" else cpu_vs_producer(p)
                if sub is not None:
                    v = (v or {}).get(sub)
                if v is not None:
                    out.append(v)
        return out

    def median(self, target: str, kind: str, key: str, sub: str | None = None) -> float | None:
        v = self.values(target, kind, key, sub)
        return statistics.median(v) if v else None

    def summary(self) -> dict:
        s = {}
        lat_key = "latency_ms" if self.oha.has_db else "latency_ms_all"
        for t in [PRODUCER] + list(self.targets):
            s[t] = {
                "rps_median": self.median(t, "max", "rps"),
                "rps_min": min(self.values(t, "max", "rps"), default=None),
                "rps_max": max(self.values(t, "max", "rps"), default=None),
                "cpu_us_per_req_median": self.median(t, "max", "proxy_cpu_us_per_req"),
                "cpu_us_per_req_at_rate_median": self.median(t, "fixed", "proxy_cpu_us_per_req"),
                "cpu_vs_producer_median": self.median(t, "max", "cpu_vs_producer"),
                "cpu_vs_producer_at_rate_median": self.median(t, "fixed", "cpu_vs_producer"),
                "p50_ms_at_rate_median": self.median(t, "fixed", lat_key, "p50"),
                "p99_ms_at_rate_median": self.median(t, "fixed", lat_key, "p99"),
                "p99_ms_at_rate_max": max(self.values(t, "fixed", lat_key, "p99"), default=None),
                "achieved_rate_median": self.median(t, "fixed", "rps"),
                "producer_cpu_us_per_req_median": self.median(t, "max", "producer_cpu_us_per_req"),
                "oha_cpu_us_per_req_median": self.median(t, "max", "oha_cpu_us_per_req"),
                "producer_connections_seen_max": max(self.values(t, "max", "producer_connections_seen")
                                                     + self.values(t, "fixed", "producer_connections_seen"),
                                                     default=None),
                "peak_rss_mib": self.peak_rss.get(t, 0) / 1024 if t != PRODUCER else None,
            }
        base = s.get(BASELINE)
        for t, v in s.items():
            if base and t != PRODUCER:
                v["rps_ratio_to_haproxy"] = ratio(v["rps_median"], base["rps_median"])
                v["cpu_ratio_to_haproxy"] = ratio(v["cpu_us_per_req_median"], base["cpu_us_per_req_median"])
                v["p99_ratio_to_haproxy"] = ratio(v["p99_ms_at_rate_median"], base["p99_ms_at_rate_median"])
                v["cpu_vs_producer_ratio_to_haproxy"] = ratio(v["cpu_vs_producer_median"],
                                                              base["cpu_vs_producer_median"])
                v["cpu_at_rate_ratio_to_haproxy"] = ratio(v["cpu_us_per_req_at_rate_median"],
                                                          base["cpu_us_per_req_at_rate_median"])
        return s

    def markdown(self, s: dict) -> str:
        a = self.args
        lines = [
            f"Max pass: {a.connections} connections, {a.duration:g} s, {a.rounds} rounds (medians; "
            f"range = min–max over rounds). Fixed-rate pass: {self.rate:.0f} req/s"
            + (", percentiles leave out the first second." if self.oha.has_db else ", percentiles include the first second."),
            "",
            "| target | req/s (median) | range | × haproxy | CPU µs/req | × haproxy | CPU ÷ producer CPU | × haproxy "
            "| p50 ms @ rate | p99 ms @ rate | CPU µs/req @ rate | × haproxy | peak RSS MiB |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for t in list(self.targets) + [PRODUCER]:
            v = s[t]
            name = "producer alone (no proxy)" if t == PRODUCER else t
            lines.append(
                f"| {name} | {fmt(v['rps_median'], 0)} | {fmt(v['rps_min'], 0)}–{fmt(v['rps_max'], 0)} "
                f"| {fmt(v.get('rps_ratio_to_haproxy'), 2)} | {fmt(v['cpu_us_per_req_median'], 1)} "
                f"| {fmt(v.get('cpu_ratio_to_haproxy'), 2)} | {fmt(v.get('cpu_vs_producer_median'), 2)} "
                f"| {fmt(v.get('cpu_vs_producer_ratio_to_haproxy'), 2)} | {fmt(v['p50_ms_at_rate_median'], 2)} "
                f"| {fmt(v['p99_ms_at_rate_median'], 2)} | {fmt(v['cpu_us_per_req_at_rate_median'], 1)} "
                f"| {fmt(v.get('cpu_at_rate_ratio_to_haproxy'), 2)} | {fmt(v['peak_rss_mib'], 1)} |")
        prod = s[PRODUCER]["producer_cpu_us_per_req_median"]
        conns = ", ".join(f"{t} {s[t]['producer_connections_seen_max']}" for t in self.targets)
        lines += ["", f"Producer CPU per request (max pass, direct): {fmt(prod, 1)} µs; load generator "
                  f"(oha) CPU per request: {fmt(s[PRODUCER]['oha_cpu_us_per_req_median'], 1)} µs. "
                  f"Most connections to the producer seen in one pass: {conns} "
                  f"(a proxy reusing its backend connections stays near {self.args.connections}).",
                  "Noise between rounds is about ±8%: ratios within 0.90–1.10 are not findings."]
        if self.discarded:
            lines += ["", f"{self.discarded} pass(es) disturbed by other load on the machine were repeated "
                      "(kept in the JSON as discarded)."]
        if self.warnings:
            lines += ["", "Warnings:"] + [f"- {w}" for w in self.warnings]
        return "\n".join(lines)


def cpu_vs_producer(p: dict):
    """The proxy's CPU per request divided by the producer's in the same pass.

    The producer does exactly the same work per request behind every target, so its
    CPU per request is a yardstick of how fast the machine was during that pass (on a
    shared VM this drifts by tens of percent between passes). Dividing by it removes
    most of that drift from the proxy's figure."""
    a, b = p.get("proxy_cpu_us_per_req"), p.get("producer_cpu_us_per_req")
    return a / b if a is not None and b else None


def ratio(a, b):
    return a / b if a is not None and b else None


def fmt(v, digits: int) -> str:
    if v is None:
        return "–"
    return f"{v:,.{digits}f}".replace(",", " ") if digits == 0 else f"{v:.{digits}f}"


def machine_info(args) -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    git = run_text(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"])
    dirty = run_text(["git", "-C", str(REPO), "status", "--porcelain", "--", "gateway", "adapters", "Cargo.lock"])
    return {
        "nproc": os.cpu_count(), "cpu": cpu, "kernel": platform.release(),
        "mem_total": next((l.split(":")[1].strip() for l in Path("/proc/meminfo").read_text().splitlines()
                           if l.startswith("MemTotal")), "?"),
        "haproxy": run_text([args.haproxy, "-v"]).splitlines()[0],
        "nginx": run_text([args.nginx, "-v"]),
        "oha": run_text([args.oha, "--version"]),
        "rustc": run_text(["rustc", "--version"]),
        "vaxel": run_text([args.vaxel, "--version"]),
        "vaxel_binary": f"{args.vaxel}, built "
                        + datetime.datetime.fromtimestamp(os.path.getmtime(args.vaxel)).astimezone()
                        .isoformat(timespec="seconds"),
        **({"vaxel_base_binary": f"{args.vaxel_base}, built "
            + datetime.datetime.fromtimestamp(os.path.getmtime(args.vaxel_base)).astimezone()
            .isoformat(timespec="seconds")} if getattr(args, "vaxel_base", None) else {}),
        "git": git + (" (+ uncommitted changes in gateway/adapters)" if dirty.strip() else ""),
    }


def report_only(path: str) -> int:
    """Recompute summary + table from a results file (e.g. after changing the summary)."""
    doc = json.loads(Path(path).read_text())
    prm = doc["parameters"]
    args = argparse.Namespace(work="/nonexistent", quiet_wait=0, retries=0, targets=prm["targets"],
                              connections=prm["connections"], duration=prm["duration_s"], rounds=prm["rounds"])
    bench = Bench(args)
    bench.passes = doc["passes"]
    bench.rate = prm["fixed_rate"]
    bench.peak_rss = doc.get("peak_rss_kib", {})
    bench.warnings = doc.get("warnings", [])
    bench.discarded = sum(1 for p in bench.passes if p.get("discarded"))
    bench.oha = argparse.Namespace(has_db=prm.get("latency_first_second_dropped", False))
    doc["summary"] = bench.summary()
    table = bench.markdown(doc["summary"])
    Path(path).write_text(json.dumps(doc, indent=2) + "\n")
    Path(path).with_suffix(".md").write_text(table + "\n")
    print(table)
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default=str(HERE / "work"))
    ap.add_argument("--results", default=str(HERE / "results"))
    ap.add_argument("--vaxel", required=True)
    ap.add_argument("--oha", required=True)
    ap.add_argument("--haproxy", default="haproxy")
    ap.add_argument("--nginx", default="nginx")
    ap.add_argument("--duration", type=float, default=10, help="seconds per measured pass (default 10)")
    ap.add_argument("--rounds", type=int, default=3, help="rounds per target (default 3)")
    ap.add_argument("--connections", type=int, default=64, help="load generator connections (default 64)")
    ap.add_argument("--warmup", type=float, default=2, help="unmeasured seconds per target first (default 2)")
    ap.add_argument("--rate", type=float, help="fixed rate (default: half of haproxy's median max)")
    ap.add_argument("--vaxel-base", help="a second vaxel binary, measured as target vaxel-base "
                    "in the same run (before/after comparisons)")
    ap.add_argument("--targets", default=None,
                    help="comma-separated subset of vaxel,haproxy,nginx,vaxel-base,vaxel-quiet (default: the first three, and vaxel-base with --vaxel-base)")
    ap.add_argument("--quiet-wait", type=float, default=180,
                    help="max seconds, in total, to wait for running builds or other load before measuring "
                         "anyway (default 180)")
    ap.add_argument("--retries", type=int, default=6,
                    help="max passes, in total, repeated because other load disturbed them (default 6)")
    ap.add_argument("--command", default="", help="the command line, for the record")
    ap.add_argument("--report", metavar="RESULTS_JSON",
                    help="do not measure: recompute the summary and table of an earlier results file")
    if "--report" in sys.argv[1:-1]:
        return report_only(sys.argv[sys.argv.index("--report") + 1])
    args = ap.parse_args()
    if args.targets is None:
        args.targets = ",".join(DEFAULT_TARGETS + (("vaxel-base",) if args.vaxel_base else ()))
    args.targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    if "vaxel-base" in args.targets and not args.vaxel_base:
        ap.error("target vaxel-base needs --vaxel-base PATH")
    bad = [t for t in args.targets if t not in PROXIES]
    if bad or not args.targets:
        ap.error(f"unknown targets {bad}; choose from {','.join(PROXIES)}")

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    registry = Registry(work / "pids")

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    bench = Bench(args)
    started = datetime.datetime.now().astimezone()
    try:
        info = machine_info(args)
        log(f"machine: {info['nproc']} x {info['cpu']}, Linux {info['kernel']}; {info['haproxy']}; "
            f"{info['nginx']}; {info['oha']}; {info['vaxel']}")
        bench.setup(registry)
        bench.run()
    except Abort as e:
        print(f"\nABORTED: {e}\n", file=sys.stderr, flush=True)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted: stopping everything", file=sys.stderr, flush=True)
        return 130
    finally:
        registry.stop_all()

    summary = bench.summary()
    table = bench.markdown(summary)
    results_dir = Path(args.results)
    results_dir.mkdir(parents=True, exist_ok=True)
    stamp = started.strftime("%Y%m%d-%H%M%S")
    doc = {
        "started": started.isoformat(timespec="seconds"),
        "finished": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": args.command,
        "machine": info,
        "parameters": {"duration_s": args.duration, "rounds": args.rounds, "connections": args.connections,
                       "warmup_s": args.warmup, "fixed_rate": bench.rate, "targets": args.targets,
                       "request_bytes": len(bench.body), "request_source": str(REFERENCE_REQUEST),
                       "logical_address": LOGICAL_ADDRESS, "contract": CONTRACT, "path": REQUEST_PATH,
                       "latency_first_second_dropped": bench.oha.has_db},
        "summary": summary,
        "peak_rss_kib": bench.peak_rss,
        "warnings": bench.warnings,
        "passes": bench.passes,
    }
    (results_dir / f"{stamp}.json").write_text(json.dumps(doc, indent=2) + "\n")
    (results_dir / f"{stamp}.md").write_text(table + "\n")
    print("\n" + table + "\n", flush=True)
    log(f"results: {results_dir / (stamp + '.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
