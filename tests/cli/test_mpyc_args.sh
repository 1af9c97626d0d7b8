#!/usr/bin/env bash
# `knit mpyc` refusals, each with its exit code and a message that names
# what is wrong: --help, missing --parties or command, a malformed ID (by
# position), a duplicate, fewer than 2 parties, more than 32, bad --order,
# --session and --timeout values, no daemon running, and (with one daemon
# on 127.0.0.1) this node missing from the list.
set -u
knit=$1
. "$(dirname "$0")/lib.sh" mpyc-args
# expect CODE PATTERN args...: exit code CODE and PATTERN (grep -E) on stderr.
expect() {
    local code=$1 pattern=$2
    shift 2
    "$knit" mpyc "$@" >"$tmp/out" 2>"$tmp/err"
    local rc=$?
    [ "$rc" -eq "$code" ] && grep -Eq -- "$pattern" "$tmp/err"
    check "knit mpyc $* -> $code /$pattern/ (got $rc: $(cat "$tmp/err"))" $?
}
a=$("$knit" keygen --output "$tmp/a.key" 2>/dev/null)
b=$("$knit" keygen --output "$tmp/b.key" 2>/dev/null)
c=$("$knit" keygen --output "$tmp/c.key" 2>/dev/null)
nodir=(--data-dir "$tmp/none")

"$knit" mpyc --help >"$tmp/out" 2>&1
rc=$?
[ $rc -eq 0 ] && for w in --parties --order --session --timeout --data-dir sorted \
        given '-M <parties> -I <index> -P 127.0.0.1:<port>' 'exit code' SIGINT; do
    grep -qF -- "$w" "$tmp/out" || { echo "help lacks $w"; rc=1; }
done
check "knit mpyc --help lists the options" $rc
"$knit" --help | grep -q '^  mpyc '
check "knit --help lists mpyc" $?

expect 2 "missing --parties" "${nodir[@]}" -- true
expect 2 "missing the command" "${nodir[@]}" --parties "$a,$b"
expect 2 "missing the command" "${nodir[@]}" --parties "$a,$b" --
expect 2 "position 1: 'notanid' is not a peer ID" "${nodir[@]}" --parties "$a,notanid" -- true
expect 2 "position 2: '12D3KooWx' is not a peer ID" "${nodir[@]}" --parties "$a,$b,12D3KooWx" -- true
expect 2 "position 1: empty" "${nodir[@]}" --parties "$a,,$b" -- true
expect 2 "position 2: empty" "${nodir[@]}" --parties "$a,$b," -- true
expect 2 "$b is listed twice \(positions 1 and 2\)" "${nodir[@]}" --parties "$a,$b,$b" -- true
expect 2 "$a is listed twice \(positions 0 and 2\)" "${nodir[@]}" --parties "$a,$b,/p2p/$a" -- true
expect 2 "at least 2 peer IDs.*got 1" "${nodir[@]}" --parties "$a" -- true
many=$a
for i in $(seq 1 32); do many="$many,$("$knit" keygen --output "$tmp/k$i.key" 2>/dev/null)"; done
expect 2 "more than 32 peer IDs" "${nodir[@]}" --parties "$many" -- true
expect 2 "--order is given or sorted, not 'random'" "${nodir[@]}" --parties "$a,$b" --order random -- true
expect 2 "invalid session name 'a/b'" "${nodir[@]}" --parties "$a,$b" --session a/b -- true
expect 2 "invalid session name '123456789012345678901234567890123'" "${nodir[@]}" \
    --parties "$a,$b" --session 123456789012345678901234567890123 -- true
expect 2 "invalid --timeout '0'" "${nodir[@]}" --parties "$a,$b" --timeout 0 -- true
expect 2 "invalid --timeout '3601'" "${nodir[@]}" --parties "$a,$b" --timeout 3601 -- true
expect 2 "invalid --timeout '5s'" "${nodir[@]}" --parties "$a,$b" --timeout 5s -- true
expect 2 "unknown option --bogus" "${nodir[@]}" --bogus --parties "$a,$b" -- true
expect 1 "knit mpyc: .*(no daemon|not running|cannot connect)" "${nodir[@]}" --parties "$a,$b" -- true

# A daemon whose ID is not in the list.
"$knit" daemon --data-dir "$tmp/d" --listen /ip4/127.0.0.1/udp/0 >"$tmp/d.log" 2>&1 &
dpid=$!
pids+=("$dpid")
for _ in $(seq 100); do grep -q '^running' "$tmp/d.log" && break; sleep 0.1; done
own=$("$knit" id --data-dir "$tmp/d" | sed -n 1p)
expect 2 "this node \($own\) is not in --parties" --data-dir "$tmp/d" --parties "$a,$b" -- true
# The same with --order sorted.
expect 2 "this node \($own\) is not in --parties" --data-dir "$tmp/d" --parties "$a,$b,$c" --order sorted -- true

echo "$passes passed, $failures failed"
[ "$failures" -eq 0 ]
