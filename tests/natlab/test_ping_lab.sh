#!/usr/bin/env bash
# Two daemons on two hosts of a lab link: knit ping and knit bench between
# them over real sockets and a real (namespaced) network.
set -eu
knit=$1
. "$(dirname "$0")/lab.sh"
lab_require_root

lab_host a
lab_host b
lab_link a 203.0.113.1/24 b 203.0.113.2/24

lab_spawn a "$LAB_TMP/a.log" "$knit" daemon --data-dir "$LAB_TMP/a" \
    --listen /ip4/203.0.113.1/udp/4001 --no-port-mapping
lab_spawn b "$LAB_TMP/b.log" "$knit" daemon --data-dir "$LAB_TMP/b" \
    --listen /ip4/203.0.113.2/udp/4001 --no-port-mapping
lab_wait_for "$LAB_TMP/a.log" '^running' 10
lab_wait_for "$LAB_TMP/b.log" '^running' 10
b_id=$("$knit" id --data-dir "$LAB_TMP/b" | head -n 1)
b_addr=/ip4/203.0.113.2/udp/4001/p2p/$b_id

out=$(timeout 30 "$knit" ping --data-dir "$LAB_TMP/a" -c 3 -i 20 "$b_addr") ||
    lab_fail "ping across the lab failed: $out"
echo "$out" | grep -q '^3 sent, 3 received, 0% lost' || lab_fail "ping lost echoes: $out"

out=$(timeout 120 "$knit" bench --data-dir "$LAB_TMP/a" -b 32M --json "$b_addr") ||
    lab_fail "bench across the lab failed: $out"
echo "$out" | grep -q '"bytes": 33554432' || lab_fail "bench count wrong: $out"
echo "$out" | grep -q '"hash_ok": true' || lab_fail "bench data altered: $out"
echo "bench: $out"
lab_wait_for "$LAB_TMP/b.log" 'session with .* is up' 5
echo "PASS: ping lab"
