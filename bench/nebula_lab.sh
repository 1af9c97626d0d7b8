#!/usr/bin/env bash
# Nebula 1.6 (Debian's `nebula`, 1.6.1) on the NAT lab's hole-punching
# topologies, and knit on the same ones with --knit. As root:
#
#   bench/nebula_lab.sh [--runs N] [--count N] [--delay MS] [--pairs LIST]
#                       [--knit] [--norelay] [--bare-routers] [--timeout S]
#                       [--build DIR] [--logs DIR]
#
#   --runs N      runs per pair and implementation (default 3)
#   --count N     pings per Nebula run, one every 0.2 s (default 100)
#   --delay MS    one-way delay on every Internet leg (default 20)
#   --pairs LIST  comma-separated, of eim-eim, eim-edm, edm-edm, same-nat
#                 (default all four)
#   --knit        also run knit_pair() on every pair, rows side by side
#   --norelay     also run Nebula with relays off ("nebula-norelay"): its
#                 hole punching alone
#   --bare-routers
#                 lab.sh's routers exactly as they are, without the two
#                 additions tests/natlab/test_punch_lab.sh makes (see
#                 "Routers" below)
#   --timeout S   knit: give up on a first reply / a direct path after S s
#                 from the daemons' start (default 60)
#   --build DIR   knit build directory holding knit and tests/natlab_*
#                 (default build/ in the repo)
#   --logs DIR    keep every run's logs (nebula, knit, ping, counters) there
#
# Topology (tests/natlab/lab.sh, built anew for every run so no NAT mapping
# or lighthouse entry survives from one run to the next):
#   pub 203.0.113.10  public; the Nebula lighthouse, also a Nebula relay
#                     (relay.am_relay); knit's bootstrap node for --knit
#   eim-eim   A 10.1.1.2 behind r1 203.0.113.1 (eim), B 10.2.2.2 behind
#             r2 198.51.100.2 (eim)
#   eim-edm   as eim-eim, r2 edm (masquerade fully-random)
#   edm-edm   both routers edm
#   same-nat  A 10.1.1.2 and B 10.1.1.3 both behind r1 (eim). The lab's
#             router does not hairpin (docs/natlab.md); every same-nat run
#             checks it again with udp_probe and reports "hairpin".
#   MS ms on every packet leaving pub's eth0 and each router's wan0.
#
# A Nebula run: a CA and certificates made with nebula-cert in the run's lab
# directory (overlay 10.200.0.0/24: pub .1, A .2, B .3); the lighthouse
# starts first; then nebula starts on A and B together (t0), with
# static_host_map to the lighthouse, punchy punch + respond, use_relays and
# relay.relays = [the lighthouse] so each may be reached through it. Once
# A's tun is up, A runs `ping -D -i 0.2 -c COUNT -W 1 -s 1000` to B's
# overlay address. Figures, from t0:
#   first reply   the first echo reply ping prints;
#   direct        how the echoes travel, seen in A's namespace by nftables
#                 counters on A's eth0: packets of 1000 bytes or more (only
#                 the 1028-byte echoes, wrapped by Nebula, are that big:
#                 handshakes, lighthouse and punch packets are far smaller)
#                 to or from pub are relayed, to or from any other address
#                 (B's router, or B itself on a shared LAN) are direct.
#                 The counters are read every 0.1 s. "Time to direct" is
#                 the first read showing direct echoes both out and in,
#                 sharpened to the first reply ping printed since the read
#                 before; "ends" is direct / relayed / mixed by what moved
#                 in the last 2 s of the ping. This needs nothing from
#                 Nebula's own reporting; "counters_ok" says the counters
#                 saw at least as many echoes as ping got back.
# Nebula's own log (level debug, kept with --logs) agrees: a handshake
# "received" with udpAddr="<nil>" came through the relay. What 1.6.1 does
# here: the relayed handshake completes (~0.5 s) before B's first punch
# (punchy.delay, 1 s), and the tunnel then stays relayed (seen for 120 s)
# even once both NATs pass the punches.
# A knit run: knit_pair() below (first reply by `knit ping <peer-id>`,
# direct by `knit peers --json`).
#
# Routers: as knit's hole-punching test (tests/natlab/test_punch_lab.sh)
# has them, lab_router plus two additions, each for a lab behaviour that
# this bench found too (--bare-routers leaves them out, to show it):
#  - an input firewall: new flows from wan0 to the router itself are
#    dropped, as on every home router. lab_router's router accepts them
#    (and answers port unreachable): when A's packet reaches r2 before B's
#    own packet to A has left r2, r2 confirms a conntrack entry for it, B's
#    packet can then not keep its port (the entry holds the reply tuple) and
#    is remapped to a random one, and every retry refreshes the entry: the
#    eim router acts as edm towards that peer. Made worse by the delay line,
#    which holds a packet in mangle POSTROUTING before conntrack confirms
#    it, so a router's mapping for a punch starts MS ms after the host sent
#    it: crossing punches race as if the routers were 0 ms apart. With
#    --bare-routers, Nebula with relays off never gets through on eim-eim;
#    with the firewall it does, in 1.3-1.5 s.
#  - LAN-to-LAN forwarding (forward iifname lan0 oifname lan0 accept): the
#    lab's namespaces have bridge-nf-call-iptables on, so frames between
#    two hosts on one router's LAN bridge pass the router's forward chain,
#    whose policy drops them: with --bare-routers same-nat hosts cannot
#    reach each other's LAN address at all and, as the router does not
#    hairpin either, can only be relayed.
#
# Output: one JSON line per run as it finishes, then a markdown table of
# medians per pair. Needs root, nftables, iptables, the lab's delay line;
# installs Debian's nebula and iputils-ping with apt-get if missing (the
# bench only: make test does not need them). Every packet stays in the
# namespaces a run creates; every loop is bounded; each run's lab is torn
# down by lab.sh's exit trap, also on failure or interrupt.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/nebula_common.sh"

