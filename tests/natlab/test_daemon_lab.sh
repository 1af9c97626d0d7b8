#!/usr/bin/env bash
# The daemon on a real network: two hosts on one link, no NAT yet.
#   - starts with an explicit --listen, prints its ID and addresses;
#   - a datagram from the other host reaches the node core with the right
#     source address (the libuv driver works end to end);
#   - a second daemon with the defaults finds port 4001 taken, says so and
#     takes a free port;
#   - both stop cleanly (exit 0) on SIGTERM.
set -eu
knit=$1
. "$(dirname "$0")/lab.sh"
lab_require_root

lab_host a
lab_host b
lab_link a 203.0.113.1/24 b 203.0.113.2/24

dir1=$LAB_TMP/node1
dir2=$LAB_TMP/node2
lab_spawn a "$LAB_TMP/d1.log" "$knit" daemon --data-dir "$dir1" \
    --listen /ip4/203.0.113.1/udp/4001 --log-level debug --no-port-mapping
pid1=$LAB_LAST_PID
lab_wait_for "$LAB_TMP/d1.log" '^running' 10

id1=$("$knit" id --data-dir "$dir1" | head -n 1)
grep -q "^peer ID: $id1\$" "$LAB_TMP/d1.log" || lab_fail "daemon printed another ID than knit id"
grep -q "^  /ip4/203.0.113.1/udp/4001/p2p/$id1\$" "$LAB_TMP/d1.log" ||
    lab_fail "listen address missing from the daemon's output"
[ "$(stat -c %a "$dir1/identity.key")" = 600 ] || lab_fail "key file mode is not 0600"
# knit id asks the running daemon (control socket) for its addresses.
[ "$("$knit" id --data-dir "$dir1" --json)" = \
  "{\"peer_id\": \"$id1\", \"addrs\": [\"/ip4/203.0.113.1/udp/4001/p2p/$id1\"]}" ] ||
    lab_fail "knit id --json does not show the daemon's address"

lab_exec b bash -c 'printf knit-lab > /dev/udp/203.0.113.1/4001'
lab_wait_for "$LAB_TMP/d1.log" 'dropped 8-byte packet from 203\.0\.113\.2:[0-9]+' 5

lab_spawn a "$LAB_TMP/d2.log" "$knit" daemon --data-dir "$dir2" --no-port-mapping
pid2=$LAB_LAST_PID
lab_wait_for "$LAB_TMP/d2.log" '^running' 10
grep -Eq '^port 4001 is taken; listening on port [0-9]+ instead' "$LAB_TMP/d2.log" ||
    lab_fail "second daemon did not say that port 4001 was taken"
id2=$("$knit" id --data-dir "$dir2" | head -n 1)
[ "$id1" != "$id2" ] || lab_fail "two data directories gave the same identity"

lab_stop "$pid1" 5
[ "$LAB_STATUS" = 0 ] || lab_fail "daemon 1 exited $LAB_STATUS on SIGTERM, not 0"
lab_stop "$pid2" 5
[ "$LAB_STATUS" = 0 ] || lab_fail "daemon 2 exited $LAB_STATUS on SIGTERM, not 0"
grep -q '^stopped$' "$LAB_TMP/d1.log" || lab_fail "daemon 1 did not report a clean stop"
echo "PASS: daemon lab"
