#!/usr/bin/env bash
# `knit status` and `knit peers` against three daemons on loopback
# (127.0.0.1 only, free ports), the second and third bootstrapped from the
# first: the status text and its JSON keys and values (the keys the
# traversal issue fixes), each node's own address as observed by its peers
# (identify), a mapping seen without a NAT, and direct paths in
# `knit peers --json`; port mapping "off" (loopback has nothing to map;
# daemon 2 also says --no-port-mapping) and hole punching never needed
# (every counter 0, no peer's "punch"). Also the usage errors, the --help
# texts and the answer when no daemon runs.
set -u
knit=$1
. "$(dirname "$0")/lib.sh" status
command -v python3 >/dev/null || { echo "python3 is needed to read the JSON"; exit 1; }

# Usage errors and no daemon, before anything runs.
"$knit" status --data-dir "$tmp/none" >/dev/null 2>"$tmp/err"
[ $? -eq 1 ] && grep -q '^knit status: ' "$tmp/err" && [ "$(wc -l <"$tmp/err")" -eq 1 ]
check "knit status without a daemon fails with one line ($(cat "$tmp/err"))" $?
"$knit" status extra >/dev/null 2>"$tmp/err"
[ $? -eq 2 ] && grep -q "unexpected argument 'extra'" "$tmp/err"
check "knit status with an argument is a usage error ($(cat "$tmp/err"))" $?
"$knit" status --bogus >/dev/null 2>"$tmp/err"
[ $? -eq 2 ] && grep -q "unknown option --bogus" "$tmp/err"
check "knit status --bogus is a usage error ($(cat "$tmp/err"))" $?
out=$("$knit" status --help)
[ $? -eq 0 ] && [[ $out == usage:* ]] && grep -q '"observed_addrs"' <<<"$out" &&
    grep -q '"port_mapping"' <<<"$out" && grep -q '"hole_punching"' <<<"$out" &&
    grep -q '"lease_left_s"' <<<"$out"
check "knit status --help documents the JSON keys" $?
out=$("$knit" peers --help)
[ $? -eq 0 ] && grep -q '"punch"' <<<"$out" && grep -q '"time_to_direct_ms"' <<<"$out" &&
    grep -q '"last_failure"' <<<"$out"
check "knit peers --help documents the punch keys" $?
out=$("$knit" daemon --help)
[ $? -eq 0 ] && grep -q -- '--no-port-mapping' <<<"$out"
check "knit daemon --help documents --no-port-mapping" $?
"$knit" daemon --no-port-mapping=yes --data-dir "$tmp/none" >/dev/null 2>"$tmp/err"
[ $? -eq 2 ] && grep -q "no-port-mapping" "$tmp/err"
check "--no-port-mapping takes no value ($(cat "$tmp/err"))" $?
"$knit" --help | grep -q '^  status '
check "knit --help lists status" $?

