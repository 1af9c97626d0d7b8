#!/usr/bin/env bash
# Hole punching (node/node_punch*.c, node/punch_plan.h) between real daemons
# behind real nftables NAT, 20 ms one way on every Internet leg. One public
# node (bootstrap, relay, AutoNAT) and, in one lab, a pair of hosts for each
# case, run side by side:
#   a) eim <-> eim (each behind its own router): DIRECT probing gives a
#      direct path on both sides within one attempt (8 s, see below);
#   b) eim <-> edm: the birthday method gives a direct path (20 s);
#   c) edm <-> edm: the session stays relayed and carries data whole;
#   d) two hosts behind one router, which does not hairpin (checked with
#      udp_probe), eim and edm: they meet on the LAN (the peer's address in
#      knit peers is its LAN address);
#   e) a bench that is the dial itself (so it starts the moment the relayed
#      session is up) runs while the path goes direct, and arrives whole;
#   f) conntrack -F on the routers of pairs a and b in the middle of a bench:
#      nothing lost (hash_ok) and the path is direct again;
#   g) miniupnpd on a router: the daemon behind it maps its port, becomes
#      public and a host behind an edm NAT reaches it directly. Needs the
#      daemon's port mapping (knit daemon --no-port-mapping marks it): a
#      knit without it prints "PENDING g" and checks nothing of this part.
#      Every other daemon runs with --no-port-mapping.
# For each pair one line: outcome, time to first byte (dial start to the
# first knit ping reply) and time to direct path (knit peers --json polled
# every 100 ms from the dial start).
#
# The routers get an input firewall (new flows from wan0 to the router itself
# are dropped), as every home router has. Without it a probe that reaches a
# router before the router's own host has sent to that peer becomes a
# confirmed conntrack entry of a local flow; Linux masquerade then maps the
# host's packet to that peer to another port (the entry holds the reply
# tuple), so a birthday hit is remapped on the easy side and never arrives,
# and crossing DIRECT probes fail whenever one arrives first (lab_delay holds
# outgoing packets after conntrack has seen them and before it confirms
# them, which widens that window to 20 ms). With the drop the early probe's
# entry is never confirmed.
#
# Bounds. Set-up through the relay is ~0.2 s here (lookup, circuit, handshake
# at 80 ms round trip). DIRECT probes every 100 ms for 3 s and gives up 2 s
# later; the first crossing round should succeed, so 8 s allows one attempt
# and not its 5 s-delayed retry: a miss is a failure. The birthday attempt
# lasts 4.3 s (1024 probes at 250/s) + 2 s; one attempt succeeds with ~98 %,
# so 20 s allows set-up, a failed attempt, the retry 5 s later and a second
# attempt (~0.04 % flake).
set -eu
knit=$1
. "$(dirname "$0")/lab.sh"
lab_require_root
lab_require_nat
command -v python3 >/dev/null || lab_skip "python3 is not installed"
command -v conntrack >/dev/null ||
    lab_skip "conntrack is not installed (scripts/deps.sh test installs it)"
miniupnpd=$(command -v miniupnpd || echo /usr/sbin/miniupnpd)
[ -x "$miniupnpd" ] && "$miniupnpd" --version 2>&1 | grep -q nftables ||
    lab_skip "miniupnpd (nftables build) is not installed (scripts/deps.sh test)"
started=$SECONDS
# KNIT_LAB_KEEP=DIR keeps the daemons' logs (and the rest of the lab's
# directory) in DIR for a look after the run.
if [ -n "${KNIT_LAB_KEEP:-}" ]; then
    trap 'mkdir -p "$KNIT_LAB_KEEP" && cp -r "$LAB_TMP"/. "$KNIT_LAB_KEEP"/; lab_teardown' EXIT
fi
now_ms() { date +%s%3N; }

