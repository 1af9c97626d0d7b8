#!/usr/bin/env bash
# MPyC over knit (`knit mpyc`, docs/mpyc.md) between real daemons behind real
# nftables NAT, 20 ms one way on every Internet leg. One public node
# (bootstrap, relay, AutoNAT) and four hosts, each behind its own router:
#   p1 behind r1 (eim), p2 behind r2 (eim), p3 behind r3 (edm), p4 behind
#   r4 (edm).
# Run 1: p1, p2, p3 run tests/mpyc/sum_product.py with --ssl (certificates
#   from tests/mpyc/make_certs.sh, --order given so that party i holds
#   party_i's certificate): every party prints the right sum and product of
#   the three private inputs and exits 0.
# Run 2: p1, p3, p4 (--order sorted): p3 <-> p4 (edm <-> edm) cannot punch
#   and stays relayed through the public node. sum_product.py gives the
#   right result at every party, then tests/mpyc/mul_rounds.py runs 40
#   sequential multiplications while knit peers --json on p3 is read: the
#   path to p4 must be "relayed" every time it is seen during the run.
# Run 3: p1, p2, p3 start a long mul_rounds.py run; once every party has
#   connected and computed for 2 s, p3's `knit mpyc` and the MPyC process
#   under it are killed (SIGKILL). p1 and p2 must exit non-zero within 30 s
#   (the time each took is printed), not hang.
# Run 4: the same, with p3's daemon killed too (the whole node dies, and
#   nobody tells the others): p1 and p2 find p3 silent and exit non-zero
#   within 30 s.
# Needs MPyC importable by python3 (scripts/deps.sh test installs it with
# pip) and openssl; skipped, saying why, without them or without root.
# Every wait is bounded; the lab is torn down on every exit (lab.sh).
set -eu
knit=$(realpath "${1:-knit}" 2>/dev/null || echo "${1:-knit}")   # absolute: parties run elsewhere
. "$(dirname "$0")/lab.sh"
lab_require_root
lab_require_nat
command -v python3 >/dev/null || lab_skip "python3 is not installed"
python3 -c "import mpyc" >/dev/null 2>&1 ||
    lab_skip "MPyC is not importable by python3 (scripts/deps.sh test installs it: python3 -m pip install --break-system-packages mpyc==0.11)"
command -v openssl >/dev/null || lab_skip "openssl is not installed (scripts/deps.sh test)"
"$knit" mpyc --help >/dev/null 2>&1 || lab_fail "this knit has no 'mpyc' command"
progs=$(cd "$(dirname "$0")/../mpyc" && pwd)
started=$SECONDS
if [ -n "${KNIT_LAB_KEEP:-}" ]; then   # KNIT_LAB_KEEP=DIR keeps the logs
    trap 'mkdir -p "$KNIT_LAB_KEEP" && cp -r "$LAB_TMP"/. "$KNIT_LAB_KEEP"/; lab_teardown' EXIT
fi
now_ms() { date +%s%3N; }

# --- the lab -------------------------------------------------------------------
lab_public pub 203.0.113.10
lab_router r1 203.0.113.1 10.1.1 eim
lab_router r2 198.51.100.2 10.2.2 eim
lab_router r3 203.0.113.3 10.3.3 edm
lab_router r4 198.51.100.4 10.4.4 edm
routers="r1 r2 r3 r4"
# Home routers, as in test_punch_lab.sh (lab.sh says why punching needs
# them).
for r in $routers; do
    lab_home_router "$r"
done
declare -A IP ID INPUT
hosts="p1 p2 p3 p4"
IP=([p1]=10.1.1.2 [p2]=10.2.2.2 [p3]=10.3.3.2 [p4]=10.4.4.2)
INPUT=([p1]=11 [p2]=-4 [p3]=25 [p4]=6)
lab_nat_host p1 r1 2
lab_nat_host p2 r2 2
lab_nat_host p3 r3 2
lab_nat_host p4 r4 2
lab_delay pub eth0 20
for r in $routers; do
    lab_delay "$r" wan0 20
