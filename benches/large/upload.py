#!/usr/bin/env python3
"""Send N concurrent large RIV-TA requests through the gateway, streamed (chunked), and
report status codes, throughput and the gateway's peak RSS (VmHWM).

The request is the reference Rivta21Request.xml envelope with padding inside the first
Body child, generated on the fly, so the client holds only one chunk at a time.
"""
import argparse
import http.client
import os
import re
import ssl
import sys
import threading
import time

CHUNK = 64 * 1024


def envelope_parts(reference):
    text = open(reference, encoding="utf-8").read()
    # Split after the first Body child's start tag: padding goes inside it.
    m = re.search(r"<soap:Body>\s*<ns2:GetSubjectOfCareSchedule[^>]*>", text)
    if not m:
        sys.exit(f"cannot find the Body child in {reference}")
    return text[: m.end()].encode(), text[m.end():].encode()


def body_stream(head, tail, size):
    yield head
    sent = len(head) + len(tail)
    filler = (b"<!-- vaxel large message padding " + b"x" * 1000 + b" -->\n") * 64
    while sent < size:
        n = min(len(filler), size - sent)
        # Keep the document well-formed: only whole comments, then spaces.
        piece = filler[:n] if n == len(filler) else b" " * n
        sent += n
        yield piece
    yield tail


def vmhwm_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def vmrss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--certs", required=True)
    ap.add_argument("--reference", required=True)
    ap.add_argument("--pid", type=int, required=True, help="gateway pid (for RSS)")
    ap.add_argument("--concurrency", type=int, default=100)
    ap.add_argument("--size-mib", type=float, default=10)
    args = ap.parse_args()

    ctx = ssl.create_default_context(cafile=os.path.join(args.certs, "ca.pem"))
    ctx.load_cert_chain(os.path.join(args.certs, "consumer.pem"), os.path.join(args.certs, "consumer.key"))
    head, tail = envelope_parts(args.reference)
    size = int(args.size_mib * 1024 * 1024)
    results = []
    lock = threading.Lock()
    peak_rss = [0]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak_rss[0] = max(peak_rss[0], vmrss_kib(args.pid))
            time.sleep(0.05)

    def one(i):
        try:
            conn = http.client.HTTPSConnection("localhost", args.port, context=ctx, timeout=120)
            conn.putrequest("POST", "/vp/GetSubjectOfCareSchedule/1/rivtabp21")
            conn.putheader("content-type", "text/xml; charset=UTF-8")
            conn.putheader("transfer-encoding", "chunked")
            conn.endheaders()
            for piece in body_stream(head, tail, size):
                conn.send(b"%x\r\n%s\r\n" % (len(piece), piece))
            conn.send(b"0\r\n\r\n")
            r = conn.getresponse()
            data = r.read()
            with lock:
                results.append((r.status, r.getheader("x-demo-body-bytes"), len(data)))
            conn.close()
        except Exception as e:  # noqa: BLE001 - report every failure
            with lock:
                results.append(("error", str(e), 0))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    before = vmhwm_kib(args.pid)
    t0 = time.time()
    threads = [threading.Thread(target=one, args=(i,)) for i in range(args.concurrency)]
    for t in threads:
        t.start()
    for i, t in enumerate(threads):
        t.join()
    elapsed = time.time() - t0
    done.set()
    ok = sum(1 for r in results if r[0] == 200)
    bad = [r for r in results if r[0] != 200]
    print(f"requests: {len(results)}, 200 OK: {ok}, other: {len(bad)} {bad[:3]}")
    print(f"bytes per request: {size}, total {size * len(results) / 2**20:.0f} MiB in {elapsed:.1f} s "
          f"({size * ok / 2**20 / elapsed:.0f} MiB/s)")
    print(f"gateway VmHWM before: {before / 1024:.1f} MiB, peak RSS sampled during the run: "
          f"{peak_rss[0] / 1024:.1f} MiB, VmHWM after: {vmhwm_kib(args.pid) / 1024:.1f} MiB")
    print(f"producer-reported body bytes (first): {results[0][1] if results else None}")
    sys.exit(0 if ok == len(results) == args.concurrency else 1)


if __name__ == "__main__":
    main()