# --- the lab ---------------------------------------------------------------
lab_public pub 203.0.113.10
lab_public stun 203.0.113.30
ip -n "${LAB_PREFIX}stun" addr add 203.0.113.31/24 dev eth0
lab_router ra1 203.0.113.1 10.1.1 eim     # a: eim <-> eim
lab_router ra2 198.51.100.2 10.1.2 eim
lab_router rb1 203.0.113.3 10.2.1 eim     # b: eim <-> edm
lab_router rb2 198.51.100.4 10.2.2 edm
lab_router rc1 203.0.113.5 10.3.1 edm     # c: edm <-> edm
lab_router rc2 198.51.100.6 10.3.2 edm
lab_router rd 203.0.113.7 10.4.1 eim      # d: one eim router, two hosts
lab_router rs 198.51.100.8 10.4.2 edm     # d: one edm router, two hosts
lab_router re1 203.0.113.9 10.5.1 eim     # e: eim <-> eim, bench as dial
lab_router re2 198.51.100.10 10.5.2 eim
lab_router rg 203.0.113.11 10.6.1 eim     # g: miniupnpd
routers="ra1 ra2 rb1 rb2 rc1 rc2 rd rs re1 re2 rg"
lab_nat_host a1 ra1 2
lab_nat_host a2 ra2 2
lab_nat_host b1 rb1 2
lab_nat_host b2 rb2 2
lab_nat_host c1 rc1 2
lab_nat_host c2 rc2 2
lab_nat_host d1 rd 2
lab_nat_host d2 rd 3
lab_nat_host s1 rs 2
lab_nat_host s2 rs 3
lab_nat_host e1 re1 2
lab_nat_host e2 re2 2
lab_nat_host g1 rg 2
# Home routers (lab.sh): the input firewall above, and LAN-to-LAN
# forwarding, which the same-NAT pairs behind rd and rs need.
for r in $routers; do
    lab_home_router "$r"
done
# miniupnpd on rg checks with STUN (CHANGE-REQUEST) that unsolicited
# datagrams reach its WAN address, and disables forwarding if not: rg's
# firewall lets the lab's STUN server in.
lab_exec rg nft insert rule ip knitlab_fw input ip saddr '{ 203.0.113.30, 203.0.113.31 }' accept
lab_delay pub eth0 20
lab_delay stun eth0 20
for r in $routers; do
    lab_delay "$r" wan0 20
done

# --- d: do lab routers hairpin? ---------------------------------------------
# d2 maps 10.4.1.3:4600 by asking a reflector on pub; the reflector's own
# answer path gets in (the control), d1's datagram to the same public
# endpoint does not: no hairpinning.
lab_spawn pub "$LAB_TMP/reflect.log" "$LAB_UDP_PROBE" reflect \
    --bind 203.0.113.10:4700 --max 1 --seconds 10
lab_wait_for "$LAB_TMP/reflect.log" '^reflecting' 5
mapped=$(lab_probe d2 ask --bind 10.4.1.3:4600 --to 203.0.113.10:4700)
case "$mapped" in
"203.0.113.10:4700 203.0.113.7:4600 "*) ;;
*) lab_fail "d2 is not mapped to 203.0.113.7:4600 by rd: $mapped" ;;
esac
listens=0
# listen_d2 SENDER BIND: what d2's 10.4.1.3:4600 gets from SENDER at BIND
# sending to rd's 203.0.113.7:4600, in GOT.
listen_d2() {
    listens=$((listens + 1))
    local log="$LAB_TMP/hairpin-$listens.log"
    lab_spawn d2 "$log" "$LAB_UDP_PROBE" listen --bind 10.4.1.3:4600 --timeout-ms 1500
    lab_wait_for "$log" '^listening' 5
    for _ in 1 2 3; do
        lab_probe "$1" send --bind "$2" --to 203.0.113.7:4600
    done
    lab_wait_for "$log" '^(got|timeout)' 5
    GOT=$(grep -E '^(got|timeout)' "$log")
}
sleep 0.5 # the reflector exits after its one datagram, freeing 4700
listen_d2 pub 203.0.113.10:4700
case "$GOT" in
"got 203.0.113.10:4700") ;;
*) lab_fail "control: the mapped peer's datagram did not reach d2 ($GOT)" ;;
esac
# The control's second and third datagrams may still be in the delay line:
# let them land on the closed port before listening again.
sleep 1
listen_d2 d1 10.4.1.2:4601
[ "$GOT" = timeout ] || lab_fail "rd hairpins: d1 reached d2 through 203.0.113.7 ($GOT)"
echo "rd does not hairpin: d1 -> 203.0.113.7:4600 never reaches d2 (the mapped peer's does)"

# --- daemons -----------------------------------------------------------------
portmap_flag=()
have_portmap=0
if "$knit" daemon --help 2>&1 | grep -q -- --no-port-mapping; then
    portmap_flag=(--no-port-mapping)
    have_portmap=1
fi

