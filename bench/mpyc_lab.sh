#!/usr/bin/env bash
# MPyC over knit against plain TCP and Nebula 1.6 in the NAT lab
# (tests/natlab/lab.sh), 20 ms one way on every Internet leg. As root:
#
#   bench/mpyc_lab.sh [--runs N] [--rounds R] [--delay MS] [--configs LIST]
#                     [--build DIR] [--logs DIR]
#
#   --runs N       timed runs per configuration (default 5)
#   --rounds R     sequential secure multiplications per run (default 200)
#   --delay MS     one-way delay on every Internet leg (default 20)
#   --configs LIST comma-separated, of tcp, knit-direct, knit-relayed,
#                  nebula-direct, nebula-relayed (default all five)
#   --build DIR    knit build directory (default build/ in the repo)
#   --logs DIR     keep every configuration's logs there
#
# The program is tests/mpyc/mul_rounds.py: three parties, R multiplications
# each depending on the one before (R rounds of resharing), the result
# checked against the same computed in the clear; it prints compute_s, the
# time from all parties connected to the result opened. Per run: compute
# time (the median of the three parties' compute_s) and wall time (from
# starting the three parties to the last one's exit: interpreter start,
# connection set-up and, for knit, `knit mpyc`'s own set-up included).
#
# Configurations, each in a lab of its own, built once for its N runs:
#   tcp            three public hosts (203.0.113.21, 198.51.100.22,
#                  203.0.113.23), MPyC's TCP straight between them (-P
#                  their addresses): the baseline.
#   knit-direct    a public knit node (pub 203.0.113.10: bootstrap, relay)
#                  and three hosts each behind its own eim router (routers
#                  as in tests/natlab/test_punch_lab.sh); `knit mpyc` at
#                  each. Before timing, every pair is dialled (knit ping)
#                  and must be direct both ways (knit peers --json).
#   knit-relayed   the same with edm routers: every pair stays relayed
#                  through pub (checked the same way).
#   nebula-direct  Nebula 1.6 (Debian): lighthouse on pub, the three hosts
#                  behind eim routers, relays off (so a tunnel is direct or
#                  nothing; bench/nebula_lab.sh found that with relays on
#                  1.6.1 keeps a relayed tunnel even once punching would
#                  work); MPyC over the overlay addresses 10.200.0.2-4.
#   nebula-relayed edm routers, relays on (the lighthouse relays).
# A path's kind is checked before timing: knit by knit peers --json, Nebula
# by ping round trips over the overlay (direct: < 3 x delay; one relay
# doubles the legs crossed, so relayed is >= 4 x delay).
#
# Output: one JSON line per run, then a markdown table of medians and the
# ratio to tcp. Every wait is bounded; each configuration's lab is torn down
# by lab.sh's exit trap, also on failure or interrupt.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/nebula_common.sh"

