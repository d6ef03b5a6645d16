#!/usr/bin/env python3
"""Aggregation overhead benchmark (see run.sh).

`table`   prints the routing table: the engagement index, the aggregating service for
          GetCareDocumentation:2 at SE0000000000-NATIONAL, and N sources on the demo
          producer's /journal path, each answering after --delay-ms.
`measure` registers the N sources for the test patient through the engagement index's
          Update service, then alternates calls over kept-alive mutual-TLS connections:
          the aggregated query through vaxel (and through a second, consent-checking
          gateway), the same request straight to one source, and straight to all N
          sources at once from the client (waiting for the slowest). Prints latency
          percentiles, the aggregation overhead against each baseline (also against the
          slowest of N single calls resampled from the one-source timings, which has no
          client-side fan-out cost in it), and the gateway's CPU per aggregated request
          and peak RSS.
"""

import argparse
import http.client
import ssl
import sys
import time
from pathlib import Path

CARE_DOC = "urn:riv:clinicalprocess:healthcond:description:GetCareDocumentationResponder:2"
UPDATE = "urn:riv:itintegration:engagementindex:UpdateResponder:1"
CONSUMER = "SE0000000000-DEMOCONSUMER"
EI = "SE0000000000-BENCH-EI"
NATIONAL = "SE0000000000-NATIONAL"
PATIENT = "191212121212"


def source(i: int) -> str:
    return f"SE2321000016-BENCH-SRC{i:02d}"


def table(a) -> None:
    out = [
        f'[[contracts]]\nnamespace = "{CARE_DOC}"\n',
        f'[[contracts]]\nnamespace = "{UPDATE}"\n',
        f'[[routes]]\ncontract = "{UPDATE}"\nlogical_address = "{EI}"\nrivta_profile = "RIVTABP21"\nurl = "local://engagement-index"\n',
        f'[[routes]]\ncontract = "{CARE_DOC}"\nlogical_address = "{NATIONAL}"\nrivta_profile = "RIVTABP21"\nurl = "local://aggregating"\n',
    ]
    for i in range(1, a.sources + 1):
        out.append(
            f'[[routes]]\ncontract = "{CARE_DOC}"\nlogical_address = "{source(i)}"\nrivta_profile = "RIVTABP21"\n'
            f'url = "{a.producer}/journal?delay_ms={a.delay_ms}&care_giver=SE2321000016-BENCH&care_unit=SE2321000016-BENCH-U{i:02d}"\n'
        )
    for contract in (CARE_DOC, UPDATE):
        out.append(
            f'[[authorizations]]\nconsumer = "{CONSUMER}"\ncontract = "{contract}"\nlogical_address = "*"\n'
        )
    print("\n".join(out))


def envelope(address: str, body: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
        f'<soap:Header><LogicalAddress xmlns="urn:riv:itintegration:registry:1">{address}</LogicalAddress></soap:Header>'
        f"<soap:Body>{body}</soap:Body></soap:Envelope>\n"
    ).encode()


def care_doc_request(address: str) -> bytes:
    return envelope(
        address,
        f'<GetCareDocumentation xmlns="{CARE_DOC}" xmlns:c="urn:riv:clinicalprocess:healthcond:description:2">'
        f"<patientId><c:id>{PATIENT}</c:id><c:type>1.2.752.129.2.1.3.1</c:type></patientId></GetCareDocumentation>",
    )


def update_request(n: int) -> bytes:
    tx = "".join(
        "<u:engagementTransaction><e:deleteFlag>false</e:deleteFlag><e:engagement>"
        f"<e:registeredResidentIdentification>{PATIENT}</e:registeredResidentIdentification>"
        "<e:serviceDomain>riv:clinicalprocess:healthcond:description</e:serviceDomain>"
        "<e:categorization>voo</e:categorization>"
        f"<e:logicalAddress>{source(i)}</e:logicalAddress>"
        "<e:businessObjectInstanceIdentifier>NA</e:businessObjectInstanceIdentifier>"
        "<e:clinicalProcessInterestId>NA</e:clinicalProcessInterestId>"
        "<e:mostRecentContent>20240115093000</e:mostRecentContent>"
        f"<e:sourceSystem>{source(i)}</e:sourceSystem><e:dataController>SE2321000016</e:dataController>"
        "</e:engagement></u:engagementTransaction>"
        for i in range(1, n + 1)
    )
    return envelope(
        EI,
        f'<u:Update xmlns:u="{UPDATE}" xmlns:e="urn:riv:itintegration:engagementindex:1">{tx}</u:Update>',
    )


class Conn:
    def __init__(self, hostport: str, certs: Path):
        host, port = hostport.rsplit(":", 1)
        ctx = ssl.create_default_context(cafile=str(certs / "ca.pem"))
        ctx.load_cert_chain(str(certs / "consumer.pem"), str(certs / "consumer.key"))
        ctx.check_hostname = False
        self.conn = http.client.HTTPSConnection(host, int(port), context=ctx, timeout=60)

    def post(self, path: str, body: bytes, extra: dict | None = None) -> tuple[int, bytes, float]:
        started = time.perf_counter()
        headers = {"content-type": "text/xml; charset=UTF-8"}
        headers.update(extra or {})
        self.conn.request("POST", path, body, headers)
        r = self.conn.getresponse()
        data = r.read()
        return r.status, data, time.perf_counter() - started