daemon() {   # HOST LISTEN_IP [BOOTSTRAP [EXTRA...]]
    local host=$1 ip=$2 args=()
    [ $# -ge 3 ] && args=(--bootstrap "$3")
    [ $# -ge 4 ] && args+=("${@:4}")
    lab_spawn "$host" "$LAB_TMP/$host.log" "$knit" daemon --log-level debug \
        --data-dir "$LAB_TMP/$host" --listen "/ip4/$ip/udp/4001" "${args[@]}"
    lab_wait_for "$LAB_TMP/$host.log" '^running' 10
    DPID[$host]=$LAB_LAST_PID
}

declare -A DPID
daemon pub 203.0.113.10
pub_id=$("$knit" id --data-dir "$LAB_TMP/pub" | head -n 1)
boot=/ip4/203.0.113.10/udp/4001/p2p/$pub_id
declare -A IP ID
IP=([a1]=10.1.1.2 [a2]=10.1.2.2 [b1]=10.2.1.2 [b2]=10.2.2.2 [c1]=10.3.1.2
    [c2]=10.3.2.2 [d1]=10.4.1.2 [d2]=10.4.1.3 [s1]=10.4.2.2 [s2]=10.4.2.3
    [e1]=10.5.1.2 [e2]=10.5.2.2 [g1]=10.6.1.2)
hosts="a1 a2 b1 b2 c1 c2 d1 d2 s1 s2 e1 e2"

# g: the gateway first, so the daemon finds it when it starts.
lab_spawn stun "$LAB_TMP/stun.log" python3 "$(dirname "$0")/stun_server.py" \
    203.0.113.30 203.0.113.31 280
lab_wait_for "$LAB_TMP/stun.log" '^stun ready' 10
lab_exec rg nft add rule ip knitlab_nat forward ct status dnat accept
lab_exec rg nft -f - <<'NFT'
table inet miniupnpd {
    chain forward {
        type filter hook forward priority filter - 10; policy accept;
        jump miniupnpd
    }
    chain miniupnpd {
    }
    chain prerouting {
        type nat hook prerouting priority dstnat; policy accept;
        jump prerouting_miniupnpd
    }
    chain postrouting {
        type nat hook postrouting priority srcnat; policy accept;
        jump postrouting_miniupnpd
    }
    chain prerouting_miniupnpd {
    }
    chain postrouting_miniupnpd {
    }
}
NFT
cat >"$LAB_TMP/miniupnpd.conf" <<CONF
ext_ifname=wan0
listening_ip=lan0
port=0
enable_upnp=yes
enable_natpmp=yes
secure_mode=yes
ipv6_disable=yes
system_uptime=no
ext_perform_stun=yes
ext_stun_host=203.0.113.30
ext_stun_port=3478
upnp_table_name=miniupnpd
upnp_nat_table_name=miniupnpd
lease_file=$LAB_TMP/miniupnpd.leases
uuid=3d3cec3a-8cf0-11e0-98ee-001a6bd2d07c
allow 1024-65535 10.6.1.0/24 1024-65535
deny 0-65535 0.0.0.0/0 0-65535
CONF
lab_spawn rg "$LAB_TMP/miniupnpd.log" "$miniupnpd" -d -f "$LAB_TMP/miniupnpd.conf" \
    -P "$LAB_TMP/miniupnpd.pid"
lab_wait_for "$LAB_TMP/miniupnpd.log" 'Listening for NAT-PMP/PCP traffic' 15

for h in $hosts; do
    daemon "$h" "${IP[$h]}" "$boot" "${portmap_flag[@]}"
done
daemon g1 "${IP[g1]}" "$boot"
for h in $hosts g1; do
    ID[$h]=$("$knit" id --data-dir "$LAB_TMP/$h" | head -n 1)
done

# --- reading the daemons ------------------------------------------------------
# json HOST EXPR: EXPR over the host's status (s).
json() {
    "$knit" status --json --data-dir "$LAB_TMP/$1" |
        python3 -c "import json, sys; s = json.load(sys.stdin); print($2)"
}

# path_of HOST PEER_ID: "direct", "relayed" or nothing (no session), fast
# enough to poll every 100 ms (no python).
path_of() {
    "$knit" peers --json --data-dir "$LAB_TMP/$1" 2>/dev/null | tr -d '\n' |
        sed 's/"peer_id"/\n"peer_id"/g' | grep -F "\"$2\"" |
        grep -o '"path": "[a-z]*"' | head -n 1 | cut -d'"' -f4 || true
}

# peer HOST PEER_ID KEY: a key of the peer's entry in knit peers --json.
peer() {
    "$knit" peers --json --data-dir "$LAB_TMP/$1" | python3 -c "
import json, sys
entry = [p for p in json.load(sys.stdin) if p['peer_id'] == '$2']
print(entry[0].get('$3', '') if entry else '')"
}

# punch_info HOST PEER_ID: the peer's "punch" object and the node's
# "hole_punching" counters, where the daemon reports them (informational).
punch_info() {
    local p h
    p=$("$knit" peers --json --data-dir "$LAB_TMP/$1" | python3 -c "
import json, sys
entry = [p for p in json.load(sys.stdin) if p['peer_id'] == '$2']
print(json.dumps(entry[0]['punch']) if entry and 'punch' in entry[0] else '')" 2>/dev/null || true)
    h=$(json "$1" 'json.dumps(s["hole_punching"]) if "hole_punching" in s else ""' 2>/dev/null || true)
    [ -z "$p$h" ] || echo "  $1: punch ${p:--} hole_punching ${h:--}"
}

dump_logs() {
    for h in "$@"; do
        echo "--- $h.log (punch, path, session lines):"
        grep -E 'punch|path|session|relay|warn|error' "$LAB_TMP/$h.log" | tail -n 40 || true
    done
}

# peers_snapshot A B: how A and B see each other, and how the relay (pub)
# sees them, from knit peers --json.
peers_snapshot() {
    local x=$1 y=$2
    echo "  $x -> $y: $("$knit" peers --json --data-dir "$LAB_TMP/$x" | tr -d '\n' |
        sed 's/"peer_id"/\n"peer_id"/g' | grep -F "${ID[$y]}")"
    echo "  $y -> $x: $("$knit" peers --json --data-dir "$LAB_TMP/$y" | tr -d '\n' |
        sed 's/"peer_id"/\n"peer_id"/g' | grep -F "${ID[$x]}")"
    for h in "$x" "$y"; do
        echo "  pub -> $h: $("$knit" peers --json --data-dir "$LAB_TMP/pub" | tr -d '\n' |
            sed 's/"peer_id"/\n"peer_id"/g' | grep -F "${ID[$h]}")"
    done
}

