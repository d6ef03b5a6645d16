#!/usr/bin/env bash
# benches/sdk/run.sh — SDK messaging between two real gateways, with the cost split.
#
# 1. the release `vaxel`;
# 2. crypto: the ignored `xmlsec_profile` timing test (encrypt+sign, verify+decrypt for
#    a 10 KB and a 1 MB payload);
# 3. storage: the ignored `sdk_write_rate` test (durable SQLite writes/s), its test binary
#    run directly under /usr/bin/time for its CPU seconds;
# 4. `cargo bench -p vaxel --bench sdk` with VAXEL_SDK_BENCH_PROFILE_DIR pointing at 2 and
#    3, so it prints the end-to-end table and the cost split.
#
# Everything lands in $VAXEL_SDK_BENCH_OUT (default: a new temporary folder). The bench's
# own knobs (VAXEL_SDK_BENCH_ROUNDS, _THREADS, _CONCURRENCY, _N_SMALL, _N_LARGE, _DIR,
# _STORE, _SENDER_NODES, _PG_POOL) pass through; see benches/sdk/README.md (the storage
# figures of the cost split come from the SQLite test whatever _STORE says).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${VAXEL_SDK_BENCH_OUT:-$(mktemp -d -t vaxel-sdk-bench.XXXXXX)}
mkdir -p "$out"
echo "results in $out"

{
  echo "date: $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "nproc: $(nproc)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
  echo "kernel: $(uname -r)"
  echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
} | tee "$out/machine.txt"

cargo build --release -p vaxel

cargo test -p vaxel-sdk --release --test xmlsec_profile -- --ignored --nocapture timing \
  2>&1 | tee "$out/xmlsec.txt" | grep -E '^(payload|parse)' || true

exe=$(cargo test -p vaxel-store-sqlite --release --lib --no-run --message-format=json 2>/dev/null \
  | jq -r 'select(.executable != null) | .executable' | tail -1)
/usr/bin/time -f 'cpu_s=%U %S' -o "$out/store-time.txt" \
  "$exe" --ignored sdk_write_rate --nocapture 2>&1 | tee "$out/store.txt" | grep -E '/s$' || true
awk '/^cpu_s=/ { sub("cpu_s=", ""); printf "cpu_s=%.2f\n", $1 + $2 }' "$out/store-time.txt" \
  >> "$out/store.txt"

VAXEL_SDK_BENCH_PROFILE_DIR="$out" cargo bench -p vaxel --bench sdk 2>&1 | tee "$out/bench.txt"
