#!/usr/bin/env bash
# The citizen's overview (specs/citizen.md §3) against its slowest source: one overview
# through the citizen listener asks every information set's source (12 source calls over
# 11 source systems, each answering after D ms, default 20), against one source's
# request sent straight to it. Both measured in the same run, alternating, over one
# kept-alive TLS connection each.
# Usage: benches/citizen/run.sh [delay_ms] [requests]   (needs: cargo, python3, openssl, curl)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
delay=${1:-20}; requests=${2:-500}
work=$(mktemp -d)
cargo build --release -q -p vaxel --manifest-path "$root/Cargo.toml"
bin="$root/target/release/vaxel"
port=$((20000 + RANDOM % 20000))
certs="$work/certs"
"$bin" certs --out "$certs" >/dev/null
"$bin" demo-producer --listen 127.0.0.1:$((port + 2)) --cert "$certs/producer.pem" \
  --key "$certs/producer.key" --client-ca "$certs/ca.pem" >"$work/producer.log" 2>&1 &
producer=$!
python3 "$root/benches/citizen/bench.py" table --delay-ms "$delay" \
  --producer "https://localhost:$((port + 2))" >"$work/routing-table.toml"
openssl ecparam -genkey -name prime256v1 -noout -out "$work/idp.key" 2>/dev/null
openssl ec -in "$work/idp.key" -pubout -out "$work/idp.pub.pem" 2>/dev/null
cat >"$work/vaxel.toml" <<TOML
instance_id = "vaxel-citizen-bench"
[service]
listen = "127.0.0.1:$port"
[service.tls]
certificate = "$certs/gateway.pem"
private_key = "$certs/gateway.key"
client_ca = "$certs/ca.pem"
[admin]
listen = "127.0.0.1:$((port + 1))"
[producers]
certificate = "$certs/gateway-client.pem"
private_key = "$certs/gateway-client.key"
ca = "$certs/ca.pem"
[routing]
source = "routing-table.toml"
[store]
path = "bench.db"
[engagement_index]
owner = "SE0000000000-BENCH-EI"
[citizen]
enabled = true
listen = "127.0.0.1:$((port + 3))"
consumer_id = "SE0000000000-BENCH-CITIZEN"
[[citizen.issuers]]
issuer = "https://idp.bench"
audience = ["vaxel-citizen"]
algorithms = ["ES256"]
public_key_pem = "$work/idp.pub.pem"
TOML
"$bin" serve --config "$work/vaxel.toml" >"$work/gateway.log" 2>&1 &
gw=$!
trap 'kill $gw $producer 2>/dev/null; wait $gw $producer 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$((port + 1))/ready" >/dev/null && break
  sleep 0.1
done
echo "vaxel $(git -C "$root" rev-parse --short HEAD); $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
python3 "$root/benches/citizen/bench.py" measure --gateway "127.0.0.1:$port" \
  --citizen "127.0.0.1:$((port + 3))" --producer "127.0.0.1:$((port + 2))" --certs "$certs" \
  --delay-ms "$delay" --requests "$requests" --gateway-pid $gw --jwt-key "$work/idp.key" || {
  echo "--- gateway log (tail)"; tail -20 "$work/gateway.log"; exit 1; }
