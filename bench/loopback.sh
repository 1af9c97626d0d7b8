#!/usr/bin/env bash
# Throughput on loopback, side by side in one run: knit bench (Noise-
# encrypted, reliable streams over UDP, in user space) against iperf3 over
# kernel TCP (no encryption) as the ceiling of this machine.
#   bench/loopback.sh [BUILD_DIR] [RUNS] [BYTES]
# Prints one line per run and a markdown table of medians. Sends only to
# 127.0.0.1; every process it starts is stopped on exit.
set -eu
build=${1:-build}
runs=${2:-5}
bytes=${3:-256M}
knit=$build/knit
[ -x "$knit" ] || { echo "no $knit: run make first" >&2; exit 1; }
if ! command -v iperf3 >/dev/null; then
    if [ "$(id -u)" -eq 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q iperf3 >/dev/null
    else
        echo "iperf3 is missing: sudo apt-get install -y iperf3" >&2
        exit 1
    fi
fi
tmp=$(mktemp -d /tmp/knit-bench.XXXXXX)
pids=""
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

start() {
    "$knit" daemon --data-dir "$tmp/$1" --listen /ip4/127.0.0.1/udp/0 >"$tmp/$1.log" 2>&1 &
    pids="$pids $!"
    for _ in $(seq 100); do grep -q '^running' "$tmp/$1.log" && return; sleep 0.1; done
    echo "daemon $1 did not start" >&2; exit 1
}
start a
start b
target=$("$knit" id --data-dir "$tmp/b" | sed -n 2p)
iperf3 -s -1 -p 5299 -B 127.0.0.1 >/dev/null 2>&1 &   # warms nothing; replaced per run
pids="$pids $!"
sleep 0.3
kill %+ 2>/dev/null || true

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

knit_results=()
tcp_results=()
for i in $(seq "$runs"); do
    k=$("$knit" bench --data-dir "$tmp/a" -b "$bytes" --json "$target" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["mbit_per_s"])')
    knit_results+=("$k")
    iperf3 -s -1 -p 5299 -B 127.0.0.1 >/dev/null 2>&1 &
    srv=$!
    sleep 0.2
    t=$(iperf3 -c 127.0.0.1 -p 5299 -n "$bytes" -J |
        python3 -c 'import json,sys; print(round(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e6,1))')
    wait "$srv" || true
    tcp_results+=("$t")
    echo "run $i: knit $k Mbit/s, iperf3 TCP $t Mbit/s"
done
km=$(printf '%s\n' "${knit_results[@]}" | median)
tm=$(printf '%s\n' "${tcp_results[@]}" | median)
echo
echo "| transfer of $bytes on 127.0.0.1, median of $runs | Mbit/s |"
echo "|---|---|"
echo "| knit bench (Noise IK session, ChaCha20-Poly1305, NewReno) | $km |"
echo "| iperf3 over kernel TCP (no encryption) | $tm |"
echo "| ratio knit / TCP | $(python3 -c "print(round($km/$tm,3))") |"
