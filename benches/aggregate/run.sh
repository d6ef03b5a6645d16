#!/usr/bin/env bash
# Aggregation overhead: an NPÖ GetCareDocumentation query fanned out by vaxel to N
# source systems (default 10), each answering after D ms (default 20), against the same
# request sent straight to one such source (the slowest producer alone). Both measured in
# the same run, sequentially over one kept-alive mutual-TLS connection each, and against
# one source through vaxel (a virtualised call: the gateway hop without the fan-out).
# Usage: benches/aggregate/run.sh [sources] [delay_ms] [requests]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
sources=${1:-10}; delay=${2:-20}; requests=${3:-1000}
work=$(mktemp -d)
cargo build --release -q -p vaxel --manifest-path "$root/Cargo.toml"
bin="$root/target/release/vaxel"
port=$((20000 + RANDOM % 20000))
certs="$work/certs"
"$bin" certs --out "$certs" >/dev/null
"$bin" demo-producer --listen 127.0.0.1:$((port + 2)) --cert "$certs/producer.pem" \
  --key "$certs/producer.key" --client-ca "$certs/ca.pem" >"$work/producer.log" 2>&1 &
producer=$!
python3 "$root/benches/aggregate/bench.py" table --sources "$sources" --delay-ms "$delay" \
  --producer "https://localhost:$((port + 2))" >"$work/routing-table.toml"
cat >"$work/vaxel.toml" <<TOML
instance_id = "vaxel-aggregate-bench"
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
TOML
# A second gateway, identical but with consent checking and the PDL access log on (the
# bench's user is of the sources' care giver: every record is decided and logged).
openssl ecparam -genkey -name prime256v1 -noout -out "$work/idp.key" 2>/dev/null
openssl ec -in "$work/idp.key" -pubout -out "$work/idp.pub.pem" 2>/dev/null
mkdir -p "$work/pdl"
cp "$work/routing-table.toml" "$work/pdl/routing-table.toml"
sed -e "s/127.0.0.1:$port\"/127.0.0.1:$((port + 3))\"/" -e "s/127.0.0.1:$((port + 1))\"/127.0.0.1:$((port + 4))\"/" \
    -e 's/vaxel-aggregate-bench/vaxel-aggregate-bench-pdl/' "$work/vaxel.toml" >"$work/pdl/vaxel.toml"
cat >>"$work/pdl/vaxel.toml" <<TOML
[consent]
enabled = true
[[consent.issuers]]
issuer = "https://idp.bench"
audience = ["vaxel"]
algorithms = ["ES256"]
public_key_pem = "$work/idp.pub.pem"
TOML
"$bin" serve --config "$work/vaxel.toml" >"$work/gateway.log" 2>&1 &
gw=$!
"$bin" serve --config "$work/pdl/vaxel.toml" >"$work/gateway-pdl.log" 2>&1 &
gw2=$!
trap 'kill $gw $gw2 $producer 2>/dev/null; wait $gw $gw2 $producer 2>/dev/null; rm -rf "$work"' EXIT
for admin in $((port + 1)) $((port + 4)); do
  for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$admin/ready" >/dev/null && break
    sleep 0.1
  done
done
echo "vaxel $(git -C "$root" rev-parse --short HEAD); $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
python3 "$root/benches/aggregate/bench.py" measure --gateway "127.0.0.1:$port" \
  --producer "127.0.0.1:$((port + 2))" --certs "$certs" --sources "$sources" \
  --delay-ms "$delay" --requests "$requests" --gateway-pid $gw --admin "127.0.0.1:$((port + 1))" \
  --consent-gateway "127.0.0.1:$((port + 3))" --jwt-key "$work/idp.key"