# conntrack_snapshot A B: the UDP flows A's and B's routers track for them.
conntrack_snapshot() {
    local h r
    for h in "$@"; do
        r=r${h:0:1}${h:1:1}   # a1 -> ra1: each pair host has a router of its own
        echo "  $r flows of $h: $(lab_exec "$r" conntrack -L -p udp -s "${IP[$h]}" 2>/dev/null |
            sed 's/ mark=0.*//; s/udp *17 //' | tr '\n' ';')"
    done
}

# wait_until SECONDS DESCRIPTION CMD...: poll CMD every 0.5 s.
wait_until() {
    local tries=$(($1 * 2)) what=$2
    shift 2
    while [ "$tries" -gt 0 ]; do
        "$@" && return 0
        sleep 0.5
        tries=$((tries - 1))
    done
    lab_fail "timed out waiting for $what"
}

# ready HOST: a reservation on the relay and a mapping verdict, which the
# punch plan is made from.
ready() {
    [ "$(json "$1" 'len(s["relays"]) >= 1 and s["nat"]["mapping"] != "unknown"' 2>/dev/null)" = True ]
}
for h in $hosts; do
    wait_until 60 "$h: a relay reservation and a NAT mapping verdict" ready "$h"
done
for h in a1 a2 b1 e1 e2; do
    m=$(json "$h" 's["nat"]["mapping"]')
    [ "$m" = endpoint-independent ] || lab_fail "$h behind an eim router is classified $m"
done
for h in b2 c1 c2; do
    m=$(json "$h" 's["nat"]["mapping"]')
    [ "$m" = address-and-port-dependent ] || lab_fail "$h behind an edm router is classified $m"
done
echo "lab up, every host classified and holding a reservation, at $((SECONDS - started)) s"

