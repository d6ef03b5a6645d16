#!/usr/bin/env python3
"""The citizen's overview against its slowest source (see run.sh).

`table`   prints the routing table: the engagement index, and for every information set
          vaxel has an adapter for, a source on the demo producer's /journal path
          answering after --delay-ms (one source system per engagement-index key: the
          laboratory outcome contracts 3 and 4 share one key, so 11 source systems are
          asked 12 times, once per information set), with the citizen consumer
          authorised for all of them.
`measure` registers the engagements for the test patient through the engagement
          index's Update service, then alternates, over kept-alive connections: the
          overview through the citizen listener (TLS, a citizen token), and the same
          source's request sent straight to one source (the slowest source alone, the
          baseline). Prints latency percentiles, what the overview adds over one source
          and over the slowest of 12 single calls resampled from the one-source
          timings, the gateway's CPU per overview and its peak RSS.
"""

import argparse
import http.client
import json
import random
import ssl
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "aggregate"))
import bench as agg  # noqa: E402  (the aggregation bench's helpers)

UPDATE = agg.UPDATE
EI = agg.EI
PATIENT = agg.PATIENT
CITIZEN_CONSUMER = "SE0000000000-BENCH-CITIZEN"
BENCH_CONSUMER = agg.CONSUMER

# (information set, contract namespace, engagement-index service domain, categorization)
# as the adapters declare them (adapters/<set>/src/lib.rs).
SETS = [
    ("care-documentation", "urn:riv:clinicalprocess:healthcond:description:GetCareDocumentationResponder:2", "riv:clinicalprocess:healthcond:description", "voo"),
    ("diagnosis", "urn:riv:clinicalprocess:healthcond:description:GetDiagnosisResponder:2", "riv:clinicalprocess:healthcond:description", "dia"),
    ("alert-information", "urn:riv:clinicalprocess:healthcond:description:GetAlertInformationResponder:2", "riv:clinicalprocess:healthcond:description", "upp"),
    ("laboratory-outcome-3", "urn:riv:clinicalprocess:healthcond:actoutcome:GetLaboratoryOrderOutcomeResponder:3", "riv:clinicalprocess:healthcond:actoutcome", "und-kkm-ure"),
    ("laboratory-outcome-4", "urn:riv:clinicalprocess:healthcond:actoutcome:GetLaboratoryOrderOutcomeResponder:4", "riv:clinicalprocess:healthcond:actoutcome", "und-kkm-ure"),
    ("medication-history", "urn:riv:clinicalprocess:activityprescription:actoutcome:GetMedicationHistoryResponder:2", "riv:clinicalprocess:activityprescription:actoutcome", "caa-gmh"),
    ("care-contacts", "urn:riv:clinicalprocess:logistics:logistics:GetCareContactsResponder:2", "riv:clinicalprocess:logistics:logistics", "vko"),
    ("referral-outcome", "urn:riv:clinicalprocess:healthcond:actoutcome:GetReferralOutcomeResponder:3", "riv:clinicalprocess:healthcond:actoutcome", "und-kon-ure"),
    ("imaging-outcome", "urn:riv:clinicalprocess:healthcond:actoutcome:GetImagingOutcomeResponder:1", "riv:clinicalprocess:healthcond:actoutcome", "und-bdi-ure"),
    ("care-plans", "urn:riv:clinicalprocess:logistics:logistics:GetCarePlansResponder:2", "riv:clinicalprocess:logistics:logistics", "cll-cp"),
    ("scheduling", "urn:riv:crm:scheduling:GetSubjectOfCareScheduleResponder:1", "riv:crm:scheduling", "Booking"),
    ("vaccination-history", "urn:riv:clinicalprocess:activityprescription:actoutcome:GetVaccinationHistoryResponder:2", "riv:clinicalprocess:activityprescription:actoutcome", "caa-gvh"),
]


def keys() -> list[tuple[str, str]]:
    """The engagement-index keys, in order, once each."""
    out: list[tuple[str, str]] = []
    for _, _, domain, cat in SETS:
        if (domain, cat) not in out:
            out.append((domain, cat))
    return out


def source_of(domain: str, cat: str) -> str:
    return f"SE2321000016-BENCH-SRC{keys().index((domain, cat)) + 1:02d}"


def table(a) -> None:
    out = [f'[[contracts]]\nnamespace = "{UPDATE}"\n']
    out.append(
        f'[[routes]]\ncontract = "{UPDATE}"\nlogical_address = "{EI}"\nrivta_profile = "RIVTABP21"\nurl = "local://engagement-index"\n'
    )
    out.append(f'[[authorizations]]\nconsumer = "{BENCH_CONSUMER}"\ncontract = "{UPDATE}"\nlogical_address = "*"\n')
    for name, ns, domain, cat in SETS:
        out.append(f'[[contracts]]\nnamespace = "{ns}"\n')
        la = source_of(domain, cat)
        out.append(
            f'[[routes]]\ncontract = "{ns}"\nlogical_address = "{la}"\nrivta_profile = "RIVTABP21"\n'
            f'url = "{a.producer}/journal?delay_ms={a.delay_ms}&care_giver=SE2321000016-BENCH&care_unit=SE2321000016-BENCH-U01"\n'
        )
        out.append(f'[[authorizations]]\nconsumer = "{CITIZEN_CONSUMER}"\ncontract = "{ns}"\nlogical_address = "*"\n')
    print("\n".join(out))


