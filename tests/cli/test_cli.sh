#!/usr/bin/env bash
# The knit command line, end to end: help and version, usage errors (one
# line, exit 2), identity commands, key file permission refusal, and a daemon
# on loopback that starts, prints its addresses and stops cleanly on SIGINT.
set -u
knit=$1
. "$(dirname "$0")/lib.sh" cli

run 0 "$knit" --version; check "--version exits 0" $?
[[ $out =~ ^knit\ [0-9]+\.[0-9]+\.[0-9]+$ ]]; check "--version prints 'knit X.Y.Z'" $?
for cmd in "" daemon id keygen; do
    run 0 "$knit" $cmd --help; check "knit $cmd --help exits 0" $?
    [[ $out == usage:* ]]; check "knit $cmd --help prints usage" $?
done

run 2 "$knit"; check "no command exits 2" $?
run 2 "$knit" frobnicate; check "unknown command exits 2" $?
one_line_stderr; check "unknown command: one line" $?
for args in "daemon --bogus" "id --bogus" "keygen -x" "daemon --listen" \
            "daemon --data-dir" "daemon --listen /ip4/1.2.3.4/udp/70000" \
            "daemon --listen /ip4/1.2.3.4/udp/1/p2p-circuit" \
            "daemon --log-level loud" "daemon --keepalive 0" \
            "daemon --keepalive 5s" "id extra-arg"; do
    run 2 "$knit" $args; check "'knit $args' exits 2" $?
    one_line_stderr; check "'knit $args': one line on stderr ($err)" $?
done
run 2 "$knit" daemon --bogus; [[ $err == *"--bogus"* ]]; check "error names the option" $?

dir=$tmp/data
run 1 "$knit" id --data-dir "$dir"; check "id without identity fails" $?
[[ $err == *"no identity"* ]]; check "id without identity says so" $?
run 0 "$knit" keygen --data-dir "$dir"; check "keygen exits 0" $?
id=$out
[[ $id =~ ^12D3KooW[1-9A-HJ-NP-Za-km-z]{44}$ ]]; check "keygen prints a 12D3KooW peer ID ($id)" $?
[ "$(stat -c %a "$dir/identity.key")" = 600 ]; check "key file mode 0600" $?
run 0 "$knit" id --data-dir "$dir"; [ "$out" = "$id" ]; check "id prints the keygen ID" $?
run 0 "$knit" id --data-dir "$dir" --json
[ "$out" = "{\"peer_id\": \"$id\", \"addrs\": []}" ]; check "id --json ($out)" $?
KNIT_DATA_DIR=$dir run 0 "$knit" id; [ "$out" = "$id" ]; check "KNIT_DATA_DIR is used" $?
run 1 "$knit" keygen --data-dir "$dir"; check "keygen refuses to overwrite" $?
run 0 "$knit" id --data-dir "$dir"; [ "$out" = "$id" ]; check "identity unchanged after refused keygen" $?
chmod 644 "$dir/identity.key"
run 1 "$knit" id --data-dir "$dir"; check "group/other-readable key refused" $?
[[ $err == *"readable by group or others"* && $err == *"$dir/identity.key"* ]]
check "refusal names the file and the reason ($err)" $?
chmod 600 "$dir/identity.key"

run 0 "$knit" keygen --output "$tmp/other.key" --json; check "keygen --output" $?
[[ $out == "{\"peer_id\": \"12D3KooW"*"\", \"key_file\": \"$tmp/other.key\"}" ]]
check "keygen --json ($out)" $?

# A daemon on loopback: port 0 asks the OS for a free port.
"$knit" daemon --data-dir "$dir" --listen /ip4/127.0.0.1/udp/0 >"$tmp/d.log" 2>&1 &
daemon_pid=$!
pids+=("$daemon_pid")
for _ in $(seq 100); do grep -q '^running' "$tmp/d.log" && break; sleep 0.1; done
grep -Eq "^  /ip4/127\.0\.0\.1/udp/[1-9][0-9]*/p2p/$id\$" "$tmp/d.log"
check "daemon lists its loopback address with /p2p/<id>" $?
grep -q "^peer ID: $id\$" "$tmp/d.log"; check "daemon uses the stored identity" $?
addr=$(grep -Eo "/ip4/127\.0\.0\.1/udp/[0-9]+/p2p/$id" "$tmp/d.log")
run 0 "$knit" id --data-dir "$dir" --json
[ "$out" = "{\"peer_id\": \"$id\", \"addrs\": [\"$addr\"]}" ]
check "id --json shows the running daemon's address ($out)" $?
run 0 "$knit" id --data-dir "$dir"
[ "$out" = "$id"$'\n'"$addr" ]; check "id prints ID then addresses ($out)" $?
run 1 "$knit" daemon --data-dir "$dir" --listen /ip4/127.0.0.1/udp/0
check "a second daemon on the same data directory is refused" $?
[[ $err == *"another knit daemon is running"* ]]; check "refusal says why ($err)" $?
kill -INT "$daemon_pid"
status=124
for _ in $(seq 50); do
    if ! kill -0 "$daemon_pid" 2>/dev/null; then wait "$daemon_pid"; status=$?; break; fi
    sleep 0.1
done
daemon_pid=""
[ "$status" -eq 0 ]; check "daemon exits 0 on SIGINT (status $status)" $?
grep -q '^stopped$' "$tmp/d.log"; check "daemon reports a clean stop" $?
[ ! -e "$dir/control.sock" ]; check "control socket removed on exit" $?
[ $failures -eq 0 ] || cat "$tmp/d.log"

echo "$passes passed, $failures failed"
[ $failures -eq 0 ]