# --- a, b, c, d: dial, first byte, direct path --------------------------------
# dial NAME FROM TO WATCH_S: from the dial start, knit ping -c 1 FROM -> TO
# in the background (its end time is the first byte) and knit peers on FROM
# every 100 ms for WATCH_S s or until the path is direct; writes
# "TTFB_MS DIRECT_MS SEEN" to $LAB_TMP/NAME.res (DIRECT_MS "-" if never,
# SEEN every path seen, in order, once each).
dial() {
    local name=$1 from=$2 to=$3 watch=$4 t0 iters path seen="" direct=- ttfb=-
    t0=$(now_ms)
    ( if timeout 60 "$knit" ping -c 1 --json --data-dir "$LAB_TMP/$from" \
            "/p2p/${ID[$to]}" >"$LAB_TMP/$name.ping" 2>&1; then
          echo $(($(now_ms) - t0)) >"$LAB_TMP/$name.ttfb"
      else
          echo failed >"$LAB_TMP/$name.ttfb"
      fi ) &
    iters=$((watch * 10))
    while [ "$iters" -gt 0 ]; do
        path=$(path_of "$from" "${ID[$to]}")
        case " $seen " in *" $path "*) ;; *) [ -n "$path" ] && seen="$seen $path" ;; esac
        if [ "$path" = direct ] && [ "$direct" = - ]; then
            direct=$(($(now_ms) - t0))
            [ -s "$LAB_TMP/$name.ttfb" ] && break
        fi
        [ "$direct" != - ] && [ -s "$LAB_TMP/$name.ttfb" ] && break
        sleep 0.1
        iters=$((iters - 1))
    done
    for _ in $(seq 1 100); do
        [ -s "$LAB_TMP/$name.ttfb" ] && break
        sleep 0.1
    done
    [ -s "$LAB_TMP/$name.ttfb" ] && ttfb=$(cat "$LAB_TMP/$name.ttfb")
    echo "$ttfb $direct ${seen# }" >"$LAB_TMP/$name.res"
}

dial a a1 a2 8 &
pa=$!
dial b b1 b2 20 &
pb=$!
dial c c1 c2 8 &
pc=$!
dial d d1 d2 8 &
pd=$!
dial s s1 s2 8 &
ps=$!
wait $pa $pb $pc $pd $ps || true

fails=""
lines=""
# check_pair NAME FROM TO LABEL WANT BOUND_MS: the verdict and the line.
check_pair() {
    local name=$1 from=$2 to=$3 label=$4 want=$5 bound=$6 ttfb direct seen back outcome
    [ -s "$LAB_TMP/$name.res" ] || {
        fails="$fails $name"
        echo "FAIL $name: the dial's watcher left no result"
        return 0
    }
    read -r ttfb direct seen <"$LAB_TMP/$name.res"
    if [ "$ttfb" = failed ] || [ "$ttfb" = - ]; then
        cat "$LAB_TMP/$name.ping"
        fails="$fails $name"
        echo "FAIL $name: $from could not ping $to"
        return 0
    fi
    back=$(path_of "$to" "${ID[$from]}")
    outcome=$(path_of "$from" "${ID[$to]}")
    lines="$lines
pair $label: $outcome, first byte $ttfb ms, direct path $( [ "$direct" = - ] && echo never || echo "$direct ms") (paths seen: $seen; bound $bound ms)"
    if [ "$want" = direct ]; then
        if [ "$direct" = - ] || [ "$direct" -gt "$bound" ] || [ "$outcome" != direct ]; then
            fails="$fails $name"
            echo "FAIL $name: $from -> $to not direct within $bound ms (seen: $seen, now $outcome)"
            dump_logs "$from" "$to"
        elif [ "$back" != direct ]; then
            fails="$fails $name"
            echo "FAIL $name: $from sees a direct path but $to sees '$back'"
            dump_logs "$from" "$to"
        fi
    elif [ "$outcome" != relayed ] || [ "$back" != relayed ] || [ "$direct" != - ]; then
        fails="$fails $name"
        echo "FAIL $name: expected to stay relayed, saw: $seen (now $outcome / $back)"
        dump_logs "$from" "$to"
    fi
}
check_pair a a1 a2 "a eim<->eim" direct 8000
check_pair b b1 b2 "b eim<->edm" direct 20000
check_pair c c1 c2 "c edm<->edm" relayed 8000
check_pair d d1 d2 "d same eim NAT (no hairpin)" direct 8000
check_pair s s1 s2 "d same edm NAT (no hairpin)" direct 8000