# ---- one run (the script calls itself: bash nebula_lab.sh --one ...) -----
if [ "${1:-}" = --one ]; then
    impl=$2 pair=$3 run=$4
    set -- "$BENCH_KNIT" "$BENCH_DELAYLINE" "$BENCH_PROBE"
    . "$here/../tests/natlab/lab.sh"
    lab_require_root
    lab_require_nat
    knit=$LAB_KNIT
    pub_ip=203.0.113.10

    now() { date +%s.%N; }
    ms_since() { awk -v a="$2" -v b="$1" 'BEGIN { printf "%d", (a - b) * 1000 }'; }

    # ---- topology --------------------------------------------------------
    lab_public pub "$pub_ip"
    routers="r1 r2"
    case "$pair" in
    eim-eim | eim-edm | edm-edm)
        lab_router r1 203.0.113.1 10.1.1 "${pair%-*}"
        lab_router r2 198.51.100.2 10.2.2 "${pair#*-}"
        lab_nat_host a r1 2
        lab_nat_host b r2 2
        a_ip=10.1.1.2 b_ip=10.2.2.2
        ;;
    same-nat)
        routers=r1
        lab_router r1 203.0.113.1 10.1.1 eim
        lab_nat_host a r1 2
        lab_nat_host b r1 3
        a_ip=10.1.1.2 b_ip=10.1.1.3
        ;;
    *) lab_fail "unknown pair '$pair'" ;;
    esac
    # The routers of knit's hole-punching test (see "Routers" above).
    if [ "$BENCH_BARE_ROUTERS" != 1 ]; then
        for r in $routers; do
            lab_home_router "$r"
        done
    fi
    lab_delay pub eth0 "$BENCH_DELAY"
    for r in $routers; do lab_delay "$r" wan0 "$BENCH_DELAY"; done

    # hairpin_check: can A reach B at B's public mapping from inside the
    # LAN, after both opened mappings and B sent to A's (what a hairpinning
    # NAT with this filtering would need)? Sets hairpin to yes or no (not
    # printed: processes spawned in a $(...) subshell would escape teardown).
    hairpin_check() {
        local ma mb
        lab_spawn pub "$LAB_TMP/reflect.log" "$LAB_UDP_PROBE" reflect \
            --bind "$pub_ip:3478" --max 10 --seconds 20
        lab_wait_for "$LAB_TMP/reflect.log" '^reflecting' 5
        ma=$(lab_probe a ask --bind "$a_ip:5001" --to "$pub_ip:3478" | awk '{ print $2 }')
        mb=$(lab_probe b ask --bind "$b_ip:5002" --to "$pub_ip:3478" | awk '{ print $2 }')
        [ -n "$ma" ] && [ "$ma" != timeout ] && [ -n "$mb" ] && [ "$mb" != timeout ] ||
            lab_fail "hairpin check: no mapping from the reflector ($ma, $mb)"
        lab_probe b send --bind "$b_ip:5002" --to "$ma" >/dev/null
        lab_spawn b "$LAB_TMP/listen.log" "$LAB_UDP_PROBE" listen \
            --bind "$b_ip:5002" --timeout-ms 1500
        lab_wait_for "$LAB_TMP/listen.log" '^listening' 5
        lab_probe a send --bind "$a_ip:5001" --to "$mb" >/dev/null
        lab_wait_for "$LAB_TMP/listen.log" '^(got|timeout)' 5
        hairpin=no
        grep -q '^got' "$LAB_TMP/listen.log" && hairpin=yes
        echo "hairpin check: A $ma, B $mb, A -> B's mapping delivered: $hairpin" >&2
    }
    hairpin=n/a
    [ "$pair" = same-nat ] && hairpin_check

    # Counters on A's eth0 (see the header): big packets to/from pub are
    # relayed, to/from anyone else direct; *_lan is the part of direct on
    # 10.0.0.0/8 (a shared LAN).
    lab_exec a nft -f - <<NFT
