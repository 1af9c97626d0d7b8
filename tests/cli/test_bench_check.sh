#!/usr/bin/env bash
# knit bench's verdict on what the daemon reports, against a fake daemon on
# the control socket (a Unix socket in a temporary directory, no network)
# that answers crafted bench-done messages: matching counts and hashes pass
# with "sha: ok", a hash or count that differs fails with exit 1 and says
# what differs, and the daemon's error for a cut-short answer is passed on.
# Also the bounds of --bytes.
set -u
knit=$1
. "$(dirname "$0")/lib.sh" benchcheck

# The fake daemon: takes one request, checks it is a bench request for
# 1 MiB, answers the crafted message named by $1 and hangs up. Messages
# are hand-packed msgpack maps (proto/msg.h, node/control_proto.h).
cat >"$tmp/fake.py" <<'EOF'
import os, socket, struct, sys
path, mode = sys.argv[1], sys.argv[2]

def uint(v): return b"\xcf" + struct.pack(">Q", v)
def text(s): return b"\xd9" + bytes([len(s)]) + s.encode()
def binary(b): return b"\xc4" + bytes([len(b)]) + b
def msg(fields):
    body = bytes([0x80 | len(fields)])
    for k, v in fields:
        body += bytes([k]) + v
    return struct.pack(">I", len(body)) + body

ours = bytes(range(32))
theirs = bytearray(ours)
sent = count = 1 << 20
if mode == "hash":
    theirs[31] ^= 1
elif mode == "short":
    count = sent - 1
elif mode == "long":
    count = sent + 1
if mode == "error":
    t = "the peer's answer ended after 8 of the 40 bytes it should have"
    reply = msg([(0, uint(127)), (1, uint(5)), (2, text(t))])
else:
    reply = msg([(0, uint(7)), (1, text("12D3KooWFakePeer")), (2, uint(count)),
                 (3, uint(250000)), (4, uint(1000)), (5, uint(0)),
                 (6, uint(0)), (7, uint(800)), (8, uint(sent)),
                 (9, binary(ours)), (10, binary(bytes(theirs)))])

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
body = req[4:]
# {0: 6, 1: target, 2: bytes}: the type and the size, however packed.
assert body[0] == 0x83 and body[1:3] == b"\x00\x06", body
assert body.endswith(b"\x02\xce\x00\x10\x00\x00") or \
       body.endswith(b"\x02\xcf" + struct.pack(">Q", 1 << 20)), body
c.sendall(reply)
c.close()
os.unlink(path)
EOF

peer=/ip4/127.0.0.1/udp/4001/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA
# run_bench MODE ARGS...: the fake daemon answers MODE; sets rc, out, err.
run_bench() {
    local mode=$1
    shift
    rm -f "$tmp/control.sock" "$tmp/control.sock.ready"
    python3 "$tmp/fake.py" "$tmp/control.sock" "$mode" 2>"$tmp/fake.err" &
    local fake=$!
    for _ in $(seq 100); do [ -e "$tmp/control.sock.ready" ] && break; sleep 0.05; done
    out=$(timeout 30 "$knit" bench --data-dir "$tmp" -b 1M "$@" "$peer" 2>"$tmp/err")
    rc=$?
    err=$(cat "$tmp/err")
    wait "$fake"
    local fake_rc=$?
    [ "$fake_rc" -eq 0 ] || { echo "fake daemon ($mode) failed:"; cat "$tmp/fake.err"; }
    return "$fake_rc"
}

run_bench ok; check "fake daemon served the ok run" $?
[ "$rc" -eq 0 ]; check "matching count and hash exit 0 ($rc: $err)" $?
grep -q "^sha: ok" <<<"$out"; check "matching: sha: ok ($out)" $?
grep -q "^sent 1.0 MiB to 12D3KooWFakePeer in 0.250 s: 33.6 Mbit/s$" <<<"$out"
check "matching: throughput as before ($out)" $?

run_bench ok --json; check "fake daemon served the ok --json run" $?
python3 -c "
import json,sys
d=json.loads(sys.argv[1])
assert d['hash_ok'] is True and d['bytes']==1<<20 and d['bytes_sent']==1<<20
" "$out"
check "matching --json: hash_ok true ($out)" $?

run_bench hash; check "fake daemon served the altered-hash run" $?
[ "$rc" -eq 1 ]; check "altered hash exits 1 ($rc)" $?
grep -q "^sha: FAILED" <<<"$out"; check "altered hash: sha: FAILED ($out)" $?
[[ $err == "knit bench: the peer's BLAKE2b-256 of the data differs from the sender's: the data arrived altered (sent 1048576 bytes, BLAKE2b-256 000102"*"; the peer read 1048576 bytes, BLAKE2b-256 000102"*"1e1e)" ]]
check "altered hash: said with both hashes ($err)" $?

run_bench hash --json; check "fake daemon served the altered-hash --json run" $?
[ "$rc" -eq 1 ]; check "altered hash --json exits 1 ($rc)" $?
python3 -c "
import json,sys
d=json.loads(sys.argv[1])
assert d['hash_ok'] is False
" "$out"
check "altered hash --json: hash_ok false ($out)" $?

run_bench short; check "fake daemon served the short run" $?
[ "$rc" -eq 1 ] && [[ $err == *"the peer read fewer bytes than were sent"* ]]
check "a short count exits 1 and says so ($rc: $err)" $?

run_bench long; check "fake daemon served the long run" $?
[ "$rc" -eq 1 ] && [[ $err == *"the peer read more bytes than were sent"* ]]
check "a long count exits 1 and says so ($rc: $err)" $?

run_bench error; check "fake daemon served the error run" $?
[ "$rc" -eq 1 ] && [ "$err" = "knit bench: the peer's answer ended after 8 of the 40 bytes it should have" ]
check "the daemon's error is passed on ($rc: $err)" $?

# --bytes: 1 to 64G, refused plainly before the daemon is asked.
usage() {   # usage NAME VALUE
    out=$("$knit" bench --data-dir "$tmp/none" -b "$2" "$peer" 2>&1)
    local r=$?
    [ "$r" -eq 2 ] && [ "$(wc -l <<<"$out")" = 1 ] &&
        [[ $out == "knit bench: invalid value '$2' for --bytes: give 1 to 64G bytes"* ]]
    check "$1 ($r: $out)" $?
}
usage "-b 0 is refused" 0
usage "-b over 64G is refused" 65G
usage "-b 64G+1 byte is refused" 68719476737
usage "-b huge is refused" 99999999999999999999999
usage "-b with a bad suffix is refused" 5T
usage "-b negative is refused" -5
usage "-b empty is refused" ""
"$knit" bench --data-dir "$tmp/none" -b 64G "$peer" >/dev/null 2>"$tmp/err"
[ $? -eq 1 ] && grep -q "no daemon is running" "$tmp/err"
check "-b 64G is accepted (then: no daemon)" $?

out=$("$knit" bench --help)
[[ $out == *"sha: ok"* && $out == *"BLAKE2b-256"* && $out == *"at most 64G"* ]]
check "bench --help tells of the hash check and the bound" $?

echo "$passes passed, $failures failed"
[ "$failures" -eq 0 ]
