#!/usr/bin/env bash
# The NAT lab itself, checked with udp_probe alone (no knit), so tests built
# on it can trust what it claims:
#   - behind an eim router one socket shows the SAME public address to two
#     reflectors (endpoint-independent mapping), with the router's IP;
#   - behind an edm router one socket shows DIFFERENT ports to the two
#     (endpoint-dependent mapping);
#   - a datagram from a host the NATed socket never sent to is not let in,
#     while one from a host it did send to is (stateful filtering);
#   - lab_delay 20 ms on the Internet legs makes a round trip >= 40 ms;
#   - lab_loss 30 % loses 10..50 % of 200 probes (and none without it).
set -eu
. "$(dirname "$0")/lab.sh"
lab_require_root
lab_require_nat

refl_a=203.0.113.10:3478
refl_b=198.51.100.10:3478
lab_public pub_a 203.0.113.10
lab_public pub_b 198.51.100.10
lab_public peer 203.0.113.20
lab_router r1 203.0.113.1 10.1.1 eim
lab_router r2 198.51.100.2 10.2.2 edm
lab_nat_host h1 r1 2
lab_nat_host h2 r2 2

# Bounded: each reflector stops after 5000 datagrams or 100 s.
lab_spawn pub_a "$LAB_TMP/refl_a.log" "$LAB_UDP_PROBE" reflect --bind "$refl_a" \
    --max 5000 --seconds 100
lab_spawn pub_b "$LAB_TMP/refl_b.log" "$LAB_UDP_PROBE" reflect --bind "$refl_b" \
    --max 5000 --seconds 100
lab_wait_for "$LAB_TMP/refl_a.log" '^reflecting' 5
lab_wait_for "$LAB_TMP/refl_b.log" '^reflecting' 5

# field TARGET FIELD OUTPUT: a field of the udp_probe ask line for TARGET.
field() {
    echo "$3" | awk -v t="$1" -v f="$2" '$1 == t { print $f }'
}

# ask HOST BIND: both reflectors from one socket; sets $map_a and $map_b.
ask() {
    local out
    out=$(lab_probe "$1" ask --bind "$2" --to "$refl_a" --to "$refl_b" --timeout-ms 500)
    echo "$1 $2 -> $(echo "$out" | tr '\n' ' ')"
    map_a=$(field "$refl_a" 2 "$out")
    map_b=$(field "$refl_b" 2 "$out")
    [ -n "$map_a" ] && [ "$map_a" != timeout ] && [ -n "$map_b" ] && [ "$map_b" != timeout ] ||
        lab_fail "a reflector did not answer $1 ($2): $out"
}

# --- mapping ---------------------------------------------------------------
ask h1 10.1.1.2:5000
[ "$map_a" = "$map_b" ] || lab_fail "eim: two reflectors saw $map_a and $map_b"
[ "${map_a%:*}" = 203.0.113.1 ] || lab_fail "eim: mapped IP ${map_a%:*} is not r1's"
h1_map=$map_a

# Fully random ports collide with probability 1/64512 per try: up to three
# tries from fresh sockets (a reused socket would reuse its flows' ports).
edm_ok=0
for port in 5000 5001 5002; do
    ask h2 "10.2.2.2:$port"
    [ "${map_a%:*}" = 198.51.100.2 ] || lab_fail "edm: mapped IP ${map_a%:*} is not r2's"
    [ "${map_b%:*}" = 198.51.100.2 ] || lab_fail "edm: mapped IP ${map_b%:*} is not r2's"
    if [ "$map_a" != "$map_b" ]; then
        edm_ok=1
        break
    fi
done
[ "$edm_ok" = 1 ] || lab_fail "edm: three sockets each saw one port for both reflectors"
h2_bind=10.2.2.2:$port
h2_map=$map_a

# --- filtering -------------------------------------------------------------
# listen HOST BIND LOG: a listener waiting up to 2 s, returned once bound.
listen() {
    lab_spawn "$1" "$3" "$LAB_UDP_PROBE" listen --bind "$2" --timeout-ms 2000
    lab_wait_for "$3" '^listening' 5
}