# d: they met on the LAN, each sees the other's LAN address.
for pair in "d1 d2" "d2 d1" "s1 s2" "s2 s1"; do
    set -- $pair
    addr=$(peer "$1" "${ID[$2]}" addr)
    [ "$addr" = "/ip4/${IP[$2]}/udp/4001" ] || {
        fails="$fails d-lan"
        echo "FAIL d: $1 reaches $2 at '$addr', not its LAN address ${IP[$2]}:4001"
    }
done

# c: the attempt is over (LAN_ONLY probes 3 s, settles 2 s); still relayed,
# and the relayed session carries 4 MiB whole.
sleep 3
for h in c1 c2; do
    p=$(path_of "$h" "${ID[$([ $h = c1 ] && echo c2 || echo c1)]}")
    [ "$p" = relayed ] || { fails="$fails c"; echo "FAIL c: $h's path is '$p', not relayed"; }
done
out=$(timeout 60 "$knit" bench --data-dir "$LAB_TMP/c1" -b 4M --json "/p2p/${ID[c2]}") ||
    { fails="$fails c-bench"; echo "FAIL c: bench through the relay: $out"; }
echo "c: bench c1 -> c2 through the relay: $out"
echo "$out" | grep -q '"hash_ok": true' || fails="$fails c-hash"
echo "c: $(grep -h 'punch:' "$LAB_TMP/c1.log" "$LAB_TMP/c2.log" | head -n 2 | tr '\n' ' ')"

# --- e: a bench that spans the upgrade -----------------------------------------
# watch_path HOST PEER_ID PID OUT: "time_ms path" lines (wall clock) every
# 100 ms while PID lives, then on until the path is direct (at most 30 s
# more; 90 s in all).
watch_path() {
    local iters=900 after=300 path
    while [ "$iters" -gt 0 ] && [ "$after" -gt 0 ]; do
        path=$(path_of "$1" "$2")
        echo "$(now_ms) $path" >>"$4"
        if ! kill -0 "$3" 2>/dev/null; then
            [ "$path" = direct ] && break
            after=$((after - 1))
        fi
        sleep 0.1
        iters=$((iters - 1))
    done
}
# paths_seen FILE T0: each change of path, as "path@ms" from T0.
paths_seen() {
    awk -v t0="$2" '$2 != "" && $2 != last {
        printf "%s%s@%dms", sep, $2, $1 - t0; sep = " "; last = $2 }' "$1"
}
# bench_bg NAME FROM TO BYTES SECONDS: knit bench in the background, pid in
# BENCH_PID, start time in BENCH_T0.
bench_bg() {
    BENCH_T0=$(now_ms)
    ( rc=0
      timeout "$5" "$knit" bench --data-dir "$LAB_TMP/$2" -b "$4" --json \
          "/p2p/${ID[$3]}" >"$LAB_TMP/$1.bench" 2>&1 || rc=$?
      echo "$rc $(now_ms)" >"$LAB_TMP/$1.done" ) &
    BENCH_PID=$!
}

bench_bg e e1 e2 8M 60
epid=$BENCH_PID
e_t0=$BENCH_T0
watch_path e1 "${ID[e2]}" "$epid" "$LAB_TMP/e.paths"
wait "$epid" || true
read -r e_rc e_end <"$LAB_TMP/e.done"
e_out=$(cat "$LAB_TMP/e.bench")
e_seen=$(paths_seen "$LAB_TMP/e.paths" "$e_t0")
echo "e: bench e1 -> e2 as the dial: $e_out"
echo "e: paths from the dial on: $e_seen; bench done at $((e_end - e_t0)) ms"
if [ "$e_rc" != 0 ] || ! echo "$e_out" | grep -q '"hash_ok": true'; then
    fails="$fails e-hash"
    echo "FAIL e: the bench across the upgrade did not arrive whole"
fi
# Relayed first, direct before the bench ended, direct at the end.
e_direct=$(awk -v t0="$e_t0" '$2 == "direct" { print $1 - t0; exit }' "$LAB_TMP/e.paths")
case "$e_seen" in
relayed@*direct@*) ;;
*) fails="$fails e-upgrade"
   echo "FAIL e: the path did not go from relayed to direct ($e_seen)"
   dump_logs e1 e2 ;;
esac
if [ -z "$e_direct" ] || [ "$e_direct" -ge $((e_end - e_t0)) ]; then
    fails="$fails e-span"
    echo "FAIL e: the bench did not span the upgrade (direct at ${e_direct:-never} ms)"
