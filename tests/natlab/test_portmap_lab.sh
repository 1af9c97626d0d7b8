#!/usr/bin/env bash
# Port mapping (node/portmap.h) against a real gateway: miniupnpd (the
# nftables build Debian ships as miniupnpd-nftables) on a lab NAT router,
# driven by tests/natlab/portmap_probe.c on a host behind it.
#   - PCP, NAT-PMP and UPnP-IGD, each forced alone, map the host's UDP port
#     to the same port on the router's public address; a datagram from a
#     public host to that endpoint reaches the host while the mapping lives
#     and no longer once the probe has stopped (and deleted it), nor before
#     it was made; the gateway's DNAT rule comes and goes with it;
#   - with every method allowed PCP is used, and a 10 s lease is renewed:
#     the mapping still carries datagrams 13 s after it was made;
#   - a gateway that stops answering: stop still ends within ~2 s (the
#     deletion is given up on), and a search reports each method's reason;
#   - a gateway without NAT-PMP/PCP: the client falls back to UPnP and says
#     why PCP and NAT-PMP failed;
#   - knit daemon on the host maps its port by PCP and shows it in `knit
#     status`, is reached through it, and deletes it when stopped (in
#     < 3 s); with --no-port-mapping it leaves the gateway alone.
# miniupnpd refuses to map when its WAN address looks private, and the
# lab's public addresses are documentation ranges it counts as such; a
# STUN server in the lab (stun_server.py, with CHANGE-REQUEST) lets it
# find its WAN address public and unfiltered, as on a real Internet link.
set -eu
. "$(dirname "$0")/lab.sh"
portmap_probe=${4:-}
lab_require_root
lab_require_nat
miniupnpd=$(command -v miniupnpd || echo /usr/sbin/miniupnpd)
[ -x "$miniupnpd" ] ||
    lab_skip "miniupnpd is not installed (scripts/deps.sh test installs miniupnpd-nftables)"
"$miniupnpd" --version 2>&1 | grep -q nftables ||
    lab_skip "$miniupnpd is not the nftables build (install miniupnpd-nftables)"
[ -x "$portmap_probe" ] || lab_skip "no portmap_probe given (argument 4)"
command -v python3 >/dev/null || lab_skip "python3 is not installed"
started=$SECONDS

lab_public stun 203.0.113.30
ip -n "${LAB_PREFIX}stun" addr add 203.0.113.31/24 dev eth0
lab_public pub 203.0.113.10
lab_router r1 203.0.113.1 10.1.1 eim
lab_nat_host h1 r1 2
lab_spawn stun "$LAB_TMP/stun.log" python3 "$(dirname "$0")/stun_server.py" \
    203.0.113.30 203.0.113.31 300
lab_wait_for "$LAB_TMP/stun.log" '^stun ready' 10

# The router's firewall passes forwarded flows its DNAT rules opened (as a
# home router's does); miniupnpd's own table holds those rules. Its
# nftables build creates no table itself (Debian's nft_init.sh would).
lab_exec r1 nft add rule ip knitlab_nat forward ct status dnat accept
lab_exec r1 nft -f - <<'NFT'
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

GATEWAY_PID=""
gateways=0
# start_gateway NATPMP(yes|no): miniupnpd on r1, config in the lab dir.
start_gateway() {
    gateways=$((gateways + 1))
    local conf="$LAB_TMP/miniupnpd-$gateways.conf" log="$LAB_TMP/miniupnpd-$gateways.log"
    cat >"$conf" <<CONF
ext_ifname=wan0
listening_ip=lan0
port=0
enable_upnp=yes
enable_natpmp=$1
secure_mode=yes
ipv6_disable=yes
system_uptime=no
min_lifetime=10
ext_perform_stun=yes
ext_stun_host=203.0.113.30
ext_stun_port=3478
upnp_table_name=miniupnpd
upnp_nat_table_name=miniupnpd
lease_file=$LAB_TMP/miniupnpd-$gateways.leases
uuid=3d3cec3a-8cf0-11e0-98ee-001a6bd2d07b
allow 1024-65535 10.1.1.0/24 1024-65535
deny 0-65535 0.0.0.0/0 0-65535
CONF
    lab_spawn r1 "$log" "$miniupnpd" -d -f "$conf" -P "$LAB_TMP/miniupnpd.pid"
    GATEWAY_PID=$LAB_LAST_PID
    GATEWAY_LOG=$log
    lab_wait_for "$log" 'Port forwarding is now enabled' 15
    if [ "$1" = yes ]; then
        lab_wait_for "$log" 'Listening for NAT-PMP/PCP traffic' 10
    else
        lab_wait_for "$log" 'HTTP listening on port' 10
    fi
}

