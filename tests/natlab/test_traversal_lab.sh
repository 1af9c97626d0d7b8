#!/usr/bin/env bash
# identify, AutoNAT and circuit relay between real daemons behind real
# nftables NAT: the small deployment of one public node (bootstrap, relay,
# AutoNAT server) and hosts behind each kind of router.
#   - a host behind an eim router learns its router's address and port, an
#     endpoint-independent mapping, address-and-port-dependent filtering
#     (Linux conntrack lets in only the flows it saw go out) and that it is
#     private;
#   - a host behind an edm router (masquerade fully-random) learns an
#     address-and-port-dependent mapping and that it is private;
#   - a second public host is found public;
#   - the two NATed hosts reach each other by bare peer ID through the
#     public node's relay, and streams carry data both ways (ping, bench).
set -eu
knit=$1
. "$(dirname "$0")/lab.sh"
lab_require_root
lab_require_nat

lab_public pub 203.0.113.10
lab_public pub2 198.51.100.20
lab_router r1 203.0.113.1 10.1.1 eim
lab_router r2 198.51.100.2 10.2.2 edm
lab_nat_host h1 r1 2
lab_nat_host h2 r2 2

daemon() {   # HOST LISTEN_IP [BOOTSTRAP]
    local host=$1 ip=$2 args=()
    [ $# -ge 3 ] && args=(--bootstrap "$3")
    lab_spawn "$host" "$LAB_TMP/$host.log" "$knit" daemon \
        --data-dir "$LAB_TMP/$host" --listen "/ip4/$ip/udp/4001" \
        --no-port-mapping "${args[@]}"
    lab_wait_for "$LAB_TMP/$host.log" '^running' 10
}

daemon pub 203.0.113.10
pub_id=$("$knit" id --data-dir "$LAB_TMP/pub" | head -n 1)
boot=/ip4/203.0.113.10/udp/4001/p2p/$pub_id
daemon pub2 198.51.100.20 "$boot"
daemon h1 10.1.1.2 "$boot"
daemon h2 10.2.2.2 "$boot"

status() {   # HOST: knit status --json of its daemon
    "$knit" status --json --data-dir "$LAB_TMP/$1"
}

# json HOST EXPR: a value out of the host's status (python3 reads it).
json() {
    status "$1" | python3 -c "import json, sys; s = json.load(sys.stdin); print($2)"
}

# wait_status HOST EXPR WANT SECONDS: poll until EXPR gives WANT. AutoNAT
# settles after three agreeing answers, one round every 30 s or so.
wait_status() {
    local tries=$(($4 * 2)) got=""
    while [ "$tries" -gt 0 ]; do
        got=$(json "$1" "$2" 2>/dev/null || true)
        [ "$got" = "$3" ] && return 0
        sleep 0.5
        tries=$((tries - 1))
    done
    echo "--- $1 status:"
    status "$1" || true
    lab_fail "$1: $2 is '$got', not '$3' after $4 s"
}

wait_status h1 's["reachability"]' private 180
wait_status h2 's["reachability"]' private 180
wait_status pub2 's["reachability"]' public 180
wait_status h1 's["nat"]["mapping"]' endpoint-independent 60
wait_status h1 's["nat"]["filtering"]' address-and-port-dependent 60
wait_status h2 's["nat"]["mapping"]' address-and-port-dependent 60
# h1's observed address is r1's public address (masquerade keeps the port).
wait_status h1 's["observed_addrs"][0]["addr"]' /ip4/203.0.113.1/udp/4001 30
wait_status h2 's["observed_addrs"][0]["addr"].split("/")[2]' 198.51.100.2 30
# Both hold reservations on the two public nodes, as they keep two.
wait_status h1 'len(s["relays"])' 2 60
wait_status h2 'len(s["relays"])' 2 60
echo "h1: $(status h1)"
echo "h2: $(status h2)"

h2_id=$("$knit" id --data-dir "$LAB_TMP/h2" | head -n 1)
h1_id=$("$knit" id --data-dir "$LAB_TMP/h1" | head -n 1)
out=$(timeout 60 "$knit" ping --data-dir "$LAB_TMP/h1" -c 3 -i 200 "/p2p/$h2_id") ||
    lab_fail "h1 could not ping h2 by peer ID: $out"
echo "$out"
echo "$out" | grep -q '^3 sent, 3 received, 0% lost' || lab_fail "ping lost echoes: $out"
path=$("$knit" peers --json --data-dir "$LAB_TMP/h1" | python3 -c "
import json, sys
peers = json.load(sys.stdin)
print([p['path'] for p in peers if p['peer_id'] == '$h2_id'][0])")
[ "$path" = relayed ] || lab_fail "h1's path to h2 is $path, not relayed"
out=$(timeout 120 "$knit" bench --data-dir "$LAB_TMP/h2" -b 4M --json "/p2p/$h1_id") ||
    lab_fail "h2 could not bench h1 by peer ID: $out"
echo "bench h2 -> h1 through the relay: $out"
echo "$out" | grep -q '"bytes": 4194304' || lab_fail "bench count wrong: $out"
echo "$out" | grep -q '"hash_ok": true' || lab_fail "bench data altered: $out"
echo "PASS: traversal lab"
