#!/usr/bin/env python3
"""A stand-in for an MPyC program, for tests/cli/test_mpyc_loopback.sh.

Takes -M, -I and -P as MPyC does and prints them. Like MPyC, party i > 0
listens on its own -P port and party i dials every party j > i at its -P
entry, retrying a refused connection every 0.1 s; an accepted connection
that then drops is a failure, as it is for MPyC. On each connection the
dialler sends "hello <session-word> from i to j" and expects
"j greets i <session-word>" back, which proves the forward reached party j.
Prints "party i: ok" and exits with --exit-code (default 0) when every
exchange is done; exits 1 on any failure."""
import argparse
import socket
import sys
import threading
import time

ap = argparse.ArgumentParser()
ap.add_argument('-M', type=int, required=True)
ap.add_argument('-I', type=int, required=True)
ap.add_argument('-P', action='append', required=True)
ap.add_argument('--word', default='w')
ap.add_argument('--exit-code', type=int, default=0)
ap.add_argument('--linger', type=float, default=0.5)
a = ap.parse_args()
m, me = a.M, a.I
print(f'args: -M {m} -I {me} ' + ' '.join('-P ' + p for p in a.P), flush=True)
if len(a.P) != m or not 0 <= me < m:
    sys.exit('bad arguments')
ports = [int(p.rsplit(':', 1)[1]) for p in a.P]
failures = []
deadline = time.monotonic() + 40


def serve(srv):
    """Answers the parties before us, one connection each."""
    for _ in range(me):
        conn, _ = srv.accept()
        with conn:
            line = conn.makefile('r').readline().split()
            # hello <word> from <i> to <j>
            if len(line) != 6 or line[1] != a.word or line[5] != str(me):
                failures.append(f'party {me} got {line}')
                continue
            conn.sendall(f'{me} greets {line[3]} {a.word}\n'.encode())


server = None
if me > 0:
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(('127.0.0.1', ports[me]))
    srv.listen(m)
    server = threading.Thread(target=serve, args=(srv,), daemon=True)
    server.start()

for j in range(me + 1, m):
    while True:
        try:
            c = socket.create_connection(('127.0.0.1', ports[j]), timeout=20)
            break
        except ConnectionRefusedError:
            if time.monotonic() > deadline:
                sys.exit(f'party {me}: party {j} never listened')
            time.sleep(0.1)
    with c:
        c.sendall(f'hello {a.word} from {me} to {j}\n'.encode())
        reply = c.makefile('r').readline().strip()
        want = f'{j} greets {me} {a.word}'
        if reply != want:
            failures.append(f'party {me} to {j}: got {reply!r}, want {want!r}')
        else:
            print(f'party {me} to {j}: {reply}', flush=True)

if server:
    server.join(max(0.0, deadline - time.monotonic()))
    if server.is_alive():
        failures.append(f'party {me}: not every party before it connected')
if failures:
    print('\n'.join(failures), flush=True)
    sys.exit(1)
print(f'party {me}: ok', flush=True)
time.sleep(a.linger)
sys.exit(a.exit_code)