# inbound PORT: three datagrams from pub (a new source port each run, so
# no earlier conntrack entry applies) to r1's public PORT; sets GOT to what
# a listener on h1's PORT got: "got 203.0.113.10:N" or "timeout".
inbounds=0
inbound() {
    inbounds=$((inbounds + 1))
    local log="$LAB_TMP/listen-$inbounds.log"
    lab_spawn h1 "$log" "$LAB_UDP_PROBE" listen --bind "10.1.1.2:$1" --timeout-ms 1500
    lab_wait_for "$log" '^listening' 5
    for _ in 1 2 3; do
        lab_probe pub send --bind 203.0.113.10:0 --to "203.0.113.1:$1"
    done
    lab_wait_for "$log" '^(got|timeout)' 5
    GOT=$(grep -E '^(got|timeout)' "$log")
}

# field LOG EVENT KEY: KEY of the last JSON line with "event": EVENT.
field() {
    python3 - "$@" <<'PY'
import json, sys
value = None
for line in open(sys.argv[1]):
    if line.startswith("{"):
        event = json.loads(line)
        if event.get("event") == sys.argv[2]:
            value = event.get(sys.argv[3])
print("" if value is None else value)
PY
}

# dnat_rules PORT: how many DNAT rules for PORT miniupnpd holds.
dnat_rules() {
    lab_exec r1 nft list chain inet miniupnpd prerouting_miniupnpd |
        grep -c "dport $1 .*dnat" || true
}

# map METHOD PORT [PROBE ARGS...]: starts the probe, waits for its mapping,
# checks it is r1's public address and PORT; the probe's pid in PROBE_PID,
# its log in PROBE_LOG.
probes=0
map() {
    local method=$1 port=$2
    shift 2
    probes=$((probes + 1))
    PROBE_LOG="$LAB_TMP/probe-$probes-$method.log"
    lab_spawn h1 "$PROBE_LOG" "$portmap_probe" --port "$port" --method "$method" \
        --timeout 20 "$@"
    PROBE_PID=$LAB_LAST_PID
    lab_wait_for "$PROBE_LOG" '"event":"(mapped|failed)"' 25
    grep -q '"event":"mapped"' "$PROBE_LOG" ||
        { cat "$PROBE_LOG"; lab_fail "$method: no mapping"; }
    [ "$(field "$PROBE_LOG" mapped ip)" = 203.0.113.1 ] ||
        lab_fail "$method: mapped to $(field "$PROBE_LOG" mapped external), not r1's 203.0.113.1"
    [ "$(field "$PROBE_LOG" mapped port)" = "$port" ] ||
        lab_fail "$method: mapped port $(field "$PROBE_LOG" mapped port), not the $port asked"
}

# unmap: stops the probe (SIGTERM), which must delete the mapping.
unmap() {
    lab_stop "$PROBE_PID" 10
    [ "$LAB_STATUS" -eq 0 ] || { cat "$PROBE_LOG"; lab_fail "probe exited $LAB_STATUS"; }
    grep -q '"event":"done"' "$PROBE_LOG" || lab_fail "probe never finished stopping"
    grep -q 'portmap: deleted the mapping' "$PROBE_LOG" ||
        { cat "$PROBE_LOG"; lab_fail "the mapping was not deleted"; }
}

start_gateway yes

# --- each method alone ---------------------------------------------------
port=4100
for method in pcp nat-pmp upnp; do
    port=$((port + 1))
    inbound $port
    [ "$GOT" = timeout ] || lab_fail "$method: port $port let a datagram in before any mapping: $GOT"
    map $method $port
    [ "$(field "$PROBE_LOG" mapped method)" = $method ] ||
        lab_fail "forced $method, mapped by $(field "$PROBE_LOG" mapped method)"
    [ "$(dnat_rules $port)" -ge 1 ] || lab_fail "$method: miniupnpd holds no DNAT rule for $port"
    inbound $port
    case "$GOT" in
    "got 203.0.113.10:"*) ;;
    *) lab_fail "$method: a datagram to 203.0.113.1:$port did not reach h1 ($GOT)" ;;
    esac
    unmap
    [ "$(dnat_rules $port)" -eq 0 ] || lab_fail "$method: DNAT rule for $port left after stop"
    inbound $port
    [ "$GOT" = timeout ] || lab_fail "$method: port $port still lets datagrams in after stop: $GOT"
    echo "$method: 203.0.113.1:$port -> 10.1.1.2:$port in $(field "$PROBE_LOG" mapped ms) ms," \
        "reachable, deleted in $(field "$PROBE_LOG" done ms) ms"
