#!/usr/bin/env bash
# Load harness: vaxel vs haproxy vs nginx on the same mutual-TLS RIV-TA traffic.
#
#   benches/load/run.sh [--duration 10] [--rounds 3] [--connections 64] [--warmup 2]
#                       [--rate N] [--targets vaxel,haproxy,nginx] [--skip-build]
#                       [--quiet-wait 180] [--retries 6] [--vaxel-base PATH]
#
# 1. checks/installs haproxy, nginx (apt) and oha (cargo install oha --locked);
# 2. builds vaxel (cargo build --release -p vaxel);
# 3. runs harness.py: PKI, producer, proxies, interleaved passes, results.
# Everything listens on 127.0.0.1 only; every process started is stopped on exit,
# including Ctrl-C. --vaxel-base measures a second vaxel binary (e.g. the previous commit's
# release build) as target vaxel-base in the same run, interleaved with the others. With
# the defaults the measurement takes about 5 minutes on a quiet
# machine; waiting for other load (--quiet-wait) and repeating disturbed passes
# (--retries) can add at most about 5 more.
# See benches/load/README.md.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
WORK="${VAXEL_BENCH_WORK:-$HERE/work}"
COMMAND_LINE="benches/load/run.sh $*"

usage() { sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

SKIP_BUILD=0
PASS=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        -h|--help) usage; exit 0 ;;
        --skip-build) SKIP_BUILD=1; shift ;;
        --duration|--rounds|--connections|--warmup|--rate|--targets|--quiet-wait|--retries|--vaxel-base)
            [[ $# -ge 2 ]] || { echo "run.sh: $1 needs a value" >&2; exit 64; }
            PASS+=("$1" "$2"); shift 2 ;;
        *) echo "run.sh: unknown option $1 (see --help)" >&2; exit 64 ;;
    esac
done

say() { printf '[run.sh] %s\n' "$*"; }

# Stop whatever the harness started, even if it was killed before cleaning up:
# harness.py keeps the process-group ids of its daemons in $WORK/pids.
cleanup() {
    local rc=$?
    if [[ -s "$WORK/pids" ]]; then
        while read -r pgid; do
            [[ -n "$pgid" ]] && kill -TERM -- "-$pgid" 2>/dev/null || true
        done < "$WORK/pids"
        sleep 1
        while read -r pgid; do
            [[ -n "$pgid" ]] && kill -KILL -- "-$pgid" 2>/dev/null || true
        done < "$WORK/pids"
        : > "$WORK/pids"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "run.sh: need root to run: $*" >&2; return 1; fi; }

# ---- 1. tools
missing=()
for tool in haproxy nginx; do
    command -v "$tool" >/dev/null 2>&1 || [[ -x "/usr/sbin/$tool" ]] || missing+=("$tool")
done
if [[ ${#missing[@]} -gt 0 ]]; then
    say "installing ${missing[*]} (apt-get)"
    as_root apt-get install -y "${missing[@]}" || { as_root apt-get update && as_root apt-get install -y "${missing[@]}"; }
fi
HAPROXY="$(command -v haproxy || echo /usr/sbin/haproxy)"
NGINX="$(command -v nginx || echo /usr/sbin/nginx)"

find_oha() { command -v oha 2>/dev/null || { [[ -x "$HOME/.cargo/bin/oha" ]] && echo "$HOME/.cargo/bin/oha"; } || true; }
OHA="$(find_oha)"
if [[ -z "$OHA" ]]; then
    if pgrep -f 'cargo install oha' >/dev/null; then
        say "oha is being installed by another 'cargo install oha'; waiting for it (max 20 min)"
        for _ in $(seq 1 240); do
            pgrep -f 'cargo install oha' >/dev/null || break
            sleep 5
        done
        OHA="$(find_oha)"
    fi
    if [[ -z "$OHA" ]]; then
        say "installing oha (cargo install oha --locked; takes a few minutes)"
        cargo install oha --locked
        OHA="$(find_oha)"
    fi
    [[ -n "$OHA" ]] || { echo "run.sh: oha not found after installing it" >&2; exit 1; }
fi
say "tools: $("$HAPROXY" -v | head -1 | cut -c1-40) | $("$NGINX" -v 2>&1) | $("$OHA" --version)"

# ---- 2. vaxel
cd "$REPO"
TARGET_DIR="${CARGO_TARGET_DIR:-$(cargo metadata --format-version 1 --no-deps 2>/dev/null |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])' 2>/dev/null || echo "$REPO/target")}"
VAXEL="${VAXEL_BIN:-$TARGET_DIR/release/vaxel}"   # VAXEL_BIN: measure another build
if [[ $SKIP_BUILD -eq 0 && -z "${VAXEL_BIN:-}" ]]; then
    say "building vaxel (cargo build --release -p vaxel)"
    cargo build --release -p vaxel
fi
[[ -x "$VAXEL" ]] || { echo "run.sh: $VAXEL missing: build it with cargo build --release -p vaxel" >&2; exit 1; }

# ---- 3. measure
mkdir -p "$WORK"
say "running the harness (Ctrl-C stops everything)"
python3 "$HERE/harness.py" --work "$WORK" --results "$HERE/results" --vaxel "$VAXEL" --oha "$OHA" \
    --haproxy "$HAPROXY" --nginx "$NGINX" --command "$COMMAND_LINE" ${PASS[@]+"${PASS[@]}"}
