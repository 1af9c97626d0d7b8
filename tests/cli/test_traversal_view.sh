#!/usr/bin/env bash
# How `knit peers` and `knit status` show hole punching and port mapping,
# for values a loopback run never produces, against a fake daemon on the
# control socket (a Unix socket in a temporary directory, no network) that
# answers crafted messages (node/control_proto.h):
#   - peers: a peer made direct by punching ("direct after 312 ms" and
#     time_to_direct_ms 312.4), one still relayed after a failed attempt
#     (the reason), one being punched ("punching"), one never punched
#     ("punch": null, no note);
#   - status: a PCP mapping (method, external multiaddr, lease left), a
#     gateway that did not answer (waiting, next try, the error), and the
#     hole-punching counters;
#   - an answer whose port mapping state is past the last one is refused.
set -u
knit=$1
. "$(dirname "$0")/lib.sh" travview
command -v python3 >/dev/null || { echo "python3 is needed to play the daemon"; exit 1; }

# The fake daemon: takes one request, checks its type, answers the crafted
# message named by $2 and hangs up. Messages are hand-packed msgpack maps
# (proto/msg.h).
cat >"$tmp/fake.py" <<'EOF'
import os, socket, struct, sys
path, mode = sys.argv[1], sys.argv[2]

def uint(v): return b"\xcf" + struct.pack(">Q", v)
def boolean(b): return b"\xc3" if b else b"\xc2"
def text(s): return b"\xd9" + bytes([len(s)]) + s.encode()
def fields(pairs):
    out = b"\xde" + struct.pack(">H", len(pairs))
    for k, v in pairs:
        out += bytes([k]) + v
    return out
def array(items): return b"\xdc" + struct.pack(">H", len(items)) + b"".join(items)
def frame(pairs):
    body = fields(pairs)
    return struct.pack(">I", len(body)) + body

IDS = ["12D3KooWAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
       "12D3KooWBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB",
       "12D3KooWCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC",
       "12D3KooWDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDD"]
RELAYED = "/ip4/203.0.113.10/udp/4001/p2p/" + IDS[3] + "/p2p-circuit"

def peer(i, path, addr, punch):
    pairs = [(1, text(IDS[i])), (2, text(path)), (3, text(addr)),
             (4, uint(1500))]
    if punch is not None:
        pairs.append((5, fields(punch)))
    return fields(pairs)

def status(pm):
    return [(0, uint(15)), (1, text(IDS[0])), (2, uint(2)), (3, uint(3)),
            (4, uint(2)), (5, uint(3)), (6, uint(2)), (7, boolean(True)),
            (8, boolean(False)), (9, uint(3)), (10, uint(2)),
            (11, array([])), (12, array([text(RELAYED)])), (13, uint(0)),
            (14, uint(0)), (15, uint(0)), (16, fields(pm)),
            (17, fields([(1, uint(5)), (2, uint(3)), (3, uint(2)),
                         (4, uint(41)), (5, uint(0))]))]

if mode == "peers":
    want = 10
    reply = frame([(0, uint(11)), (1, array([
        peer(0, "direct", "/ip4/198.51.100.2/udp/4001",
             [(1, uint(2)), (2, uint(1)), (3, uint(1)), (4, boolean(False)),
              (5, uint(312400)), (6, text("no answer to probes"))]),
        peer(1, "relayed", RELAYED,
             [(1, uint(1)), (2, uint(0)), (3, uint(1)), (4, boolean(False)),
              (6, text("peer behind a symmetric NAT"))]),
        peer(2, "relayed", RELAYED,
             [(1, uint(1)), (2, uint(0)), (3, uint(0)), (4, boolean(True))]),
        peer(3, "direct", "/ip4/203.0.113.10/udp/4001", None)]))])
elif mode == "mapped":
    want = 14
    reply = frame(status([(1, uint(2)), (2, text("pcp")),
                          (3, text("/ip4/203.0.113.1/udp/4001")),
                          (4, uint(3599)), (5, uint(0)), (6, text(""))]))
elif mode == "waiting":
    want = 14
    reply = frame(status([(1, uint(3)), (4, uint(0)), (5, uint(25)),
                          (6, text("pcp: no answer from 10.1.1.1:5351"))]))
elif mode == "bad-state":
    want = 14
    reply = frame(status([(1, uint(5)), (4, uint(0)), (5, uint(0)),
                          (6, text(""))]))

s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path)
s.listen(1)
s.settimeout(20)
open(path + ".ready", "w").close()
c, _ = s.accept()
c.settimeout(20)
req = b""
while len(req) < 4 or len(req) < 4 + struct.unpack(">I", req[:4])[0]:
    chunk = c.recv(4096)
    if not chunk:
        sys.exit("fake daemon: request cut short")
    req += chunk
# {0: type}: a bare request.
assert req[4:] == bytes([0x81, 0x00, want]), req
c.sendall(reply)
c.close()
os.unlink(path)
EOF

