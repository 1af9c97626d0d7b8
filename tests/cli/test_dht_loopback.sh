#!/usr/bin/env bash
# 20 daemons on loopback (127.0.0.1 only), each on its own port, all
# bootstrapped from the first: from every node, `knit find` and `knit ping`
# by bare peer ID reach a random other node. Then the whole network stops
# and five nodes come back while the bootstrap node stays down: they rejoin
# from the routing table and records saved in their data directories.
set -u
knit=$1
N=20
. "$(dirname "$0")/lib.sh" dht
# Fixed ports, so that a restarted node is where its peers remember it.
base=$((30000 + ($$ % 1500) * 20))
node_pid=()
start_daemon() {   # start_daemon I [bootstrap multiaddr]
    local args=(--listen "/ip4/127.0.0.1/udp/$((base + $1))" --dht-mode server
                --log-level info)
    [ $# -ge 2 ] && args+=(--bootstrap "$2")
    start_knit_daemon "n$1" "${args[@]}"
    node_pid[$1]=$daemon_pid
}
stop_daemon() { stop_pid "${node_pid[$1]}"; }
table_size() {   # the number of peers in node I's routing table
    "$knit" dht table --json --data-dir "$tmp/n$1" 2>/dev/null |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["peers"])' 2>/dev/null || echo 0
}

start_daemon 0
boot=$("$knit" id --data-dir "$tmp/n0" | sed -n 2p)
for i in $(seq 1 $((N - 1))); do start_daemon "$i" "$boot"; done
declare -a ids addrs
for i in $(seq 0 $((N - 1))); do
    ids[$i]=$("$knit" id --data-dir "$tmp/n$i" | sed -n 1p)
    addrs[$i]=$("$knit" id --data-dir "$tmp/n$i" | sed -n 2p)
done

# Everyone has joined once every table holds a good share of the network.
joined=0
for _ in $(seq 150); do
    joined=1
    for i in $(seq 0 $((N - 1))); do
        [ "$(table_size "$i")" -ge 10 ] || { joined=0; break; }
    done
    [ $joined = 1 ] && break
    sleep 0.2
done
check "every routing table holds at least 10 peers" $((1 - joined))

out=$("$knit" dht table --json --data-dir "$tmp/n3")
python3 -c "
import json,sys
d=json.loads(sys.argv[1])
assert d['mode']=='server' and d['peers']>=10 and d['records']>=1
assert sum(b['peers'] for b in d['buckets'])==d['peers']
" "$out"
check "knit dht table --json ($out)" $?

RANDOM=7
hops_total=0
for i in $(seq 0 $((N - 1))); do
    j=$(( (i + 1 + RANDOM % (N - 1)) % N ))
    out=$(timeout 70 "$knit" find --json --data-dir "$tmp/n$i" "${ids[$j]}" 2>&1)
    rc=$?
    python3 -c "
import json,sys
d=json.loads(sys.argv[1])
assert d['peer_id']==sys.argv[2], 'peer'
assert sys.argv[3] in d['addrs'], 'address'
assert d['hops']>=1 and d['queries']>=1 and d['ms']>=0
" "$out" "${ids[$j]}" "${addrs[$j]}"
    check "node $i finds node $j by ID (rc $rc: $out)" $(( rc != 0 || $? != 0 ))
    hops_total=$((hops_total + $(python3 -c 'import json,sys; print(json.loads(sys.argv[1]).get("hops",0))' "$out" 2>/dev/null || echo 0)))
    out=$(timeout 70 "$knit" ping -c 1 --data-dir "$tmp/n$i" "${ids[$j]}" 2>&1)
    rc=$?
    grep -q '^1 sent, 1 received' <<<"$out"
    check "node $i pings node $j by bare ID (rc $rc: $out)" $(( rc != 0 || $? != 0 ))
done
echo "mean hops of the $N finds: $(python3 -c "print($hops_total/$N)")"

out=$("$knit" find --data-dir "$tmp/n2" "${ids[5]}")
[ "$(sed -n 1p <<<"$out")" = "${ids[5]}" ] && grep -q "^  ${addrs[5]}\$" <<<"$out" &&
    grep -Eq '^found in [0-9]+ hops?, [0-9]+ quer(y|ies), [0-9.]+ ms$' <<<"$out"
check "knit find text output ($out)" $?

out=$("$knit" peers --json --data-dir "$tmp/n2")
python3 -c "
import json,sys
d=json.loads(sys.argv[1])
assert len(d)>=1
for p in d:
    assert p['path']=='direct' and p['addr'].startswith('/ip4/127.0.0.1/udp/')
assert any(p['peer_id']==sys.argv[2] for p in d)
" "$out" "${ids[5]}"
check "knit peers --json lists node 5 ($out)" $?

# A key no daemon uses: its peer ID is in nobody's DHT.
unknown=$("$knit" keygen --output "$tmp/stranger.key" 2>/dev/null)
timeout 70 "$knit" find --data-dir "$tmp/n4" "$unknown" >/dev/null 2>"$tmp/err"
[ $? -eq 1 ] && grep -q "not found" "$tmp/err"
check "a peer nobody knows is not found, said plainly ($(cat "$tmp/err"))" $?

# The whole network stops (each saves its table and records); five nodes
# come back with only the bootstrap node, which stays down, to go by.
for i in $(seq 0 $((N - 1))); do stop_daemon "$i"; done
for i in 1 2 3 4 5; do
    [ -s "$tmp/n$i/dht.state" ]; check "node $i saved dht.state" $?
    start_daemon "$i" "$boot"
    grep -q "^restored [1-9][0-9]* DHT peers and [1-9][0-9]* records" "$tmp/n$i.log"
    check "node $i restored its table and records" $?
done
out=$(timeout 70 "$knit" find --json --data-dir "$tmp/n1" "${ids[3]}" 2>&1)
python3 -c "
import json,sys
d=json.loads(sys.argv[1]); assert sys.argv[2] in d['addrs']
" "$out" "${addrs[3]}"
check "after the restart node 1 finds node 3 without the bootstrap node ($out)" $?
out=$(timeout 70 "$knit" ping -c 1 --data-dir "$tmp/n4" "${ids[2]}" 2>&1)
grep -q '^1 sent, 1 received' <<<"$out"
check "after the restart node 4 pings node 2 by ID ($out)" $?

echo "$passes passed, $failures failed"
[ "$failures" -eq 0 ]