# Unsolicited: peer never heard from h1 or h2, so nothing it sends to their
# mappings may get in (no conntrack entry matches it, so it is not
# translated). Nor may anything it sends to their private addresses through
# the routers: the forward chains take new flows only from the LAN (peer is
# given routes to the LANs for this). Three of each, in case one were lost.
lab_exec peer ip route add 10.1.1.0/24 via 203.0.113.1
lab_exec peer ip route add 10.2.2.0/24 via 198.51.100.2
listen h1 10.1.1.2:5000 "$LAB_TMP/listen_h1.log"
listen h2 "$h2_bind" "$LAB_TMP/listen_h2.log"
for _ in 1 2 3; do
    lab_probe peer send --bind 203.0.113.20:6001 --to "$h1_map"
    lab_probe peer send --bind 203.0.113.20:6001 --to "$h2_map"
    lab_probe peer send --bind 203.0.113.20:6002 --to 10.1.1.2:5000
    lab_probe peer send --bind 203.0.113.20:6002 --to "$h2_bind"
done
lab_wait_for "$LAB_TMP/listen_h1.log" '^(got|timeout)' 5
lab_wait_for "$LAB_TMP/listen_h2.log" '^(got|timeout)' 5
grep -q '^timeout$' "$LAB_TMP/listen_h1.log" ||
    lab_fail "eim router let an unsolicited datagram in: $(cat "$LAB_TMP/listen_h1.log")"
grep -q '^timeout$' "$LAB_TMP/listen_h2.log" ||
    lab_fail "edm router let an unsolicited datagram in: $(cat "$LAB_TMP/listen_h2.log")"

# Solicited: once h1's socket has sent to peer:6000, peer:6000 gets in at the
# same (endpoint-independent) mapping. This also proves the listener above
# could have heard something.
lab_probe h1 send --bind 10.1.1.2:5000 --to 203.0.113.20:6000
listen h1 10.1.1.2:5000 "$LAB_TMP/listen_h1b.log"
lab_probe peer send --bind 203.0.113.20:6000 --to "$h1_map"
lab_wait_for "$LAB_TMP/listen_h1b.log" '^(got|timeout)' 5
grep -q '^got 203\.0\.113\.20:6000$' "$LAB_TMP/listen_h1b.log" ||
    lab_fail "an answer from a host h1 sent to did not get in: $(cat "$LAB_TMP/listen_h1b.log")"

# --- delay -----------------------------------------------------------------
# rtt HOST BIND TARGET: the round-trip time (ms) of one ask.
rtt() {
    local out
    out=$(lab_probe "$1" ask --bind "$2" --to "$3" --timeout-ms 1000)
    echo "$out" | sed -n 's/.* rtt_ms=\([0-9.]*\)$/\1/p'
}
base=$(rtt h1 10.1.1.2:5100 "$refl_a")
[ -n "$base" ] || lab_fail "no answer before the delay was added"
# 20 ms one way on every Internet leg; pub_b's line adds +-5 ms of jitter.
lab_delay r1 wan0 20
lab_delay r2 wan0 20
lab_delay pub_a eth0 20
lab_delay pub_b eth0 20 5
lab_delay peer eth0 20
delayed=$(rtt h1 10.1.1.2:5101 "$refl_a")
jittered=$(rtt h1 10.1.1.2:5102 "$refl_b")
echo "rtt h1->pub_a: $base ms without delay, $delayed ms with 20 ms each way;" \
    "h1->pub_b (20+-5 ms): $jittered ms"
[ -n "$delayed" ] && [ -n "$jittered" ] || lab_fail "no answer through the delay lines"
awk -v r="$delayed" 'BEGIN { exit !(r >= 40 && r < 200) }' ||
    lab_fail "round trip $delayed ms with 20 ms each way is not in 40..200 ms"
awk -v r="$jittered" 'BEGIN { exit !(r >= 35 && r < 200) }' ||
    lab_fail "round trip $jittered ms with 20+-5 ms and 20 ms is not in 35..200 ms"

# --- loss ------------------------------------------------------------------
# count HOST BIND: received answers of 200 probes to reflector a.
count() {
    lab_probe "$1" count --bind "$2" --to "$refl_a" --n 200 --interval-ms 2 \
        --timeout-ms 500 | sed -n 's/^sent 200 received \([0-9]*\)$/\1/p'
}
clean=$(count h1 10.1.1.2:5200)
# Answers leaving pub_a are dropped: 30 % expected, 60 of 200 (sd 6.5).
lab_loss pub_a eth0 30
lossy=$(count h1 10.1.1.2:5201)
echo "loss: $clean/200 answered without loss, $lossy/200 with 30 % loss"
[ -n "$clean" ] && [ "$clean" -ge 198 ] || lab_fail "lost $((200 - ${clean:-0})) of 200 without lab_loss"
[ -n "$lossy" ] && [ "$lossy" -ge 100 ] && [ "$lossy" -le 180 ] ||
    lab_fail "30 % loss answered $lossy of 200 (want 100..180)"
echo "PASS: lab nat"