done

# --- daemons -------------------------------------------------------------------
declare -A DAEMON
daemon() {   # HOST LISTEN_IP [BOOTSTRAP]
    local host=$1 ip=$2 args=()
    [ $# -ge 3 ] && args=(--bootstrap "$3")
    lab_spawn "$host" "$LAB_TMP/$host.log" "$knit" daemon --log-level debug \
        --data-dir "$LAB_TMP/$host" --listen "/ip4/$ip/udp/4001" \
        --no-port-mapping "${args[@]}"
    DAEMON[$host]=$LAB_LAST_PID
    lab_wait_for "$LAB_TMP/$host.log" '^running' 10
}
daemon pub 203.0.113.10
pub_id=$("$knit" id --data-dir "$LAB_TMP/pub" | head -n 1)
boot=/ip4/203.0.113.10/udp/4001/p2p/$pub_id
for h in $hosts; do
    daemon "$h" "${IP[$h]}" "$boot"
    ID[$h]=$("$knit" id --data-dir "$LAB_TMP/$h" | head -n 1)
done

# json HOST EXPR: EXPR over the host's knit status --json (s).
json() {
    "$knit" status --json --data-dir "$LAB_TMP/$1" |
        python3 -c "import json, sys; s = json.load(sys.stdin); print($2)"
}
# path_of HOST PEER_ID: "direct", "relayed" or nothing (no session).
path_of() {
    "$knit" peers --json --data-dir "$LAB_TMP/$1" 2>/dev/null | python3 -c "
import json, sys
p = [p['path'] for p in json.load(sys.stdin) if p['peer_id'] == '$2']
print(p[0] if p else '')" 2>/dev/null || true
}
# ready HOST: a relay reservation and a NAT mapping verdict (what a peer
# needs to reach it through the relay and to punch).
ready() {
    [ "$(json "$1" 'len(s["relays"]) >= 1 and s["nat"]["mapping"] != "unknown"' 2>/dev/null)" = True ]
}
wait_until() {   # SECONDS DESCRIPTION CMD...: poll CMD every 0.5 s
    local tries=$(($1 * 2)) what=$2
    shift 2
    while [ "$tries" -gt 0 ]; do
        "$@" && return 0
        sleep 0.5
        tries=$((tries - 1))
    done
    lab_fail "timed out after $1 s waiting for $what"
}
for h in $hosts; do
    wait_until 60 "$h: a relay reservation and a NAT mapping verdict" ready "$h"
done
echo "lab up, every host holding a reservation, at $((SECONDS - started)) s"

# --- knit mpyc runs --------------------------------------------------------------
declare -A PID STATUS
# party RUN HOST IDS ORDER DIR PROGRAM ARGS...: `knit mpyc` at HOST in the
# background, working directory DIR (MPyC reads --ssl certificates from
# DIR/.config), output to $LAB_TMP/RUN-HOST.log.
party() {
    local run=$1 host=$2 ids=$3 order=$4 dir=$5 prog=$6
    shift 6
    lab_spawn "$host" "$LAB_TMP/$run-$host.log" env -C "$dir" "$knit" mpyc \
        --data-dir "$LAB_TMP/$host" --parties "$ids" --order "$order" \
        --session "$run" --timeout 60 -- python3 "$progs/$prog" "$@"
    PID[$host]=$LAB_LAST_PID
}
# finish RUN SECONDS HOSTS...: wait for every host's knit mpyc to exit,
# STATUS[host] its exit status; fails the test past SECONDS.
finish() {
    local run=$1 tries=$(($2 * 10)) h
    shift 2
    for h in "$@"; do
        while kill -0 "${PID[$h]}" 2>/dev/null; do
            if [ "$tries" -le 0 ]; then
                for x in "$@"; do echo "--- $run-$x.log:"; tail -n 30 "$LAB_TMP/$run-$x.log"; done
                lab_fail "$run: knit mpyc at $h still running after $2 s"
            fi
            sleep 0.1
            tries=$((tries - 1))
        done
        STATUS[$h]=0
        wait "${PID[$h]}" || STATUS[$h]=$?
    done
}
ids_of() { local h out=""; for h in "$@"; do out="$out,${ID[$h]}"; done; echo "${out#,}"; }
# check_sum_product RUN HOSTS...: every host exited 0 and printed the sum
# and product of the hosts' inputs, its own input among them.
check_sum_product() {
    local run=$1 sum=0 product=1 h line
    shift
    for h in "$@"; do
        sum=$((sum + INPUT[$h]))
        product=$((product * INPUT[$h]))
    done
    for h in "$@"; do
        line=$(grep -E '^party [0-9]+: ' "$LAB_TMP/$run-$h.log" || true)
        echo "$run $h: ${line:-<no result line>} (exit ${STATUS[$h]})"
        if [ "${STATUS[$h]}" != 0 ] ||
            ! echo "$line" | grep -Eqx "party [0-9]+: input=${INPUT[$h]} sum=$sum product=$product"; then
            echo "--- $run-$h.log:"
            tail -n 40 "$LAB_TMP/$run-$h.log"
            lab_fail "$run: $h did not print sum=$sum product=$product and exit 0"
        fi
    done
}

# Run 1: eim, eim, edm with --ssl.
sh "$(dirname "$0")/../mpyc/make_certs.sh" "$LAB_TMP/ssl" 3 >/dev/null
ids=$(ids_of p1 p2 p3)
for h in p1 p2 p3; do
    party run1 "$h" "$ids" given "$LAB_TMP/ssl" sum_product.py --ssl --input "${INPUT[$h]}" \
        --check "$((INPUT[p1] + INPUT[p2] + INPUT[p3])),$((INPUT[p1] * INPUT[p2] * INPUT[p3]))"
done
finish run1 90 p1 p2 p3
check_sum_product run1 p1 p2 p3
grep -q 'connected via SSL' "$LAB_TMP/run1-p1.log" ||
    lab_fail "run1: MPyC at p1 did not report SSL connections"
echo "run 1 (eim, eim, edm; --ssl): right at every party, at $((SECONDS - started)) s;" \
    "paths p1-p2 $(path_of p1 "${ID[p2]}"), p1-p3 $(path_of p1 "${ID[p3]}"), p2-p3 $(path_of p2 "${ID[p3]}")"

# Run 2: eim, edm, edm; p3 <-> p4 relayed.
ids=$(ids_of p1 p3 p4)
for h in p1 p3 p4; do
    party run2 "$h" "$ids" sorted "$LAB_TMP" sum_product.py --input "${INPUT[$h]}"
done
finish run2 90 p1 p3 p4
check_sum_product run2 p1 p3 p4
for h in p1 p3 p4; do
    party run2m "$h" "$ids" sorted "$LAB_TMP" mul_rounds.py --rounds 40
done
seen=""
tries=600   # 60 s at 0.1 s
while kill -0 "${PID[p3]}" 2>/dev/null && kill -0 "${PID[p4]}" 2>/dev/null; do
    [ "$tries" -gt 0 ] || break
    p=$(path_of p3 "${ID[p4]}")
    [ -n "$p" ] && seen="$seen $p"
    sleep 0.1
    tries=$((tries - 1))
done
finish run2m 60 p1 p3 p4
for h in p1 p3 p4; do
    line=$(grep -E '^party [0-9]+: rounds=' "$LAB_TMP/run2m-$h.log" || true)
    echo "run2 mul_rounds $h: ${line:-<none>} (exit ${STATUS[$h]})"
    [ "${STATUS[$h]}" = 0 ] && echo "$line" | grep -q ' ok=True ' || {
        tail -n 40 "$LAB_TMP/run2m-$h.log"
        lab_fail "run2: mul_rounds at $h failed"
    }
done
[ -n "$seen" ] || lab_fail "run2: p3 had no session with p4 while the run went on"
case " $seen " in
*" direct "*) lab_fail "run2: p3 -> p4 (edm <-> edm) went direct during the run:$seen" ;;
esac
echo "run 2 (eim, edm, edm): right at every party; p3 -> p4 seen relayed" \
    "$(echo "$seen" | wc -w) times during the run, at $((SECONDS - started)) s"