done

# --- all methods: PCP first; a 10 s lease lives on by renewal ------------
map all 4104 --lease 10 --hold 15
[ "$(field "$PROBE_LOG" mapped method)" = pcp ] ||
    lab_fail "with every method allowed, $(field "$PROBE_LOG" mapped method) was used, not pcp"
sleep 13
inbound 4104
case "$GOT" in
"got 203.0.113.10:"*) ;;
*) lab_fail "the 10 s lease was not kept alive: nothing came in after 13 s ($GOT)" ;;
esac
lab_wait_for "$PROBE_LOG" '"event":"done"' 10
renewals=$(field "$PROBE_LOG" stopping renewals)
[ "$renewals" -ge 2 ] || lab_fail "a 10 s lease held 15 s was renewed $renewals times, not >= 2"
grep -q 'portmap: deleted the mapping' "$PROBE_LOG" || lab_fail "renewed mapping not deleted"
echo "renewal: 10 s lease renewed $renewals times in 15 s, still reachable at 13 s"

# --- the daemon: knit status shows the mapping, stop deletes it ------------
# knit daemon on h1 maps its socket's port by PCP, says so in its log and
# in `knit status`; a datagram from the Internet to the mapping reaches it
# (the daemon drops it, logging the source at debug); SIGTERM deletes the
# mapping and the daemon exits 0 within 3 s. With --no-port-mapping the
# same daemon leaves the gateway alone.
knit=$LAB_KNIT
[ -x "$knit" ] || lab_fail "no knit binary given (argument 1)"
# pm_json DIR EXPR: a value of the daemon's status "port_mapping" (s).
pm_json() {
    "$knit" status --json --data-dir "$1" |
        python3 -c "import json, sys; s = json.load(sys.stdin)['port_mapping']; print($2)"
}
lab_spawn h1 "$LAB_TMP/daemon-pm.log" "$knit" daemon --data-dir "$LAB_TMP/kpm" \
    --listen /ip4/10.1.1.2/udp/4108 --log-level debug
DAEMON_PID=$LAB_LAST_PID
lab_wait_for "$LAB_TMP/daemon-pm.log" '^running' 10
grep -q '^port mapping: asking the gateway to forward UDP port 4108$' "$LAB_TMP/daemon-pm.log" ||
    lab_fail "the daemon did not say it asks for port 4108"
lab_wait_for "$LAB_TMP/daemon-pm.log" 'port mapping: /ip4/203\.0\.113\.1/udp/4108 \(pcp\) is offered' 20
state=$(pm_json "$LAB_TMP/kpm" 's["state"], s["method"], s["external"], s["lease_left_s"] > 0, s["next_try_s"]')
[ "$state" = "mapped pcp /ip4/203.0.113.1/udp/4108 True None" ] ||
    lab_fail "knit status --json port_mapping: $state"
"$knit" status --data-dir "$LAB_TMP/kpm" |
    grep -Eq '^port mapping: /ip4/203\.0\.113\.1/udp/4108 by pcp \(lease [0-9]+ s left\)$' ||
    lab_fail "knit status text: $("$knit" status --data-dir "$LAB_TMP/kpm")"
[ "$(dnat_rules 4108)" -ge 1 ] || lab_fail "daemon: miniupnpd holds no DNAT rule for 4108"
for _ in 1 2 3; do
    lab_probe pub send --bind 203.0.113.10:0 --to 203.0.113.1:4108
done
lab_wait_for "$LAB_TMP/daemon-pm.log" 'dropped [0-9]+-byte packet from 203\.0\.113\.10:' 5
stop_start=$(date +%s%N)
lab_stop "$DAEMON_PID" 5
stop_ms=$((($(date +%s%N) - stop_start) / 1000000))
[ "$LAB_STATUS" -eq 0 ] || { cat "$LAB_TMP/daemon-pm.log"; lab_fail "daemon exited $LAB_STATUS"; }
[ "$stop_ms" -le 3000 ] || lab_fail "the daemon took $stop_ms ms to stop, not <= 3000"
grep -q 'portmap: deleted the mapping' "$LAB_TMP/daemon-pm.log" ||
    { cat "$LAB_TMP/daemon-pm.log"; lab_fail "the daemon did not delete its mapping"; }