# ---- one configuration (the script calls itself: --one CONFIG) -----------
if [ "${1:-}" = --one ]; then
    config=$2
    set -- "$BENCH_KNIT" "$BENCH_DELAYLINE" "$BENCH_PROBE"
    . "$here/../tests/natlab/lab.sh"
    lab_require_root
    lab_require_nat
    knit=$LAB_KNIT
    prog="$here/../tests/mpyc/mul_rounds.py"
    pub_ip=203.0.113.10
    hosts="h1 h2 h3"
    declare -A IP ID OVL
    now() { date +%s.%N; }

    keep_logs() {
        [ -n "$BENCH_LOGS" ] || return 0
        mkdir -p "$BENCH_LOGS/$config"
        cp "$LAB_TMP"/*.log "$BENCH_LOGS/$config"/ 2>/dev/null || true
    }
    trap 'keep_logs; lab_teardown' EXIT

    # ---- topology --------------------------------------------------------
    case "$config" in
    tcp)
        IP=([h1]=203.0.113.21 [h2]=198.51.100.22 [h3]=203.0.113.23)
        for h in $hosts; do
            lab_public "$h" "${IP[$h]}"
            lab_delay "$h" eth0 "$BENCH_DELAY"
        done
        ;;
    knit-* | nebula-*)
        mode=eim
        case "$config" in *-relayed) mode=edm ;; esac
        lab_public pub "$pub_ip"
        lab_router r1 203.0.113.1 10.1.1 "$mode"
        lab_router r2 198.51.100.2 10.2.2 "$mode"
        lab_router r3 203.0.113.3 10.3.3 "$mode"
        IP=([h1]=10.1.1.2 [h2]=10.2.2.2 [h3]=10.3.3.2)
        n=1
        for h in $hosts; do
            lab_nat_host "$h" "r$n" 2
            # Home routers, as in test_punch_lab.sh (lab.sh says why).
            lab_home_router "r$n"
            n=$((n + 1))
        done
        lab_delay pub eth0 "$BENCH_DELAY"
        for r in r1 r2 r3; do lab_delay "$r" wan0 "$BENCH_DELAY"; done
        ;;
    *) lab_fail "unknown configuration '$config'" ;;
    esac

    # wait_until SECONDS DESCRIPTION CMD...: poll CMD every 0.5 s.
    wait_until() {
        local tries=$(($1 * 2)) what=$2
        shift 2
        while [ "$tries" -gt 0 ]; do
            "$@" && return 0
            sleep 0.5
            tries=$((tries - 1))
        done
        lab_fail "$config: timed out after $1 s waiting for $what"
    }

    # ---- set-up per kind: fills ADDRS (MPyC -P list) or knit's IDs -------
    want=direct
    case "$config" in *-relayed) want=relayed ;; esac
    paths_now() { echo "public hosts, no NAT"; }
    case "$config" in
    knit-*)
        lab_spawn pub "$LAB_TMP/knit-pub.log" "$knit" daemon --data-dir "$LAB_TMP/pub" \
            --listen "/ip4/$pub_ip/udp/4001" --no-port-mapping
        lab_wait_for "$LAB_TMP/knit-pub.log" '^running' 10
        boot=/ip4/$pub_ip/udp/4001/p2p/$("$knit" id --data-dir "$LAB_TMP/pub" | head -n 1)
        for h in $hosts; do
            lab_spawn "$h" "$LAB_TMP/knit-$h.log" "$knit" daemon --data-dir "$LAB_TMP/$h" \
                --listen "/ip4/${IP[$h]}/udp/4001" --bootstrap "$boot" --no-port-mapping
            lab_wait_for "$LAB_TMP/knit-$h.log" '^running' 10
            ID[$h]=$("$knit" id --data-dir "$LAB_TMP/$h" | head -n 1)
        done
        ready() {
            [ "$("$knit" status --json --data-dir "$LAB_TMP/$1" | python3 -c "
import json, sys
s = json.load(sys.stdin)
print(len(s['relays']) >= 1 and s['nat']['mapping'] != 'unknown')" 2>/dev/null)" = True ]
        }
        for h in $hosts; do wait_until 60 "$h: a reservation and a NAT verdict" ready "$h"; done
        path_of() {   # HOST PEER: the path knit peers --json gives
            "$knit" peers --json --data-dir "$LAB_TMP/$1" 2>/dev/null | python3 -c "
import json, sys
p = [p['path'] for p in json.load(sys.stdin) if p['peer_id'] == '$2']
print(p[0] if p else 'none')" 2>/dev/null || echo none
        }
        pair_is() {   # A B WANT: both ends see WANT
            [ "$(path_of "$1" "${ID[$2]}")" = "$3" ] && [ "$(path_of "$2" "${ID[$1]}")" = "$3" ]
        }
        for pair in h1:h2 h1:h3 h2:h3; do
            a=${pair%:*} b=${pair#*:}
            timeout 60 "$knit" ping --data-dir "$LAB_TMP/$a" -c 3 -i 200 "${ID[$b]}" \
                >"$LAB_TMP/ping-$a-$b.log" 2>&1 || { cat "$LAB_TMP/ping-$a-$b.log";
                lab_fail "$config: $a could not ping $b"; }
        done
        # A punch takes up to ~8 s (eim); edm pairs must still be relayed after it.
        [ "$want" = relayed ] && sleep 10
        for pair in h1:h2 h1:h3 h2:h3; do
            wait_until 30 "${pair/:/ <-> } $want" pair_is "${pair%:*}" "${pair#*:}" "$want"
        done
        paths_now() {
            echo "h1-h2 $(path_of h1 "${ID[h2]}"), h1-h3 $(path_of h1 "${ID[h3]}"), h2-h3 $(path_of h2 "${ID[h3]}")"
        }
        ;;
    nebula-*)
        use_relays=false
        [ "$want" = relayed ] && use_relays=true
        nebula_pki "$LAB_TMP/pki" pub=10.200.0.1/24 h1=10.200.0.2/24 h2=10.200.0.3/24 \
            h3=10.200.0.4/24
        OVL=([h1]=10.200.0.2 [h2]=10.200.0.3 [h3]=10.200.0.4)
        nebula_config "$LAB_TMP/pub.yml" pub lighthouse "$LAB_TMP/pki" "$pub_ip" "$use_relays"
        lab_spawn pub "$LAB_TMP/nebula-pub.log" nebula -config "$LAB_TMP/pub.yml"
        lab_wait_for "$LAB_TMP/nebula-pub.log" 'Nebula interface is active' 10
        for h in $hosts; do
            nebula_config "$LAB_TMP/$h.yml" "$h" host "$LAB_TMP/pki" "$pub_ip" "$use_relays"
            lab_spawn "$h" "$LAB_TMP/nebula-$h.log" nebula -config "$LAB_TMP/$h.yml"
        done
        for h in $hosts; do
            lab_wait_for "$LAB_TMP/nebula-$h.log" 'Nebula interface is active' 10
        done
        rtt_of() {   # A B: the smallest of 5 ping round trips A -> B, ms
            lab_exec "$1" ping -n -q -c 5 -i 0.2 -W 1 "${OVL[$2]}" 2>/dev/null |
                awk -F'[/ ]' '/^rtt/ { printf "%d", $7 }'
        }
        pair_is() {   # A B WANT: A's round trips to B say WANT
            local rtt
            rtt=$(rtt_of "$1" "$2")
            [ -n "$rtt" ] || return 1
            if [ "$3" = direct ]; then [ "$rtt" -lt $((3 * BENCH_DELAY)) ]
            else [ "$rtt" -ge $((4 * BENCH_DELAY)) ]; fi
        }
        for pair in h1:h2 h1:h3 h2:h3 h2:h1 h3:h1 h3:h2; do
            wait_until 60 "nebula ${pair/:/ -> } $want" pair_is "${pair%:*}" "${pair#*:}" "$want"
        done
        paths_now() {
            echo "rtt h1-h2 $(rtt_of h1 h2) ms, h1-h3 $(rtt_of h1 h3) ms, h2-h3 $(rtt_of h2 h3) ms"
        }
        ;;
    esac
    echo "$config: ready ($(paths_now))" >&2

    # ---- timed runs --------------------------------------------------------
    for run in $(seq "$BENCH_RUNS"); do
        declare -A PID
        t0=$(now)
        i=0
        for h in $hosts; do
            log="$LAB_TMP/run$run-$h.log"
            case "$config" in
            tcp)
                lab_spawn "$h" "$log" python3 "$prog" --rounds "$BENCH_ROUNDS" --no-log \
                    -I "$i" -P "${IP[h1]}:11365" -P "${IP[h2]}:11366" -P "${IP[h3]}:11367" ;;
            nebula-*)
                lab_spawn "$h" "$log" python3 "$prog" --rounds "$BENCH_ROUNDS" --no-log \
                    -I "$i" -P "${OVL[h1]}:11365" -P "${OVL[h2]}:11366" -P "${OVL[h3]}:11367" ;;
            knit-*)
                lab_spawn "$h" "$log" "$knit" mpyc --data-dir "$LAB_TMP/$h" \
                    --parties "${ID[h1]},${ID[h2]},${ID[h3]}" --order given \
                    --session "bench$run" --timeout 60 -- \
                    python3 "$prog" --rounds "$BENCH_ROUNDS" --no-log ;;
            esac
            PID[$h]=$LAB_LAST_PID
            i=$((i + 1))
        done
        # Bounded: R rounds at under 1 s each, plus a minute of set-up.
        limit=$((BENCH_ROUNDS + 60))
        end=""
        for h in $hosts; do
            tries=$((limit * 10))
            while kill -0 "${PID[$h]}" 2>/dev/null; do
                [ "$tries" -gt 0 ] || lab_fail "$config run $run: $h still running after $limit s"
                sleep 0.05
                tries=$((tries - 1))
            done
            status=0
            wait "${PID[$h]}" || status=$?
            [ "$status" = 0 ] || { tail -n 20 "$LAB_TMP/run$run-$h.log";
                lab_fail "$config run $run: $h exited $status"; }
            grep -q ' ok=True ' "$LAB_TMP/run$run-$h.log" ||
                lab_fail "$config run $run: $h printed no right result"
        done
        end=$(now)
        python3 - "$config" "$run" "$t0" "$end" "$BENCH_ROUNDS" "$BENCH_DELAY" \
            "$(paths_now)" "$LAB_TMP/run$run-h1.log" \
            "$LAB_TMP/run$run-h2.log" "$LAB_TMP/run$run-h3.log" <<'PY'
import json, re, statistics, sys
config, run, t0, end, rounds, delay, paths, *logs = sys.argv[1:]
secs = []
for log in logs:
    m = re.search(r' ok=True compute_s=([0-9.]+)', open(log).read())
    secs.append(float(m.group(1)))
print(json.dumps({"config": config, "run": int(run), "rounds": int(rounds),
                  "delay_ms": int(delay), "compute_s": statistics.median(secs),
                  "compute_s_parties": secs,
                  "wall_s": round(float(end) - float(t0), 3), "paths_after": paths}))
PY
    done
    exit 0
fi

# ---- driver ---------------------------------------------------------------
runs=5 rounds=200 delay=20 configs=tcp,knit-direct,knit-relayed,nebula-direct,nebula-relayed
build="$here/../build" logs=""
usage() { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
while [ $# -gt 0 ]; do
    case "$1" in
    --runs) runs=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --delay) delay=$2; shift 2 ;;
    --configs) configs=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --logs) logs=$2; shift 2 ;;
    -h | --help) usage ;;
    *) echo "mpyc_lab: unknown argument '$1'" >&2; usage ;;
    esac
done
for n in "$runs" "$rounds" "$delay"; do
    echo "$n" | grep -Eq '^[0-9]{1,5}$' || { echo "mpyc_lab: '$n' is not a number" >&2; exit 2; }
done
[ "$runs" -ge 1 ] && [ "$delay" -ge 1 ] ||
    { echo "mpyc_lab: --runs and --delay must be at least 1" >&2; exit 2; }
for c in ${configs//,/ }; do
    case "$c" in tcp | knit-direct | knit-relayed | nebula-direct | nebula-relayed) ;;
    *) echo "mpyc_lab: unknown configuration '$c'" >&2; exit 2 ;; esac
done
[ "$(id -u)" -eq 0 ] || { echo "SKIP: mpyc_lab needs root"; exit 77; }
python3 -c "import mpyc" >/dev/null 2>&1 ||
    { echo "mpyc_lab: MPyC is not importable (scripts/deps.sh test installs it)" >&2; exit 2; }
case ",$configs," in *,nebula-*) nebula_install ;; esac
build=$(realpath "$build")
export BENCH_KNIT="$build/knit" BENCH_DELAYLINE="$build/tests/natlab_delayline"
export BENCH_PROBE="$build/tests/natlab_udp_probe" BENCH_RUNS=$runs
export BENCH_ROUNDS=$rounds BENCH_DELAY=$delay BENCH_LOGS=$logs
[ -x "$BENCH_KNIT" ] || { echo "mpyc_lab: no knit binary at $BENCH_KNIT (--build)" >&2; exit 2; }
[ -z "$logs" ] || mkdir -p "$logs"

results=$(mktemp /tmp/mpyc-lab-results.XXXXXX)
child=""
cleanup() {
    [ -z "$child" ] || kill -TERM "$child" 2>/dev/null || true
    [ -z "$child" ] || wait "$child" 2>/dev/null || true
    rm -f "$results" "$results.out"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

echo "# mul_rounds.py, $rounds rounds, 3 parties, $delay ms one way per Internet leg, $runs runs" >&2
for config in ${configs//,/ }; do
    bash "$0" --one "$config" >"$results.out" 2>&1 &
    child=$!
    status=0
    wait "$child" || status=$?
    child=""
    if [ "$status" = 77 ]; then cat "$results.out"; exit 77; fi
    grep -v '^{' "$results.out" | grep -E '(ready|FAIL)' >&2 || true
    if [ "$status" != 0 ]; then
        echo "mpyc_lab: $config failed (exit $status):" >&2
        tail -n 40 "$results.out" >&2
    fi
    grep '^{' "$results.out" | tee -a "$results" || true
done

python3 - "$results" "$configs" "$rounds" "$delay" "$runs" "${NEBULA_VERSION:-}" <<'PY'
import json, statistics, sys
path, configs, rounds, delay, runs, nebula = sys.argv[1:]
rows = [json.loads(l) for l in open(path) if l.strip()]
def med(config, key):
    v = [r[key] for r in rows if r["config"] == config]
    return (statistics.median(v), len(v)) if v else (None, 0)
base, _ = med("tcp", "compute_s")
base_wall, _ = med("tcp", "wall_s")
print()
print(f"Medians of {runs} runs; {rounds} sequential secure multiplications, 3 parties;"
      f" {delay} ms one way per Internet leg" + (f"; nebula {nebula}" if nebula else "") + ".")
print()
print("| configuration | runs | compute time | per round | vs tcp | wall time | vs tcp |")
print("|---|---|---|---|---|---|---|")
for c in configs.split(","):
    comp, n = med(c, "compute_s")
    wall, _ = med(c, "wall_s")
    if comp is None:
        print(f"| {c} | 0 | failed | | | | |")
        continue
    ratio = f"{comp / base:.3f}" if base else "-"
    wratio = f"{wall / base_wall:.3f}" if base_wall else "-"
    print(f"| {c} | {n} | {comp:.3f} s | {comp / int(rounds) * 1000:.1f} ms |"
          f" {ratio} | {wall:.2f} s | {wratio} |")
PY
