#!/usr/bin/env bash
# Memory under large messages: 100 concurrent 10 MiB requests streamed through vaxel
# (demo PKI, demo routing table, demo producer that hashes and discards the body). Prints the gateway's peak RSS. Usage: benches/large/run.sh [concurrency] [MiB]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
ref="$root/../shared/reference/riv-ta/vp-requests/Rivta21Request.xml"
[ -f "$ref" ] || { echo "reference message not found at $ref" >&2; exit 1; }
conc=${1:-100}; mib=${2:-10}
work=$(mktemp -d)
cargo build --release -q -p vaxel --manifest-path "$root/Cargo.toml"
port=$((20000 + RANDOM % 20000))
bin="$root/target/release/vaxel"
certs="$work/certs"
"$bin" certs --out "$certs" >/dev/null
# The producer runs as its own process so that the gateway's RSS is the gateway's alone.
"$bin" demo-producer --listen 127.0.0.1:$((port + 2)) --cert "$certs/producer.pem" \
  --key "$certs/producer.key" --client-ca "$certs/ca.pem" >"$work/producer.log" 2>&1 &
producer=$!
cp "$root/gateway/vaxel/demo/routing-table.toml" "$work/routing-table.toml"
cat >"$work/vaxel.toml" <<TOML
instance_id = "vaxel-large"
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
vars = { DEMO_PRODUCER = "https://localhost:$((port + 2))" }
TOML
"$bin" serve --config "$work/vaxel.toml" >"$work/gateway.log" 2>&1 &
gw=$!
trap 'kill $gw $producer 2>/dev/null; wait $gw $producer 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$((port + 1))/ready" >/dev/null && break
  sleep 0.1
done
echo "vaxel $(git -C "$root" rev-parse --short HEAD), pid $gw, $conc x $mib MiB"
python3 "$root/benches/large/upload.py" --port $port --certs "$certs" \
  --reference "$ref" --pid $gw --concurrency "$conc" --size-mib "$mib"
