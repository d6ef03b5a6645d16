#!/usr/bin/env bash
# Runs every fuzz target in fuzz/fuzz_targets for N seconds each (default 30) and
# prints executions per second and total executions per target at the end.
#
# usage: fuzz/run-all.sh [seconds-per-target]
#
# Needs cargo-fuzz (installed here if missing). The toolchain is stable: cargo-fuzz's
# sanitizer-coverage flags are unstable rustc flags, so RUSTC_BOOTSTRAP=1 is set unless
# the active toolchain is nightly. `-s none`: the crates are `forbid(unsafe_code)`, so
# AddressSanitizer buys little and would halve the exec rate. `-a` keeps debug
# assertions (integer overflow checks) on: "never panics" must hold in debug builds too.
set -euo pipefail

seconds="${1:-30}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "cargo-fuzz not found: installing it (cargo install cargo-fuzz --locked)"
    cargo install cargo-fuzz --locked
fi
if ! rustc --version | grep -q nightly; then
    export RUSTC_BOOTSTRAP=1
fi

logs="$root/fuzz/target/run-all-logs"
mkdir -p "$logs"
targets=()
for file in fuzz/fuzz_targets/*.rs; do
    targets+=("$(basename "$file" .rs)")
done

status=0
result=()
for target in "${targets[@]}"; do
    # New inputs go to a git-ignored working corpus (first directory); the committed
    # seeds in fuzz/corpus/<target> are only read.
    work="fuzz/target/corpus/$target"
    mkdir -p "fuzz/corpus/$target" "$work"
    case "$target" in
        # The reference seeds are up to 1.2 MB; the sniffer stops at the first Body
        # child, so longer inputs only slow mutation down.
        sniff) dict=fuzz/dict/soap.dict max_len=65536 ;;
        # Whole requests and producer responses: a few records hold every structure the
        # readers and the merge writer handle.
        record_parser) dict=fuzz/dict/soap.dict max_len=16384 ;;
        # Slots of a fixed response cut at 0x1E: declarations, names and characters.
        # A few hundred bytes hold every such problem.
        xml_agree) dict=fuzz/dict/xml_syntax.dict max_len=2048 ;;
        # SDK messages, XHE envelopes, receipts and delivery envelopes: the reference
        # messages are 2-20 KB; structure, not size, is what the readers must survive.
        sdk_message) dict=fuzz/dict/sdk.dict max_len=32768 ;;
        # Routing tables and configurations: TOML/JSON text. A few KiB hold every shape
        # of entry; longer tables mostly repeat entries and cost exec rate.
        *) dict=fuzz/dict/toml.dict max_len=16384 ;;
    esac
    echo "== $target: fuzzing for ${seconds}s (dictionary $dict, log: $logs/$target.log)"
    if cargo fuzz run -s none -a "$target" "$work" "fuzz/corpus/$target" -- \
        -max_total_time="$seconds" \
        -dict="$dict" \
        -max_len="$max_len" \
        -print_final_stats=1 >"$logs/$target.log" 2>&1; then
        result+=("ok")
    else
        result+=("FAILED (see log and fuzz/artifacts/$target/)")
        status=1
        tail -n 40 "$logs/$target.log" >&2
    fi
done

echo
printf '%-16s %14s %10s  %s\n' target total-execs exec/s result
i=0
for target in "${targets[@]}"; do
    log="$logs/$target.log"
    execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)"
    rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)"
    printf '%-16s %14s %10s  %s\n' "$target" "${execs:-?}" "${rate:-?}" "${result[$i]}"
    i=$((i + 1))
done
exit "$status"
