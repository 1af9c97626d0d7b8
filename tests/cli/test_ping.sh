#!/usr/bin/env bash
# knit ping and knit bench between two daemons on loopback (127.0.0.1 only):
# a session is set up on demand, echoes come back, a transfer is counted and
# hashed alike by the far side, JSON output parses, and bad targets are
# refused plainly.
set -u
knit=$1
. "$(dirname "$0")/lib.sh" ping
start_daemon() { start_knit_daemon "$1" --listen /ip4/127.0.0.1/udp/0; }
start_daemon a
start_daemon b
b_addr=$("$knit" id --data-dir "$tmp/b" | sed -n 2p)
b_id=$("$knit" id --data-dir "$tmp/b" | sed -n 1p)

out=$(timeout 30 "$knit" ping --data-dir "$tmp/a" -c 3 -i 50 "$b_addr" 2>&1)
check "ping exits 0 ($out)" $?
[ "$(grep -c '^32 bytes: seq=[123] time=' <<<"$out")" = 3 ]; check "three echoes" $?
grep -q "^3 sent, 3 received, 0% lost, rtt min/avg/max = " <<<"$out"; check "ping summary" $?

out=$(timeout 30 "$knit" ping --data-dir "$tmp/a" -c 2 -i 10 --json "$b_addr")
check "ping --json exits 0" $?
python3 -c "
import json,sys
d=json.loads(sys.argv[1])
assert d['peer_id']==sys.argv[2] and d['sent']==2 and d['received']==2 and len(d['rtt_ms'])==2
assert d['setup_ms']==0   # the session from the first ping is still up
" "$out" "$b_id"
check "ping --json fields ($out)" $?

out=$(timeout 60 "$knit" bench --data-dir "$tmp/a" -b 8M --json "$b_addr")
check "bench exits 0" $?
python3 -c "
import json,sys
d=json.loads(sys.argv[1])
assert d['bytes']==8*1024*1024 and d['bytes_sent']==8*1024*1024
assert d['hash_ok'] is True and d['seconds']>0 and d['mbit_per_s']>0
" "$out"
check "bench --json counted and hashed alike by the peer ($out)" $?
out=$(timeout 60 "$knit" bench --data-dir "$tmp/a" -b 1000001 "$b_addr")
check "bench of an odd size exits 0 ($out)" $?
grep -q "^sha: ok" <<<"$out"; check "bench says sha: ok ($out)" $?

# The reverse direction works over the session B now has with A.
a_addr=$("$knit" id --data-dir "$tmp/a" | sed -n 2p)
timeout 30 "$knit" ping --data-dir "$tmp/b" -c 1 -i 0 "$a_addr" >/dev/null 2>&1
check "ping in the other direction" $?

timeout 10 "$knit" ping --data-dir "$tmp/a" /ip4/127.0.0.1/udp/1 >/dev/null 2>"$tmp/err"
[ $? -eq 2 ] && grep -q "give the peer as <peer-id>" "$tmp/err"; check "an address without /p2p is refused with the forms to use" $?
timeout 10 "$knit" ping --data-dir "$tmp/a" /ip4/127.0.0.1/udp/99999/p2p/"$b_id" >/dev/null 2>"$tmp/err"
[ $? -eq 2 ] && [ "$(wc -l <"$tmp/err")" = 1 ]; check "a bad port is a one-line usage error" $?
timeout 10 "$knit" ping --data-dir "$tmp/a" -c 0 "$b_addr" >/dev/null 2>&1
[ $? -eq 2 ]; check "-c 0 is refused" $?
timeout 10 "$knit" ping --data-dir "$tmp/nobody" -c 1 "$b_addr" >/dev/null 2>"$tmp/err"
[ $? -eq 1 ] && grep -q "no daemon is running" "$tmp/err"; check "no daemon: said plainly" $?
timeout 10 "$knit" ping --data-dir "$tmp/a" -c 1 "$a_addr" >/dev/null 2>"$tmp/err"
[ $? -eq 1 ]; check "pinging oneself is refused" $?

echo "$passes passed, $failures failed"
[ "$failures" -eq 0 ]