fi
[ "$(path_of e1 "${ID[e2]}")" = direct ] && [ "$(path_of e2 "${ID[e1]}")" = direct ] ||
    { fails="$fails e-direct"; echo "FAIL e: not direct on both sides afterwards"; }
lines="$lines
e: 8 MiB bench as the dial, relayed to direct at $e_direct ms, done at $((e_end - e_t0)) ms, hash_ok: $(echo "$e_out" | grep -q '"hash_ok": true' && echo true || echo false)"

# --- f: conntrack -F on the routers mid-transfer ---------------------------------
# Pair a (both eim routers flushed) and pair b (its edm router flushed),
# each while a 32 MiB bench runs; each must arrive whole and the path be
# direct again on both sides. A bench that outlives 30 s has failed.
bench_bg fa a1 a2 32M 30
fapid=$BENCH_PID
bench_bg fb b1 b2 32M 30
fbpid=$BENCH_PID
( watch_path a1 "${ID[a2]}" "$fapid" "$LAB_TMP/fa.paths" ) &
wa=$!
( watch_path b1 "${ID[b2]}" "$fbpid" "$LAB_TMP/fb.paths" ) &
wb=$!
sleep 1.5
kill -0 "$fapid" 2>/dev/null && kill -0 "$fbpid" 2>/dev/null ||
    echo "f: WARNING: a bench ended before the flush"
flush_at=$(now_ms)
for r in ra1 ra2 rb2; do
    lab_exec "$r" conntrack -F 2>/dev/null
done
# 5 s on, a bench still running shows how the two ends and the relay see
# each other, and the edm router's mapping towards the relay.
sleep 5
for f in fa fb; do
    case $f in fa) pid=$fapid x=a1 y=a2 ;; fb) pid=$fbpid x=b1 y=b2 ;; esac
    if kill -0 "$pid" 2>/dev/null; then
        echo "f: $f still running 5 s after the flush:"
        peers_snapshot "$x" "$y"
        conntrack_snapshot "$x" "$y"
    fi
done
wait "$fapid" "$fbpid" "$wa" "$wb" || true
for f in fa fb; do
    read -r rc end <"$LAB_TMP/$f.done"
    out=$(cat "$LAB_TMP/$f.bench")
    seen=$(paths_seen "$LAB_TMP/$f.paths" "$flush_at")
    # Direct again: when the last run of direct polls after the flush
    # began, if a poll after the flush was not direct and the last one is;
    # "stayed-direct" when every poll after the flush was direct.
    again=$(awk -v t0="$flush_at" '$1 >= t0 {
            if ($2 != "direct") { left = 1; since = "" }
            else if (left && since == "") since = $1 - t0
            last = $2 }
        END { if (!left) print "stayed-direct"; else if (last == "direct") print since; else print "never" }' \
        "$LAB_TMP/$f.paths")
    echo "f: bench $f across the flush: $out"
    echo "f: $f paths (ms from the flush): $seen"
    if [ "$rc" != 0 ] || ! echo "$out" | grep -q '"hash_ok": true'; then
        fails="$fails $f-hash"
        echo "FAIL f: $f did not arrive whole (exit $rc)"
    fi
    case $f in fa) x=a1 y=a2 ;; fb) x=b1 y=b2 ;; esac
    if [ "$(path_of "$x" "${ID[$y]}")" != direct ] || [ "$(path_of "$y" "${ID[$x]}")" != direct ]; then
        fails="$fails $f-direct"
        echo "FAIL f: $x <-> $y not direct on both sides after the flush"
        peers_snapshot "$x" "$y"
        conntrack_snapshot "$x" "$y"
        dump_logs "$x" "$y"
    fi
    lines="$lines
f: $f ($x<->$y) 32 MiB bench, flush at +1.5 s: $([ "$rc" = 0 ] && echo "done $((end - flush_at)) ms after the flush" || echo "FAILED"), direct again: $(case "${again:-never}" in [0-9]*) echo "$again ms after the flush" ;; *) echo "${again:-never}" ;; esac)"
done