# kill_mid_run RUN WHAT EXTRA_PIDS: p1, p2, p3 start a long mul_rounds.py
# run; once all are connected and have computed for 2 s, p3's knit mpyc,
# the MPyC process under it and EXTRA_PIDS are killed (SIGKILL). p1 and p2
# must exit non-zero within 30 s, without the result; the time each took
# is printed.
declare -A TOOK
kill_mid_run() {
    local run=$1 what=$2 extra=$3 ids h c v mpyc_pid="" t_kill tries victims
    ids=$(ids_of p1 p2 p3)
    for h in p1 p2 p3; do
        party "$run" "$h" "$ids" given "$LAB_TMP" mul_rounds.py --rounds 100000
    done
    for h in p1 p2 p3; do
        lab_wait_for "$LAB_TMP/$run-$h.log" 'All 3 parties connected' 60
    done
    sleep 2
    for h in p1 p2; do
        kill -0 "${PID[$h]}" 2>/dev/null || lab_fail "$run: $h's knit mpyc ended before the kill"
    done
    # The MPyC process under p3's knit mpyc: a descendant running
    # mul_rounds.py.
    victims=${PID[p3]}
    descend() {
        local c
        for c in $(ps -o pid= --ppid "$1"); do
            victims="$victims $c"
            descend "$c"
        done
    }
    descend "${PID[p3]}"
    for v in $victims; do
        tr '\0' ' ' <"/proc/$v/cmdline" 2>/dev/null | grep -q 'mul_rounds.py' && mpyc_pid=$v
    done
    [ -n "$mpyc_pid" ] || lab_fail "$run: no MPyC process under p3's knit mpyc (pids: $victims)"
    t_kill=$(now_ms)
    # shellcheck disable=SC2086
    kill -KILL $victims $extra
    for h in p1 p2; do
        tries=300   # 30 s
        while kill -0 "${PID[$h]}" 2>/dev/null && [ "$tries" -gt 0 ]; do
            sleep 0.1
            tries=$((tries - 1))
        done
        if kill -0 "${PID[$h]}" 2>/dev/null; then
            tail -n 30 "$LAB_TMP/$run-$h.log"
            lab_fail "$run: $h's knit mpyc still running 30 s after p3 ($what) was killed"
        fi
        TOOK[$h]=$(($(now_ms) - t_kill))
        STATUS[$h]=0
        wait "${PID[$h]}" || STATUS[$h]=$?
    done
    wait "${PID[p3]}" 2>/dev/null || true
    for h in p1 p2; do
        echo "$run $h: exit ${STATUS[$h]} $((TOOK[$h])) ms after p3 was killed; last lines:"
        tail -n 3 "$LAB_TMP/$run-$h.log" | sed 's/^/    /'
        [ "${STATUS[$h]}" != 0 ] || lab_fail "$run: $h exited 0 although p3 died mid-computation"
        if grep -q "ok=True" "$LAB_TMP/$run-$h.log"; then lab_fail "$run: $h finished the computation?"; fi
    done
    echo "$run: p3 ($what) killed mid-computation; p1 exited ${STATUS[p1]} after ${TOOK[p1]} ms," \
        "p2 exited ${STATUS[p2]} after ${TOOK[p2]} ms (bound 30000 ms)"
}

# Run 3: p3's knit mpyc and its MPyC program die; its daemon tells the
# others that p3 left.
kill_mid_run run3 "knit mpyc and MPyC" ""
# Run 4: the whole of p3 dies, daemon included: nobody tells the others;
# their daemons find p3 silent.
kill_mid_run run4 "daemon, knit mpyc and MPyC" "${DAEMON[p3]}"

echo "PASS: mpyc lab ($((SECONDS - started)) s)"