# ask MODE ARGS...: the fake daemon answers MODE to `knit ARGS`; sets rc,
# out, err.
ask() {
    local mode=$1
    shift
    rm -f "$tmp/control.sock" "$tmp/control.sock.ready"
    python3 "$tmp/fake.py" "$tmp/control.sock" "$mode" 2>"$tmp/fake.err" &
    local fake=$!
    for _ in $(seq 100); do [ -e "$tmp/control.sock.ready" ] && break; sleep 0.05; done
    out=$(timeout 30 "$knit" "$@" --data-dir "$tmp" 2>"$tmp/err")
    rc=$?
    err=$(cat "$tmp/err")
    wait "$fake"
    local fake_rc=$?
    [ "$fake_rc" -eq 0 ] || { echo "fake daemon ($mode) failed:"; cat "$tmp/fake.err"; }
    return "$fake_rc"
}

# --- knit peers ----------------------------------------------------------
ask peers peers --json; check "fake daemon served peers --json" $?
[ "$rc" -eq 0 ]; check "peers --json exits 0 ($rc: $err)" $?
python3 -c '
import json, sys
d = json.loads(sys.argv[1])
assert [p["peer_id"][8] for p in d] == ["A", "B", "C", "D"], "order"
a, b, c, e = d
assert a["punch"] == {"attempts": 2, "successes": 1, "failures": 1,
                      "in_progress": False, "time_to_direct_ms": 312.4,
                      "last_failure": "no answer to probes"}, a["punch"]
assert b["path"] == "relayed"
assert b["punch"] == {"attempts": 1, "successes": 0, "failures": 1,
                      "in_progress": False, "time_to_direct_ms": None,
                      "last_failure": "peer behind a symmetric NAT"}, b["punch"]
assert c["punch"]["in_progress"] is True and c["punch"]["last_failure"] is None
assert e["punch"] is None, e["punch"]
assert a["rtt_ms"] == 1.5
' "$out"
check "peers --json carries each peer's punch ($out)" $?

ask peers peers; check "fake daemon served peers" $?
[ "$rc" -eq 0 ]; check "peers exits 0 ($rc: $err)" $?
grep -Eq '^PEER ID +PATH +ADDRESS +RTT +HOLE PUNCHING$' <<<"$out" &&
    grep -Eq '^12D3KooWA+  direct   /ip4/198\.51\.100\.2/udp/4001 +1\.50 ms  direct after 312 ms$' <<<"$out" &&
    grep -Eq '^12D3KooWB+  relayed  /ip4/.*/p2p-circuit  1\.50 ms  punch failed: peer behind a symmetric NAT$' <<<"$out" &&
    grep -Eq '^12D3KooWC+  relayed  /ip4/.*/p2p-circuit  1\.50 ms  punching$' <<<"$out" &&
    grep -Eq '^12D3KooWD+  direct   /ip4/203\.0\.113\.10/udp/4001 +1\.50 ms$' <<<"$out"
check "peers text shows the hole-punching column ($out)" $?

# --- knit status -----------------------------------------------------------
ask mapped status --json; check "fake daemon served status --json (mapped)" $?
[ "$rc" -eq 0 ]; check "status --json exits 0 ($rc: $err)" $?
python3 -c '
import json, sys
s = json.loads(sys.argv[1])
assert s["port_mapping"] == {"state": "mapped", "method": "pcp",
                             "external": "/ip4/203.0.113.1/udp/4001",
                             "lease_left_s": 3599, "next_try_s": None,
                             "error": None}, s["port_mapping"]
assert s["hole_punching"] == {"attempts": 5, "direct": 3, "failed": 2,
                              "probes": 41, "sockets": 0}, s["hole_punching"]
assert s["reachability"] == "private" and s["alt_port"] is None
' "$out"
check "status --json: a PCP mapping and the punch counters ($out)" $?
ask mapped status; check "fake daemon served status (mapped)" $?
grep -q '^port mapping: /ip4/203.0.113.1/udp/4001 by pcp (lease 3599 s left)$' <<<"$out" &&
    grep -q '^hole punching: 5 attempts, 3 direct, 2 failed (41 probes, 0 birthday sockets)$' <<<"$out" &&
    ! grep -q 'last error' <<<"$out"
check "status text: the mapping and the counters ($out)" $?

ask waiting status --json; check "fake daemon served status --json (waiting)" $?
python3 -c '
import json, sys
s = json.loads(sys.argv[1])
assert s["port_mapping"] == {"state": "waiting", "method": None,
                             "external": None, "lease_left_s": None,
                             "next_try_s": 25,
                             "error": "pcp: no answer from 10.1.1.1:5351"}, \
    s["port_mapping"]
' "$out"
check "status --json: waiting for a gateway ($out)" $?
ask waiting status; check "fake daemon served status (waiting)" $?
grep -q '^port mapping: no gateway mapped a port; next try in 25 s$' <<<"$out" &&
    grep -q '^  last error: pcp: no answer from 10.1.1.1:5351$' <<<"$out"
check "status text: waiting, with the error ($out)" $?

ask bad-state status; check "fake daemon served status (bad state)" $?
[ "$rc" -eq 1 ] && [ -z "$out" ] && [ -n "$err" ]
check "a port mapping state past the last is refused ($rc: $err)" $?

echo "$passes passed, $failures failed"
[ "$failures" -eq 0 ]