[ "$(dnat_rules 4108)" -eq 0 ] || lab_fail "daemon: DNAT rule for 4108 left after stop"
echo "daemon: mapped 203.0.113.1:4108 by pcp, reachable, stopped in $stop_ms ms and deleted it"

lab_spawn h1 "$LAB_TMP/daemon-off.log" "$knit" daemon --data-dir "$LAB_TMP/kpm" \
    --listen /ip4/10.1.1.2/udp/4109 --no-port-mapping
DAEMON_PID=$LAB_LAST_PID
lab_wait_for "$LAB_TMP/daemon-off.log" '^running' 10
grep -q '^port mapping: off (--no-port-mapping)$' "$LAB_TMP/daemon-off.log" ||
    lab_fail "--no-port-mapping: the daemon did not say port mapping is off"
sleep 3
[ "$(pm_json "$LAB_TMP/kpm" 's["state"]')" = off ] ||
    lab_fail "--no-port-mapping: status says $(pm_json "$LAB_TMP/kpm" 's["state"]')"
[ "$(dnat_rules 4109)" -eq 0 ] || lab_fail "--no-port-mapping: the gateway mapped 4109"
lab_stop "$DAEMON_PID" 5
[ "$LAB_STATUS" -eq 0 ] || lab_fail "daemon with --no-port-mapping exited $LAB_STATUS"
echo "daemon --no-port-mapping: status off, no mapping at the gateway"

# --- a gateway that stops answering --------------------------------------
map upnp 4105
kill -STOP "$GATEWAY_PID"
lab_stop "$PROBE_PID" 10
kill -CONT "$GATEWAY_PID" 2>/dev/null || true
stop_ms=$(field "$PROBE_LOG" done ms)
[ -n "$stop_ms" ] && [ "$stop_ms" -le 2600 ] ||
    { cat "$PROBE_LOG"; lab_fail "stop took '$stop_ms' ms with a silent gateway, not <= 2600"; }
grep -q 'did not confirm deleting' "$PROBE_LOG" || lab_fail "the given-up deletion was not logged"
kill -STOP "$GATEWAY_PID"
probes=$((probes + 1))
PROBE_LOG="$LAB_TMP/probe-$probes-silent.log"
lab_spawn h1 "$PROBE_LOG" "$portmap_probe" --port 4106 --method all --timeout 10
PROBE_PID=$LAB_LAST_PID
lab_wait_for "$PROBE_LOG" '"event":"done"' 20
kill -CONT "$GATEWAY_PID" 2>/dev/null || true
error=$(field "$PROBE_LOG" failed error)
for want in "pcp: no answer" "nat-pmp: no answer" "upnp: no IGD answered"; do
    case "$error" in
    *"$want"*) ;;
    *) lab_fail "a silent gateway's failure does not say '$want': $error" ;;
    esac
done
grep -q 'next try in 30 s' "$PROBE_LOG" || lab_fail "no retry scheduled after a failed search"
echo "silent gateway: stop in $stop_ms ms; search failed: $error"

# --- a gateway with UPnP only ----------------------------------------------
lab_stop "$GATEWAY_PID" 5
start_gateway no
map all 4107
[ "$(field "$PROBE_LOG" mapped method)" = upnp ] ||
    lab_fail "without NAT-PMP/PCP on the gateway, $(field "$PROBE_LOG" mapped method) was used"
grep -q 'using upnp: pcp: .*; nat-pmp: ' "$PROBE_LOG" ||
    { cat "$PROBE_LOG"; lab_fail "the fallback to upnp does not say why pcp and nat-pmp failed"; }
inbound 4107
case "$GOT" in
"got 203.0.113.10:"*) ;;
*) lab_fail "upnp fallback: a datagram to 203.0.113.1:4107 did not reach h1 ($GOT)" ;;
esac
unmap
echo "fallback: $(grep -o 'using upnp: .*' "$PROBE_LOG")"
# A sanitizer build's probes and daemons report leaks and memory errors in
# their logs.
if grep -l 'Sanitizer' "$LAB_TMP"/probe-*.log "$LAB_TMP"/daemon-*.log; then
    cat "$LAB_TMP"/probe-*.log "$LAB_TMP"/daemon-*.log
    lab_fail "a probe or daemon reported a sanitizer error"
fi
echo "portmap lab passed in $((SECONDS - started)) s"
