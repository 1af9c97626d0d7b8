#!/usr/bin/env bash
# Port forwarding over the overlay (knit expose / forward / forwards) with
# three daemons on loopback (127.0.0.1 only), A the bootstrap node: B
# exposes services to C alone, C forwards to them by B's bare peer ID. Checks
# (a) 4 MiB both ways intact, (b) half-close, (c) a peer not allowed (A) is
# refused and B logs it, (d) an exposed port with nothing listening closes
# the client's connection at once, (f) knit forward --remove closes the
# listener, (e) SIGTERM on B resets C's client connection within seconds.
# Every wait is bounded.
set -u
knit=$1
here=$(cd "$(dirname "$0")" && pwd)
tcp="python3 $here/forward_echo.py"
. "$(dirname "$0")/lib.sh" fwd
base=$((31000 + ($$ % 1000) * 3))
declare -A pid
start_daemon() {   # start_daemon NAME PORT [bootstrap multiaddr]
    local args=(--listen "/ip4/127.0.0.1/udp/$2" --dht-mode server
                --log-level info)
    [ $# -ge 3 ] && args+=(--bootstrap "$3")
    start_knit_daemon "$1" "${args[@]}"
    pid[$1]=$daemon_pid
}
start_server() {   # start_server MODE: its port goes to $tmp/MODE.port
    $tcp server "$1" "$tmp/$1.port" >"$tmp/$1.server.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 50); do [ -s "$tmp/$1.port" ] && return 0; sleep 0.1; done
    echo "the $1 server did not start"; cat "$tmp/$1.server.log"; exit 1
}

start_daemon a "$base"
boot=$("$knit" id --data-dir "$tmp/a" | sed -n 2p)
start_daemon b $((base + 1)) "$boot"
start_daemon c $((base + 2)) "$boot"
a_id=$("$knit" id --data-dir "$tmp/a" | sed -n 1p)
b_id=$("$knit" id --data-dir "$tmp/b" | sed -n 1p)
c_id=$("$knit" id --data-dir "$tmp/c" | sed -n 1p)
start_server echo
start_server sha
echo_port=$(cat "$tmp/echo.port")
sha_port=$(cat "$tmp/sha.port")
# A port nothing listens on: bind one, note it, let it go.
dead_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

# C can find B once both have joined the DHT through A.
for _ in $(seq 100); do
    n=$("$knit" dht table --json --data-dir "$tmp/c" 2>/dev/null |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["peers"])' 2>/dev/null)
    [ "${n:-0}" -ge 2 ] && break
    sleep 0.2
done

# ---- usage errors are plain ----
out=$("$knit" expose --data-dir "$tmp/b" echo "$echo_port" 2>&1)
[ $? -eq 2 ] && grep -q -- "--allow <peer-id>" <<<"$out" && grep -q -- "--allow-any" <<<"$out"
check "expose without --allow or --allow-any is refused, naming both ($out)" $?
out=$("$knit" expose --data-dir "$tmp/b" echo "$echo_port" --allow 12D3KooWnotapeer 2>&1)
[ $? -eq 2 ] && grep -q "invalid peer ID '12D3KooWnotapeer' for --allow" <<<"$out"
check "a malformed --allow peer ID is named ($out)" $?
out=$("$knit" forward --data-dir "$tmp/c" 0 not-a-peer echo 2>&1)
[ $? -eq 2 ] && grep -q "invalid peer ID 'not-a-peer' (the second argument)" <<<"$out"
check "a malformed forward peer ID is named ($out)" $?
out=$("$knit" expose --data-dir "$tmp/b" 'bad name' 80 --allow-any 2>&1)
[ $? -eq 2 ] && grep -q "invalid service name 'bad name'" <<<"$out"
check "a bad service name is refused ($out)" $?
for cmd in expose forward forwards; do
    "$knit" $cmd --help | grep -q "^usage: knit $cmd"; check "knit $cmd --help" $?
done

# ---- B exposes to C only ----
"$knit" expose --data-dir "$tmp/b" echo "$echo_port" --allow "$c_id" >/dev/null &&
"$knit" expose --data-dir "$tmp/b" sha "$sha_port" --allow "/p2p/$c_id" >/dev/null &&
"$knit" expose --data-dir "$tmp/b" dead "$dead_port" --allow "$c_id" >/dev/null
check "B exposes echo, sha and dead" $?
out=$("$knit" expose --data-dir "$tmp/b" echo "$echo_port" --allow "$c_id" 2>&1)
[ $? -eq 1 ] && grep -q "exposed already" <<<"$out"
check "exposing a name twice is refused ($out)" $?

fwd() {   # fwd DIR SERVICE [PEER] -> the local port
    "$knit" forward --data-dir "$tmp/$1" 0 "${3:-$b_id}" "$2" |
        sed -n 's/^forwarding 127\.0\.0\.1:\([0-9]*\) to .*/\1/p'
}
echo_fwd=$(fwd c echo)
sha_fwd=$(fwd c sha)
dead_fwd=$(fwd c dead)
[ -n "$echo_fwd" ] && [ -n "$sha_fwd" ] && [ -n "$dead_fwd" ]
check "C forwards three local ports to B ($echo_fwd $sha_fwd $dead_fwd)" $?

# (a) 4 MiB both ways, the peer found by its bare ID
out=$(timeout 90 $tcp client-echo "$echo_fwd" $((4 << 20)) 2>&1)
check "(a) 4 MiB through the forward and back, intact ($out)" $?
# ...and 16 MiB to a client that starts reading 2 s late: every buffer on
# the way fills, each side stops reading until the next drains, and all of
# it arrives once the client reads.
out=$(timeout 90 $tcp client-echo "$echo_fwd" $((16 << 20)) 2 2>&1)
check "(a) back-pressure: 16 MiB to a late reader, intact ($out)" $?
out=$(timeout 60 $tcp client-sha "$sha_fwd" $((4 << 20)) 2>&1)
# (b) the client's half-close reaches the service, whose answer and EOF
# come back
check "(b) half-close: the service saw EOF, answered, the client got it and EOF ($out)" $?

out=$("$knit" forwards --json --data-dir "$tmp/c")
python3 -c "
import json,sys
d=json.loads(sys.argv[1])
ports={f['port']:f for f in d['forwards']}
assert int(sys.argv[2]) in ports and ports[int(sys.argv[2])]['peer_id']==sys.argv[3]
assert ports[int(sys.argv[2])]['service']=='echo' and ports[int(sys.argv[2])]['listening']
assert d['exposes']==[]
" "$out" "$echo_fwd" "$b_id"
check "knit forwards --json on C ($out)" $?
out=$("$knit" forwards --json --data-dir "$tmp/b")
python3 -c "
import json,sys
d=json.loads(sys.argv[1])
e={x['service']:x for x in d['exposes']}
assert set(e)=={'echo','sha','dead'} and e['echo']['allow']==[sys.argv[2]] and not e['echo']['any']
" "$out" "$c_id"
check "knit forwards --json on B ($out)" $?

# (c) A is not allowed
a_fwd=$(fwd a echo)
out=$(timeout 40 $tcp client-closed "$a_fwd" 35 2>&1)
check "(c) A's connection to a service not exposed to it is closed ($out)" $?
for _ in $(seq 20); do grep -q "refused $a_id for service echo: not allowed" "$tmp/b.log" && break; sleep 0.1; done
grep -q "knit: \[warn\] refused $a_id for service echo: not allowed" "$tmp/b.log"
check "(c) B logs the refusal of A" $?
grep -q "forward 127.0.0.1:$a_fwd: $b_id refused service echo: not allowed" "$tmp/a.log"
check "(c) A logs why its connection was refused" $?

# (d) exposed, but nothing listens there
out=$(timeout 20 $tcp client-closed "$dead_fwd" 5 2>&1)
check "(d) nothing listening behind the exposed port: closed at once ($out)" $?
grep -q "refused $c_id for service dead: 127.0.0.1:$dead_port refused the connection" "$tmp/b.log"
check "(d) B logs that the service's port refused" $?

# (f) knit forward --remove closes the listener
out=$("$knit" forward --data-dir "$tmp/c" --remove "$dead_fwd" 2>&1)
check "(f) forward --remove succeeds ($out)" $?
out=$(timeout 10 $tcp client-refused "$dead_fwd" 2>&1)
check "(f) the removed forward's port refuses connections ($out)" $?
out=$("$knit" forward --data-dir "$tmp/c" --remove "$dead_fwd" 2>&1)
[ $? -eq 1 ] && grep -q "no forward listens on port $dead_fwd" <<<"$out"
check "(f) removing it again says there is none ($out)" $?
out=$("$knit" expose --data-dir "$tmp/b" --remove dead 2>&1)
check "expose --remove succeeds ($out)" $?

# (e) SIGTERM on B resets a connection that is open through it
$tcp client-hold "$echo_fwd" 20 >"$tmp/hold.out" 2>&1 &
hold=$!
pids+=($hold)
for _ in $(seq 100); do grep -q '^ready' "$tmp/hold.out" && break; sleep 0.1; done
grep -q '^ready' "$tmp/hold.out"
check "(e) a connection through the forward works before the shutdown ($(cat "$tmp/hold.out"))" $?
out=$("$knit" forwards --json --data-dir "$tmp/c")$'\n'$("$knit" forwards --json --data-dir "$tmp/b")
python3 -c "
import json,sys
c,b=(json.loads(l) for l in sys.argv[1].splitlines())
assert [f['connections'] for f in c['forwards'] if f['port']==int(sys.argv[2])]==[1]
assert [e['connections'] for e in b['exposes'] if e['service']=='echo']==[1]
" "$out" "$echo_fwd"
check "(e) knit forwards counts the open connection on both sides ($out)" $?
kill -TERM "${pid[b]}"
for _ in $(seq 100); do kill -0 "$hold" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$hold" 2>/dev/null; then
    kill -KILL "$hold"
    check "(e) the client's connection was not closed 10 s after SIGTERM on the exposing daemon" 1
else
    wait "$hold"
    rc=$?
    [ $rc -eq 0 ] && grep -q '^closed: reset after' "$tmp/hold.out"
    check "(e) SIGTERM on the exposing daemon resets the client's connection ($(cat "$tmp/hold.out"))" $?
fi

# Every daemon stops cleanly (and, in a sanitizer build, without a report:
# every forwarded connection freed on every path above).
for n in a c; do kill -TERM "${pid[$n]}" 2>/dev/null; done
for n in a b c; do
    for _ in $(seq 100); do kill -0 "${pid[$n]}" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "${pid[$n]}" 2>/dev/null; then
        check "daemon $n stops within 10 s of SIGTERM" 1
        continue
    fi
    wait "${pid[$n]}"
    rc=$?
    ! grep -q "Sanitizer" "$tmp/$n.log" && [ $rc -eq 0 ]
    check "daemon $n exits 0 with no sanitizer report (rc $rc)" $?
done

echo "$passes passed, $failures failed"
if [ "$failures" -ne 0 ]; then
    for n in a b c; do echo "---- $n.log"; tail -30 "$tmp/$n.log"; done
fi
[ "$failures" -eq 0 ]