# --- g: miniupnpd -------------------------------------------------------------
if [ "$have_portmap" = 1 ]; then
    # pm EXPR: EXPR over g1's status "port_mapping" (m).
    pm() {
        "$knit" status --json --data-dir "$LAB_TMP/g1" |
            python3 -c "import json, sys; m = json.load(sys.stdin)['port_mapping']; print($1)"
    }
    g_mapped() {
        [ "$(pm 'm["state"] == "mapped" and m["external"].startswith("/ip4/203.0.113.11/udp/")' 2>/dev/null)" = True ]
    }
    g_public() { [ "$(json g1 's["reachability"]' 2>/dev/null)" = public ]; }
    wait_until 30 "g1's status to show a port mapping on 203.0.113.11" g_mapped
    g_ext=$(pm 'm["external"]')
    echo "g: port_mapping $(json g1 'json.dumps(s["port_mapping"])')"
    # AutoNAT settles after three agreeing rounds, 30 s +- 25 % apart.
    left=$((200 - (SECONDS - started)))
    wait_until $((left > 30 ? left : 30)) "g1 to be found public" g_public
    echo "g: g1 public at $((SECONDS - started)) s: $(json g1 'json.dumps(s["nat"])')"
    # The record g1 signs now (public, no relay) must reach the DHT before
    # a dial by peer ID can find the mapping: the one published while g1
    # was private lists only its LAN address and a relay it has left.
    g_found() {
        timeout 20 "$knit" find --json --data-dir "$LAB_TMP/c1" "${ID[g1]}" 2>/dev/null |
            grep -qF "\"$g_ext/p2p/${ID[g1]}\""
    }
    wait_until 60 "c1 to find g1's record with $g_ext in the DHT" g_found
    echo "g: c1 finds $g_ext in g1's record at $((SECONDS - started)) s:" \
        "$(timeout 20 "$knit" find --json --data-dir "$LAB_TMP/c1" "${ID[g1]}")"
    out=$(timeout 60 "$knit" ping --data-dir "$LAB_TMP/c1" -c 2 -i 200 --json "/p2p/${ID[g1]}") ||
        lab_fail "g: c1 (edm) could not ping g1: $out"
    p=$(path_of c1 "${ID[g1]}")
    a=$(peer c1 "${ID[g1]}" addr)
    echo "g: c1 (behind edm) -> g1 (mapped by miniupnpd): $p at $a, $out"
    [ "$p" = direct ] || { fails="$fails g"; echo "FAIL g: c1 reaches g1 $p, not direct"; }
    [ "$a" = "$g_ext" ] || { fails="$fails g-addr"
        echo "FAIL g: c1 reaches g1 at $a, not at its mapping $g_ext"; }
    lines="$lines
g: g1 behind eim + miniupnpd: mapped $g_ext, public, c1 (edm) reaches it $p at $a"
else
    echo "PENDING g: knit daemon has no --no-port-mapping yet (port mapping is not" \
        "wired into the daemon): the mapping, public reachability and the edm" \
        "host's direct dial to g1 are not checked. g1's reachability now:" \
        "$(json g1 's["reachability"]' 2>/dev/null || echo '?')"
fi

# --- the figures -----------------------------------------------------------------
echo "$lines" | sed '/^$/d'
for h in a1 b1 c1 d1 s1 e1; do
    case $h in a1) o=a2 ;; b1) o=b2 ;; c1) o=c2 ;; d1) o=d2 ;; s1) o=s2 ;; e1) o=e2 ;; esac
    punch_info "$h" "${ID[$o]}"
done
grep -h 'punch: ' "$LAB_TMP"/[a-s][12].log | sed 's/^/  log: /' | head -n 30
# Every daemon is still there, and stops cleanly on SIGTERM (a sanitizer
# build reports leaks and memory errors in the log as it exits).
for h in pub $hosts g1; do
    if ! kill -0 "${DPID[$h]}" 2>/dev/null; then
        fails="$fails crash-$h"
        echo "FAIL: the daemon of $h is gone"
        tail -n 20 "$LAB_TMP/$h.log"
        continue
    fi
    lab_stop "${DPID[$h]}" 10
    [ "$LAB_STATUS" -eq 0 ] || { fails="$fails exit-$h"; echo "FAIL: $h's daemon exited $LAB_STATUS"; }
done
if grep -l -E 'Sanitizer|runtime error' "$LAB_TMP"/*.log; then
    grep -h -A30 -E 'Sanitizer|runtime error' "$LAB_TMP"/*.log | head -n 80
    lab_fail "a daemon reported a sanitizer error"
fi
[ -z "$fails" ] || lab_fail "failed:$fails"
echo "PASS: punch lab in $((SECONDS - started)) s"