start_daemon() {   # start_daemon I [bootstrap multiaddr [more options]]
    local args=(--listen /ip4/127.0.0.1/udp/0 --dht-mode server)
    [ $# -ge 2 ] && args+=(--bootstrap "$2")
    [ $# -ge 3 ] && args+=("${@:3}")
    start_knit_daemon "n$1" "${args[@]}"
}

start_daemon 0
boot=$("$knit" id --data-dir "$tmp/n0" | sed -n 2p)
start_daemon 1 "$boot"
# The traversal options are taken (their effect is in the unit and sim
# tests): daemon 2 trusts one observer, relays for daemon 0 unlimited and
# does not map a port.
start_daemon 2 "$boot" --min-observers 1 \
    --relay-allow "$("$knit" id --data-dir "$tmp/n0" | sed -n 1p)" \
    --no-port-mapping
grep -q '^port mapping: off (no IPv4 socket beyond loopback)$' "$tmp/n0.log"
check "daemon 0 on loopback says port mapping is off and why" $?
grep -q '^port mapping: off (--no-port-mapping)$' "$tmp/n2.log"
check "daemon 2 says --no-port-mapping turned port mapping off" $?
declare -a ids addrs
for i in 0 1 2; do
    ids[$i]=$("$knit" id --data-dir "$tmp/n$i" | sed -n 1p)
    # The listen address without /p2p: what the others observe.
    addrs[$i]=$("$knit" id --data-dir "$tmp/n$i" | sed -n 2p | sed 's,/p2p/.*,,')
done

# Checks one node's status JSON; prints why it fails. Every required key
# with a value from its set; the node's own address among the observed
# ones once its peers' identify reached it; on loopback there is no NAT.
check_status_json='
import json, sys
s = json.loads(sys.argv[1])
me, addr = sys.argv[2], sys.argv[3]
behaviours = {"endpoint-independent", "address-dependent",
              "address-and-port-dependent", "unknown"}
assert s["peer_id"] == me, "peer_id"
assert s["reachability"] in {"public", "private", "unknown"}, "reachability"
assert s["reachability_confidence"] in range(4), "reachability_confidence"
assert isinstance(s["autonat_servers"], int), "autonat_servers"
nat = s["nat"]
assert nat["mapping"] in behaviours and nat["filtering"] in behaviours, "nat"
assert nat["mapping_confidence"] in {"none", "low", "high"}, "mapping conf"
assert nat["filtering_confidence"] in {"none", "low", "high"}, "filtering conf"
assert isinstance(s["relays"], list), "relays"
for r in s["relays"]:
    assert r.endswith("/p2p-circuit"), "relay " + r
for o in s["observed_addrs"]:
    assert o["addr"].startswith("/ip4/") and "/udp/" in o["addr"], "addr"
    assert isinstance(o["observers"], int) and o["observers"] >= 1, "observers"
    assert isinstance(o["trusted"], bool), "trusted"
mine = [o for o in s["observed_addrs"] if o["addr"] == addr]
assert mine and mine[0]["trusted"], "own address not observed and trusted"
assert nat["mapping"] == "endpoint-independent", "mapping " + nat["mapping"]
assert nat["behind_nat"] is False, "behind_nat"
for k in ("reservations_served", "circuits_served"):
    assert isinstance(s[k], int) and s[k] >= 0, k
assert s["alt_port"] is None or 0 < s["alt_port"] < 65536, "alt_port"
# Loopback: nothing to map, and every peer is direct without punching.
assert s["port_mapping"] == {"state": "off", "method": None, "external": None,
                             "lease_left_s": None, "next_try_s": None,
                             "error": None}, "port_mapping"
assert s["hole_punching"] == {"attempts": 0, "direct": 0, "failed": 0,
                              "probes": 0, "sockets": 0}, "hole_punching"
'
for i in 0 1 2; do
    # Identify runs as each session comes up; give it a few seconds.
    why=""
    for _ in $(seq 50); do
        out=$("$knit" status --json --data-dir "$tmp/n$i" 2>&1)
        why=$(python3 -c "$check_status_json" "$out" "${ids[$i]}" "${addrs[$i]}" 2>&1) && break
        sleep 0.2
    done
    python3 -c "$check_status_json" "$out" "${ids[$i]}" "${addrs[$i]}" >/dev/null 2>&1
    check "node $i: knit status --json ($out) ${why##*AssertionError: }" $?
done

out=$("$knit" status --data-dir "$tmp/n1")
[ "$(sed -n 1p <<<"$out")" = "peer ID: ${ids[1]}" ] &&
    grep -Eq '^reachability: (public|private|unknown) \(confidence [0-3] of 3, [0-9]+ AutoNAT servers?\)$' <<<"$out" &&
    grep -Eq '^NAT mapping: endpoint-independent \((low|high) confidence, no NAT(, sequential ports)?\)$' <<<"$out" &&
    grep -Eq '^NAT filtering: (endpoint-independent|address-dependent|address-and-port-dependent|unknown) \(' <<<"$out" &&
    grep -q '^observed addresses:$' <<<"$out" &&
    grep -Eq "^  ${addrs[1]}  [0-9]+ observers?  trusted" <<<"$out" &&
    grep -Eq '^relays in use: none$' <<<"$out" &&
    grep -Eq '^relay service: [0-9]+ reservations?, [0-9]+ circuits? served \((alternate port [0-9]+|no alternate port)\)$' <<<"$out" &&
    grep -q '^port mapping: off$' <<<"$out" &&
    grep -q '^hole punching: 0 attempts, 0 direct, 0 failed (0 probes, 0 birthday sockets)$' <<<"$out"
check "knit status text ($out)" $?
out=$("$knit" status --data-dir "$tmp/n2")
grep -q '^port mapping: off$' <<<"$out"
check "knit status text with --no-port-mapping ($out)" $?

# Node 0 has a session with both others, all direct.
out=$("$knit" peers --json --data-dir "$tmp/n0")
python3 -c '
import json, sys
d = json.loads(sys.argv[1])
want = {sys.argv[2]: sys.argv[3], sys.argv[4]: sys.argv[5]}
assert len(d) == 2, "two peers"
for p in d:
    assert set(p) == {"peer_id", "path", "addr", "rtt_ms", "punch"}, sorted(p)
    assert p["path"] == "direct", p["path"]
    assert p["punch"] is None, "punch %r" % p["punch"]
    assert want[p["peer_id"]] == p["addr"], p["addr"]
    assert p["rtt_ms"] is None or p["rtt_ms"] >= 0
' "$out" "${ids[1]}" "${addrs[1]}" "${ids[2]}" "${addrs[2]}"
check "knit peers --json: both peers, direct, at their addresses ($out)" $?
out=$("$knit" peers --data-dir "$tmp/n0")
grep -Eq "^${ids[1]}  direct  ${addrs[1]}  " <<<"$out"
check "knit peers text shows the direct path ($out)" $?

echo "$passes passed, $failures failed"
[ "$failures" -eq 0 ]