def update_request() -> bytes:
    tx = "".join(
        "<u:engagementTransaction><e:deleteFlag>false</e:deleteFlag><e:engagement>"
        f"<e:registeredResidentIdentification>{PATIENT}</e:registeredResidentIdentification>"
        f"<e:serviceDomain>{domain}</e:serviceDomain><e:categorization>{cat}</e:categorization>"
        f"<e:logicalAddress>{source_of(domain, cat)}</e:logicalAddress>"
        "<e:businessObjectInstanceIdentifier>NA</e:businessObjectInstanceIdentifier>"
        "<e:clinicalProcessInterestId>NA</e:clinicalProcessInterestId>"
        "<e:mostRecentContent>20240115093000</e:mostRecentContent>"
        f"<e:sourceSystem>{source_of(domain, cat)}</e:sourceSystem><e:dataController>SE2321000016</e:dataController>"
        "</e:engagement></u:engagementTransaction>"
        for domain, cat in keys()
    )
    return agg.envelope(
        EI, f'<u:Update xmlns:u="{UPDATE}" xmlns:e="urn:riv:itintegration:engagementindex:1">{tx}</u:Update>'
    )


class CitizenConn:
    """The citizen listener: TLS without a client certificate, a bearer token."""

    def __init__(self, hostport: str, certs: Path, token: str):
        host, port = hostport.rsplit(":", 1)
        ctx = ssl.create_default_context(cafile=str(certs / "ca.pem"))
        ctx.check_hostname = False
        self.conn = http.client.HTTPSConnection(host, int(port), context=ctx, timeout=60)
        self.token = token

    def get(self, path: str) -> tuple[int, bytes, float]:
        started = time.perf_counter()
        self.conn.request("GET", path, headers={"authorization": f"Bearer {self.token}"})
        r = self.conn.getresponse()
        data = r.read()
        return r.status, data, time.perf_counter() - started


def measure(a) -> int:
    certs = Path(a.certs)
    gw = agg.Conn(a.gateway, certs)
    status, body, _ = gw.post("/", update_request())
    if status != 200 or b">OK<" not in body:
        print(f"Update failed: HTTP {status}\n{body[:2000].decode(errors='replace')}", file=sys.stderr)
        return 1
    now = int(time.time())
    token = agg.es256_token(
        Path(a.jwt_key),
        {"iss": "https://idp.bench", "aud": "vaxel-citizen", "sub": PATIENT, "loa": 3, "iat": now, "exp": now + 3600},
    )
    citizen = CitizenConn(a.citizen, certs, token)
    direct = agg.Conn(a.producer, certs)
    # The baseline: the care documentation source's own request, straight to it (the
    # slowest source alone: every source answers after the same delay).
    direct_path = f"/journal?delay_ms={a.delay_ms}&care_giver=SE2321000016-BENCH&care_unit=SE2321000016-BENCH-U01"
    direct_req = agg.care_doc_request(source_of(SETS[0][2], SETS[0][3]))
    calls = len(SETS)
    for _ in range(10):
        citizen.get("/citizen/v1/overview")
        direct.post(direct_path, direct_req)
    overview, dir_ = [], []
    cpu = 0.0
    for i in range(a.requests):
        cpu0 = agg.cpu_seconds(a.gateway_pid)
        status, body, t = citizen.get("/citizen/v1/overview")
        cpu += agg.cpu_seconds(a.gateway_pid) - cpu0
        if status != 200:
            print(f"overview {i} failed: HTTP {status}\n{body[:2000].decode(errors='replace')}", file=sys.stderr)
            return 1
        d = json.loads(body)
        ok = sum(1 for s in d["sources"] if s["status"] == "ok")
        if ok != calls:
            print(f"overview {i}: {ok} of {calls} source calls answered: {json.dumps(d['sources'])[:2000]}", file=sys.stderr)
            return 1
        overview.append(t)
        status, _, t = direct.post(direct_path, direct_req)
        if status != 200:
            print(f"direct call {i} failed: HTTP {status}", file=sys.stderr)
            return 1
        dir_.append(t)
    rng = random.Random(1)
    resampled = [max(rng.choices(dir_, k=calls)) for _ in range(20000)]
    ms = lambda v: f"{v * 1000:8.2f}"  # noqa: E731
    print(f"{a.requests} overviews, {calls} source calls over {len(keys())} source systems, delay {a.delay_ms} ms")
    print(f"items per overview: {len(d['items'])}, withheld: {d['withheld']['total']}")
    print("                              p50       p90       p99       max  (ms)")
    for name, v in (
        ("overview via vaxel", overview),
        ("one source, direct", dir_),
        (f"slowest of {calls}, resampled", resampled),
    ):
        print(f"{name:27} {ms(agg.pct(v, 50))} {ms(agg.pct(v, 90))} {ms(agg.pct(v, 99))} {ms(max(v))}")
    for name, base in (("added over one source", dir_), ("added over slowest, resampled", resampled)):
        print(
            f"{name:27} {ms(agg.pct(overview, 50) - agg.pct(base, 50))} {ms(agg.pct(overview, 90) - agg.pct(base, 90))} "
            f"{ms(agg.pct(overview, 99) - agg.pct(base, 99))}"
        )
    print(f"gateway CPU per overview: {cpu / a.requests * 1000:.2f} ms; peak RSS {agg.peak_rss_mib(a.gateway_pid):.1f} MiB")
    return 0


def main() -> int:
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("table")
    t.add_argument("--producer", required=True)
    t.add_argument("--delay-ms", type=int, default=20)
    m = sub.add_parser("measure")
    for name in ("--gateway", "--citizen", "--producer", "--certs", "--jwt-key"):
        m.add_argument(name, required=True)
    m.add_argument("--gateway-pid", type=int, required=True)
    m.add_argument("--delay-ms", type=int, default=20)
    m.add_argument("--requests", type=int, default=500)
    a = p.parse_args()
    if a.cmd == "table":
        table(a)
        return 0
    return measure(a)


if __name__ == "__main__":
    sys.exit(main())
