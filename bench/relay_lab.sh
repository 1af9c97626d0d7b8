#!/usr/bin/env bash
# Throughput and round trip through a circuit relay against a direct path,
# side by side in one run, between real daemons in the NAT lab (root):
#   direct:  pub2 -> pub, both public;
#   relayed: h2 -> h1, behind eim and edm routers, through pub.
# Each measurement is taken RUNS times and the median is printed.
#   bench/relay_lab.sh build/knit build/tests/natlab_delayline \
#       build/tests/natlab_udp_probe [RUNS] [BYTES]
# Traffic stays inside the lab's namespaces; the lab is always torn down.
set -eu
knit=$1
runs=${4:-5}
bytes=${5:-32M}
. "$(dirname "$0")/../tests/natlab/lab.sh"
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
    lab_spawn "$host" "$LAB_TMP/$host.log" "$knit" daemon --log-level warn \
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
h1_id=$("$knit" id --data-dir "$LAB_TMP/h1" | head -n 1)

# Reservations first: h1 must be reachable through a relay.
for _ in $(seq 120); do
    n=$("$knit" status --json --data-dir "$LAB_TMP/h1" |
        python3 -c 'import json, sys; print(len(json.load(sys.stdin)["relays"]))')
    [ "$n" -ge 1 ] && break
    sleep 0.5
done
[ "$n" -ge 1 ] || lab_fail "h1 got no relay reservation"

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

measure() {   # LABEL FROM TARGET
    local label=$1 from=$2 target=$3 mbit="" rtt=""
    for _ in $(seq "$runs"); do
        out=$(timeout 120 "$knit" bench --data-dir "$LAB_TMP/$from" -b "$bytes" \
            --json "$target") || lab_fail "$label bench failed: $out"
        mbit="$mbit $(echo "$out" | python3 -c 'import json, sys; print(json.load(sys.stdin)["mbit_per_s"])')"
        out=$(timeout 60 "$knit" ping --data-dir "$LAB_TMP/$from" -c 20 -i 20 "$target") ||
            lab_fail "$label ping failed: $out"
        rtt="$rtt $(echo "$out" | sed -n 's,.*= [0-9.]*/\([0-9.]*\)/.*,\1,p')"
    done
    m=$(echo "$mbit" | tr ' ' '\n' | grep . | median)
    r=$(echo "$rtt" | tr ' ' '\n' | grep . | median)
    printf '%-8s bench %s x%s: median %s Mbit/s; ping avg rtt median %s ms (runs:%s)\n' \
        "$label" "$bytes" "$runs" "$m" "$r" "$mbit"
}

measure direct pub2 "/p2p/$pub_id"
measure relayed h2 "/p2p/$h1_id"
path=$("$knit" peers --json --data-dir "$LAB_TMP/h2" | python3 -c "
import json, sys
print([p['path'] for p in json.load(sys.stdin) if p['peer_id'] == '$h1_id'][0])")
[ "$path" = relayed ] || lab_fail "h2 -> h1 went $path, not through the relay"