def b64url(data: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def es256_token(key_pem: Path, claims: dict) -> str:
    """A JWT signed with the openssl CLI (ECDSA P-256; DER signature → r‖s)."""
    import json
    import subprocess

    signing_input = (
        b64url(json.dumps({"alg": "ES256", "typ": "JWT"}).encode())
        + "."
        + b64url(json.dumps(claims).encode())
    )
    der = subprocess.run(
        ["openssl", "dgst", "-sha256", "-sign", str(key_pem)],
        input=signing_input.encode(),
        capture_output=True,
        check=True,
    ).stdout
    # SEQUENCE { INTEGER r, INTEGER s }
    i = 2 if der[1] < 0x80 else 3
    parts = []
    for _ in range(2):
        assert der[i] == 0x02
        n = der[i + 1]
        parts.append(int.from_bytes(der[i + 2 : i + 2 + n], "big").to_bytes(32, "big"))
        i += 2 + n
    return signing_input + "." + b64url(parts[0] + parts[1])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    import os

    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def measure(a) -> int:
    certs = Path(a.certs)
    gw = Conn(a.gateway, certs)
    status, body, _ = gw.post("/", update_request(a.sources))
    if status != 200 or b">OK<" not in body:
        print(f"Update failed: HTTP {status}\n{body[:2000].decode(errors='replace')}", file=sys.stderr)
        return 1
    direct = Conn(a.producer, certs)
    pdl = None
    if a.consent_gateway:
        pdl = Conn(a.consent_gateway, certs)
        status, body, _ = pdl.post("/", update_request(a.sources))
        if status != 200:
            print(f"Update (consent gateway) failed: HTTP {status}", file=sys.stderr)
            return 1
        now = int(time.time())
        token = es256_token(
            Path(a.jwt_key),
            {
                "iss": "https://idp.bench", "aud": "vaxel", "sub": "SE2321000016-BENCH-DOCTOR",
                "care_unit": "SE2321000016-BENCH-U01", "care_giver": "SE2321000016-BENCH",
                "purpose": "care", "exp": now + 3600, "nbf": now - 5,
            },
        )
    agg_req = care_doc_request(NATIONAL)
    direct_req = care_doc_request(source(1))
    direct_path = f"/journal?delay_ms={a.delay_ms}&care_giver=SE2321000016-BENCH&care_unit=SE2321000016-BENCH-U01"
    # Warm-up: connections, pools to every source.
    for _ in range(20):
        gw.post("/", agg_req)
        direct.post(direct_path, direct_req)
        if pdl:
            pdl.post("/", agg_req, {"x-vaxel-user-context": token})
    # Baseline 2: the same request to all N sources at once, straight from the client,
    # waiting for the last answer (the slowest producer of the fan-out).
    from concurrent.futures import ThreadPoolExecutor

    fan = [Conn(a.producer, certs) for _ in range(a.sources)]
    fan_reqs = [care_doc_request(source(i)) for i in range(1, a.sources + 1)]
    pool = ThreadPoolExecutor(max_workers=a.sources)

    def direct_fan_out() -> float:
        started = time.perf_counter()
        results = list(pool.map(lambda cr: cr[0].post(direct_path, cr[1]), zip(fan, fan_reqs)))
        if any(r[0] != 200 for r in results):
            raise RuntimeError("direct fan-out call failed")
        return time.perf_counter() - started

    for _ in range(10):
        direct_fan_out()
    agg, dir_, with_pdl, slowest, proxied = [], [], [], [], []
    cpu = 0.0
    for i in range(a.requests):
        if pdl:
            status, body, t = pdl.post("/", agg_req, {"x-vaxel-user-context": token})
            if status != 200 or body.count(b"DataFromSource") != a.sources:
                print(f"consent-checked call {i} incomplete: HTTP {status}\n{body[:3000].decode(errors='replace')}", file=sys.stderr)
                return 1
            with_pdl.append(t)
        cpu0 = cpu_seconds(a.gateway_pid)
        status, body, t = gw.post("/", agg_req)
        cpu += cpu_seconds(a.gateway_pid) - cpu0
        if status != 200 or body.count(b"DataFromSource") != a.sources:
            print(f"aggregated call {i} incomplete: HTTP {status}\n{body[:3000].decode(errors='replace')}", file=sys.stderr)
            return 1
        agg.append(t)
        status, _, t = direct.post(direct_path, direct_req)
        if status != 200:
            print(f"direct call {i} failed: HTTP {status}", file=sys.stderr)
            return 1
        dir_.append(t)
        # One source through the gateway (a virtualised call, no aggregation): what the
        # gateway hop alone costs, to tell it apart from what the fan-out adds.
        status, _, t = gw.post("/", direct_req)
        if status != 200:
            print(f"virtualised call {i} failed: HTTP {status}", file=sys.stderr)
            return 1
        proxied.append(t)
        slowest.append(direct_fan_out())
    # Gateway CPU is summed over the aggregated calls only (the loop also sends one
    # virtualised call through it); tick-granular per call, unbiased over the run.
    ms = lambda v: f"{v * 1000:8.2f}"
    print(f"{a.requests} requests each, fan-out {a.sources}, producer delay {a.delay_ms} ms")
    print("                         p50       p90       p99       max  (ms)")
    # Baseline 3: the slowest of N independent single calls, resampled from the
    # one-producer timings (no client-side fan-out cost in it).
    import random

    rng = random.Random(1)
    resampled = [max(rng.choices(dir_, k=a.sources)) for _ in range(20000)]
    for name, v in (
        ("aggregated via vaxel", agg),
        ("one producer, direct", dir_),
        (f"slowest of {a.sources}, direct", slowest),
        (f"slowest of {a.sources}, resampled", resampled),
        ("one producer via vaxel", proxied),
    ):
        print(f"{name:22} {ms(pct(v, 50))} {ms(pct(v, 90))} {ms(pct(v, 99))} {ms(max(v))}")
    print(
        f"{'over one producer':22} {ms(pct(agg, 50) - pct(dir_, 50))} {ms(pct(agg, 90) - pct(dir_, 90))} "
        f"{ms(pct(agg, 99) - pct(dir_, 99))}"
    )
    print(
        f"{'over slowest of fan-out':22} {ms(pct(agg, 50) - pct(slowest, 50))} {ms(pct(agg, 90) - pct(slowest, 90))} "
        f"{ms(pct(agg, 99) - pct(slowest, 99))}"
    )
    print(
        f"{'over one via vaxel':22} {ms(pct(agg, 50) - pct(proxied, 50))} {ms(pct(agg, 90) - pct(proxied, 90))} "
        f"{ms(pct(agg, 99) - pct(proxied, 99))}"
    )
    print(
        f"{'over slowest, resampled':22} {ms(pct(agg, 50) - pct(resampled, 50))} {ms(pct(agg, 90) - pct(resampled, 90))} "
        f"{ms(pct(agg, 99) - pct(resampled, 99))}"
    )
    if pdl:
        print(f"{'with consent + PDL log':22} {ms(pct(with_pdl, 50))} {ms(pct(with_pdl, 90))} {ms(pct(with_pdl, 99))} {ms(max(with_pdl))}")
        print(f"consent + access log add at p99: {(pct(with_pdl, 99) / pct(agg, 99) - 1) * 100:+.1f} % "
              f"(p50 {(pct(with_pdl, 50) / pct(agg, 50) - 1) * 100:+.1f} %); every record decided and logged")
    print(f"gateway CPU per aggregated request: {cpu / a.requests * 1000:.3f} ms "
          f"({a.sources} producer calls, merge of {2 * a.sources} records)")
    print(f"gateway peak RSS: {peak_rss_mib(a.gateway_pid):.1f} MiB")
    if a.admin:
        # The gateway's own view (specs/aggregation.md, "Timings"): per query, its total
        # time minus its slowest source's round trip, free of client and network noise.
        # Includes the warm-up queries.
        import json
        import urllib.request

        with urllib.request.urlopen(f"http://{a.admin}/status", timeout=10) as r:
            timings = json.load(r)["aggregation"]
        print(f"inside the gateway ({timings['queries']} queries)     p50       p90       p99       max  (ms)")
        for key, name in (
            ("total_us", "whole query"),
            ("slowest_source_us", "slowest source"),
            ("overhead_us", "added by the gateway"),
        ):
            v = timings[key]
            print(f"{name:22} {ms(v['p50'] / 1e6)} {ms(v['p90'] / 1e6)} {ms(v['p99'] / 1e6)} {ms(v['max'] / 1e6)}")
    return 0


def main() -> int:
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("table")
    t.add_argument("--sources", type=int, required=True)
    t.add_argument("--delay-ms", type=int, required=True)
    t.add_argument("--producer", required=True)
    m = sub.add_parser("measure")
    for name in ("gateway", "producer", "certs"):
        m.add_argument("--" + name, required=True)
    m.add_argument("--consent-gateway", help="host:port of a second gateway with [consent] enabled")
    m.add_argument("--jwt-key", help="EC private key (PEM) of the consent gateway's issuer")
    m.add_argument("--admin", help="host:port of the (first) gateway's admin listener, for /status timings")
    for name in ("sources", "delay-ms", "requests", "gateway-pid"):
        m.add_argument("--" + name, type=int, required=True)
    a = p.parse_args()
    if a.cmd == "table":
        table(a)
        return 0
    return measure(a)


if __name__ == "__main__":
    sys.exit(main())