table ip benchcount {
    counter out_relay {}
    counter out_direct {}
    counter out_lan {}
    counter in_relay {}
    counter in_direct {}
    chain out {
        type filter hook output priority filter; policy accept;
        oifname "eth0" ip length >= 1000 ip daddr $pub_ip counter name "out_relay"
        oifname "eth0" ip length >= 1000 ip daddr != $pub_ip counter name "out_direct"
        oifname "eth0" ip length >= 1000 ip daddr 10.0.0.0/8 counter name "out_lan"
    }
    chain in {
        type filter hook input priority filter; policy accept;
        iifname "eth0" ip length >= 1000 ip saddr $pub_ip counter name "in_relay"
        iifname "eth0" ip length >= 1000 ip saddr != $pub_ip counter name "in_direct"
    }
}
NFT
    # counters: "out_relay out_direct out_lan in_relay in_direct" now.
    counters() {
        lab_exec a nft list table ip benchcount | awk '
            $1 == "counter" && $3 == "{" { name = $2 }
            $1 == "packets" && name != "" { v[name] = $2; name = "" }
            END { print v["out_relay"] + 0, v["out_direct"] + 0, v["out_lan"] + 0,
                        v["in_relay"] + 0, v["in_direct"] + 0 }'
    }

    keep_logs() {
        [ -n "$BENCH_LOGS" ] || return 0
        local dir="$BENCH_LOGS/$impl-$pair-$run"
        mkdir -p "$dir"
        cp "$LAB_TMP"/*.log "$LAB_TMP"/*.yml "$LAB_TMP"/polls "$dir"/ 2>/dev/null || true
        # The routers' NAT state at the end: which flows punched through.
        for r in $routers; do
            lab_exec "$r" cat /proc/net/nf_conntrack >"$dir/conntrack-$r.txt" 2>/dev/null || true
        done
    }

    # ---- Nebula ----------------------------------------------------------
    # (nebula_pki and nebula_config are in bench/nebula_common.sh)
    # neb_config NAME: the YAML for one node into $LAB_TMP/NAME.yml; pub is
    # the lighthouse; nebula-norelay runs its hole punching alone, with no
    # relay to fall to.
    neb_config() {
        local role=host use_relays=true
        [ "$1" = pub ] && role=lighthouse
        [ "$impl" = nebula-norelay ] && use_relays=false
        nebula_config "$LAB_TMP/$1.yml" "$1" "$role" "$LAB_TMP/pki" "$pub_ip" "$use_relays"
    }

    nebula_pair() {
        local t0 tries ping_pid
        nebula_pki "$LAB_TMP/pki" pub=10.200.0.1/24 a=10.200.0.2/24 b=10.200.0.3/24
        neb_config pub
        neb_config a
        neb_config b
        lab_spawn pub "$LAB_TMP/nebula-pub.log" nebula -config "$LAB_TMP/pub.yml"
        lab_wait_for "$LAB_TMP/nebula-pub.log" 'Nebula interface is active' 10
        t0=$(now)
        lab_spawn a "$LAB_TMP/nebula-a.log" nebula -config "$LAB_TMP/a.yml"
        lab_spawn b "$LAB_TMP/nebula-b.log" nebula -config "$LAB_TMP/b.yml"
        lab_wait_for "$LAB_TMP/nebula-a.log" 'Nebula interface is active' 10
        lab_wait_for "$LAB_TMP/nebula-b.log" 'Nebula interface is active' 10
        lab_spawn a "$LAB_TMP/ping.log" ping -D -n -i 0.2 -c "$BENCH_COUNT" -W 1 \
            -s 1000 10.200.0.3
        ping_pid=$LAB_LAST_PID
        # Poll the counters until ping ends: at most COUNT * 0.2 s + 10 s.
        : >"$LAB_TMP/polls"
        tries=$((BENCH_COUNT * 2 + 100))
        while kill -0 "$ping_pid" 2>/dev/null && [ "$tries" -gt 0 ]; do
            echo "$(now) $(counters)" >>"$LAB_TMP/polls"
            sleep 0.1
            tries=$((tries - 1))
        done
        kill -0 "$ping_pid" 2>/dev/null && lab_fail "ping did not end in time"
        echo "$(now) $(counters)" >>"$LAB_TMP/polls"
        keep_logs
        python3 - "$t0" "$LAB_TMP/ping.log" "$LAB_TMP/polls" "$pair" "$run" \
            "$BENCH_COUNT" "$hairpin" "$impl" <<'PY'
import json, os, re, sys
t0, ping_log, polls_file, pair, run, count, hairpin, impl = sys.argv[1:]
t0, count = float(t0), int(count)
stamps, seqs = [], set()
for line in open(ping_log):
    m = re.match(r"\[(\d+\.\d+)\] \d+ bytes from .* icmp_seq=(\d+)", line)
    if m:
        stamps.append(float(m.group(1)))
        seqs.add(int(m.group(2)))
polls = []
for line in open(polls_file):
    f = line.split()
    if len(f) == 6:
        polls.append((float(f[0]), *map(int, f[1:])))
# (t, out_relay, out_direct, out_lan, in_relay, in_direct)
# Direct from the first read showing direct echoes both ways; sharpened to
# the first reply ping printed since the read before it, if there is one.
direct_ms = None
for i, p in enumerate(polls):
    if p[2] > 0 and p[5] > 0:
        since = polls[i - 1][0] if i > 0 else t0
        replies = [s for s in stamps if since < s <= p[0]]
        direct_ms = round(((replies[0] if replies else p[0]) - t0) * 1000)
        break
end = polls[-1]
before = [p for p in polls if p[0] <= end[0] - 2.0]
base = before[-1] if before else polls[0]
relay_moved = (end[1] - base[1]) + (end[4] - base[4])
direct_moved = (end[2] - base[2]) + (end[5] - base[5])
ends = {(True, False): "relayed", (False, True): "direct",
        (True, True): "mixed", (False, False): "none"}[(relay_moved > 0, direct_moved > 0)]
counters_ok = min(end[1] + end[2], end[4] + end[5]) >= len(seqs)
print(json.dumps({
    "impl": impl, "pair": pair, "run": int(run),
    "first_reply_ms": round((stamps[0] - t0) * 1000) if stamps else None,
    "direct_ms": direct_ms, "ends": ends,
    "replies": len(seqs), "sent": count,
    "echoes_out_relay": end[1], "echoes_out_direct": end[2], "echoes_out_lan": end[3],
    "echoes_in_relay": end[4], "echoes_in_direct": end[5],
    "counters_ok": counters_ok, "hairpin": hairpin,
    "routers": "bare" if os.environ.get("BENCH_BARE_ROUTERS") == "1" else "punch-test"}))
PY
    }

    # ---- knit ------------------------------------------------------------
    # ================= knit_pair: the knit side of the comparison =========
    # Daemons: pub first (the bootstrap node), then A and B together (t0),
    # both with pub as --bootstrap. From A, `knit ping -c C -i 200 <B's bare
    # peer ID>` (C = 5 per second of --timeout), its lines stamped as they
    # come; a ping that ends with no reply (the DHT not ready, no route yet)
    # or has none 3 s after it started (a ping asked for before B could be
    # found can wait its full set-up timeout, over a minute) is started
    # again 0.2 s later, so the first reply may be up to 3 s later than a
    # luckier ping would have had it. First reply: the stamp of the first
    # echo line. While that ping runs, `knit peers --json` on A is read every
    # 0.2 s for B's "path" turning "direct". Everything stops --timeout s
    # after t0: a path still relayed then is reported as it is
    # ("not direct within T s": direct_ms null, ends = the path seen last).
    knit_pair() {
        local t0 deadline b_id pub_id boot first_ms=null direct_ms=null
        local path=none try=0 ping_pid="" ping_log="" ping_start=0 left line
        "$knit" keygen --data-dir "$LAB_TMP/kpub" >/dev/null
        "$knit" keygen --data-dir "$LAB_TMP/ka" >/dev/null
        "$knit" keygen --data-dir "$LAB_TMP/kb" >/dev/null
        pub_id=$("$knit" id --data-dir "$LAB_TMP/kpub" | head -n 1)
        b_id=$("$knit" id --data-dir "$LAB_TMP/kb" | head -n 1)
        boot=/ip4/$pub_ip/udp/4001/p2p/$pub_id
        lab_spawn pub "$LAB_TMP/knit-pub.log" "$knit" daemon --data-dir "$LAB_TMP/kpub" \
            --listen "/ip4/$pub_ip/udp/4001"
        lab_wait_for "$LAB_TMP/knit-pub.log" '^running' 10
        t0=$(now)
        lab_spawn a "$LAB_TMP/knit-a.log" "$knit" daemon --data-dir "$LAB_TMP/ka" \
            --listen "/ip4/$a_ip/udp/4001" --bootstrap "$boot"
        lab_spawn b "$LAB_TMP/knit-b.log" "$knit" daemon --data-dir "$LAB_TMP/kb" \
            --listen "/ip4/$b_ip/udp/4001" --bootstrap "$boot"
        deadline=$(awk -v t="$t0" -v s="$BENCH_TIMEOUT" 'BEGIN { printf "%.3f", t + s }')
        # (at least 0.1: `timeout 0` would mean no limit at all)
        remaining() {
            awk -v n="$(now)" -v d="$deadline" 'BEGIN { r = d - n; printf "%.1f", r < 0.1 ? 0.1 : r }'
        }
        before() { awk -v n="$(now)" -v d="$deadline" 'BEGIN { exit !(n < d) }'; }
        stamp() { while IFS= read -r line; do echo "$EPOCHREALTIME $line"; done; }
        # Bounded: every pass sleeps 0.2 s and none starts after the deadline;
        # each ping is cut off by `timeout` at the deadline.
        while before; do
            if [ "$first_ms" = null ] && [ -n "$ping_pid" ] &&
                [ "$(ms_since "$ping_start" "$(now)")" -ge 3000 ]; then
                kill -TERM "$ping_pid" 2>/dev/null || true
                wait "$ping_pid" 2>/dev/null || true
            fi
            if [ -z "$ping_pid" ] || ! kill -0 "$ping_pid" 2>/dev/null; then
                if [ "$first_ms" = null ]; then
                    try=$((try + 1))
                    ping_log="$LAB_TMP/knit-ping-$try.log"
                    left=$(remaining)
                    ping_start=$(now)
                    timeout "$left" "$knit" ping --data-dir "$LAB_TMP/ka" \
                        -c $((BENCH_TIMEOUT * 5)) -i 200 "$b_id" > >(stamp >"$ping_log") 2>&1 &
                    ping_pid=$!
                    LAB_PIDS="$LAB_PIDS $ping_pid"
                fi
            fi
            if [ "$first_ms" = null ]; then
                line=$(grep -m 1 ' bytes: seq=' "$ping_log" 2>/dev/null || true)
                [ -z "$line" ] || first_ms=$(ms_since "$t0" "${line%% *}")
            fi
            if [ "$first_ms" != null ]; then
                path=$("$knit" peers --json --data-dir "$LAB_TMP/ka" 2>/dev/null |
                    python3 -c "
import json, sys
p = [p['path'] for p in json.load(sys.stdin) if p['peer_id'] == '$b_id']
print(p[0] if p else 'none')" 2>/dev/null || echo none)
                if [ "$path" = direct ]; then
                    direct_ms=$(ms_since "$t0" "$(now)")
                    break
                fi
            fi
            sleep 0.2
        done
        [ -z "$ping_pid" ] || kill -TERM "$ping_pid" 2>/dev/null || true
        [ "$direct_ms" = null ] &&
            echo "knit $pair run $run: not direct within $BENCH_TIMEOUT s (path: $path, pings started: $try)" >&2
        keep_logs
        printf '{"impl": "knit", "pair": "%s", "run": %s, "first_reply_ms": %s, "direct_ms": %s, "ends": "%s", "ping_tries": %s, "timeout_s": %s, "hairpin": "%s", "routers": "%s"}\n' \
            "$pair" "$run" "$first_ms" "$direct_ms" "$path" "$try" "$BENCH_TIMEOUT" "$hairpin" \
            "$([ "$BENCH_BARE_ROUTERS" = 1 ] && echo bare || echo punch-test)"
    }
    # ================= end of knit_pair ===================================

    case "$impl" in
    nebula | nebula-norelay) nebula_pair ;;
    knit) knit_pair ;;
    *) lab_fail "unknown implementation '$impl'" ;;
    esac
    exit 0
fi

# ---- driver ---------------------------------------------------------------
runs=3 count=100 delay=20 pairs=eim-eim,eim-edm,edm-edm,same-nat with_knit=0
timeout_s=60 build="$here/../build" logs="" bare_routers=0 with_norelay=0
usage() { sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
while [ $# -gt 0 ]; do
    case "$1" in
    --runs) runs=$2; shift 2 ;;
    --count) count=$2; shift 2 ;;
    --delay) delay=$2; shift 2 ;;
    --pairs) pairs=$2; shift 2 ;;
    --knit) with_knit=1; shift ;;
    --norelay) with_norelay=1; shift ;;
    --timeout) timeout_s=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --logs) logs=$2; shift 2 ;;
    --bare-routers) bare_routers=1; shift ;;
    -h | --help) usage ;;
    *) echo "nebula_lab: unknown argument '$1'" >&2; usage ;;
    esac
done
for n in "$runs" "$count" "$delay" "$timeout_s"; do
    echo "$n" | grep -Eq '^[0-9]{1,5}$' || { echo "nebula_lab: '$n' is not a number" >&2; exit 2; }
done
[ "$runs" -ge 1 ] && [ "$count" -ge 1 ] && [ "$timeout_s" -ge 1 ] ||
    { echo "nebula_lab: --runs, --count and --timeout must be at least 1" >&2; exit 2; }
for p in ${pairs//,/ }; do
    case "$p" in eim-eim | eim-edm | edm-edm | same-nat) ;;
    *) echo "nebula_lab: unknown pair '$p'" >&2; exit 2 ;; esac
done
[ "$(id -u)" -eq 0 ] || { echo "SKIP: nebula_lab needs root"; exit 77; }

# The bench's own packages, not make test's: Nebula and ping.
nebula_install
nebula_version=$NEBULA_VERSION

export BENCH_KNIT="$build/knit" BENCH_DELAYLINE="$build/tests/natlab_delayline"
export BENCH_PROBE="$build/tests/natlab_udp_probe" BENCH_COUNT=$count
export BENCH_DELAY=$delay BENCH_TIMEOUT=$timeout_s BENCH_LOGS=$logs
export BENCH_BARE_ROUTERS=$bare_routers
[ "$with_knit" = 0 ] || [ -x "$BENCH_KNIT" ] ||
    { echo "nebula_lab: no knit binary at $BENCH_KNIT (--build)" >&2; exit 2; }
[ -z "$logs" ] || mkdir -p "$logs"
impls=nebula
[ "$with_norelay" = 1 ] && impls="$impls nebula-norelay"
[ "$with_knit" = 1 ] && impls="$impls knit"

results=$(mktemp /tmp/nebula-lab-results.XXXXXX)
child=""
cleanup() {
    [ -z "$child" ] || kill -TERM "$child" 2>/dev/null || true
    [ -z "$child" ] || wait "$child" 2>/dev/null || true
    rm -f "$results" "$results.out"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

routers="routers as in test_punch_lab.sh"
[ "$bare_routers" = 1 ] && routers="--bare-routers (lab_router as it is)"
echo "# nebula $nebula_version; runs of: $impls; $delay ms one way per Internet leg; $runs runs; $routers" >&2
for pair in ${pairs//,/ }; do
    for impl in $impls; do
        for run in $(seq "$runs"); do
            bash "$0" --one "$impl" "$pair" "$run" >"$results.out" 2>&1 &
            child=$!
            status=0
            wait "$child" || status=$?
            child=""
            if [ "$status" = 77 ]; then
                cat "$results.out"
                exit 77
            fi
            line=$(grep '^{' "$results.out" | tail -n 1 || true)
            if [ "$status" != 0 ] || [ -z "$line" ]; then
                echo "nebula_lab: $impl $pair run $run failed (exit $status):" >&2
                tail -n 40 "$results.out" >&2
                line="{\"impl\": \"$impl\", \"pair\": \"$pair\", \"run\": $run, \"failed\": true}"
            fi
            grep -v '^{' "$results.out" | grep -E '^(hairpin|knit )' >&2 || true
            echo "$line"
            echo "$line" >>"$results"
        done
    done
done

python3 - "$results" "$pairs" "$impls" "$timeout_s" "$count" "$delay" "$routers" <<'PY'
import json, statistics, sys
path, pairs, impls, timeout_s, count, delay, routers = sys.argv[1:]
ping_s = int(count) * 0.2
rows = [json.loads(l) for l in open(path) if l.strip()]
def med(values):
    return statistics.median(values) if values else None
def secs(ms):
    return "-" if ms is None else f"{ms / 1000:.2f} s"
print()
print(f"Medians; {delay} ms one way per Internet leg; {routers}; times from the"
      " start of both ends; knit bounded by --timeout, Nebula by its ping.")
print()
print("| pair | impl | direct? (k of N) | time to first packet | time to direct | path at end |")
print("|---|---|---|---|---|---|")
for pair in pairs.split(","):
    for impl in impls.split():
        rs = [r for r in rows if r["pair"] == pair and r["impl"] == impl]
        ok = [r for r in rs if not r.get("failed")]
        k = sum(1 for r in ok if r.get("direct_ms") is not None)
        first = med([r["first_reply_ms"] for r in ok if r.get("first_reply_ms") is not None])
        direct = med([r["direct_ms"] for r in ok if r.get("direct_ms") is not None])
        ends = ", ".join(sorted({r.get("ends", "?") + (" (LAN)" if r.get("echoes_out_lan") else "")
                                 for r in ok})) or "-"
        nofirst = sum(1 for r in ok if r.get("first_reply_ms") is None)
        first_s = secs(first) + (f" ({nofirst} of {len(ok)} never)" if nofirst else "")
        if k == 0:
            limit = timeout_s if impl == "knit" else f"{ping_s:.0f}"
            direct_s = f"not direct within {limit} s"
        else:
            direct_s = secs(direct) + (f" (median of {k})" if 0 < k < len(rs) else "")
        failed = len(rs) - len(ok)
        label = pair + (f" ({failed} failed)" if failed else "")
        print(f"| {label} | {impl} | {k} of {len(rs)} | {first_s} | {direct_s} | {ends} |")
hp = {r.get("hairpin") for r in rows if r["pair"] == "same-nat" and "hairpin" in r}
if hp:
    print(f"\nsame-nat: the lab router hairpins: {', '.join(sorted(hp))}")
PY
