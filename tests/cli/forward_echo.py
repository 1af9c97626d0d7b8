#!/usr/bin/env python3
"""TCP ends for tests/cli/test_forward.sh, on 127.0.0.1 only.

server echo|sha PORTFILE   serve until killed; writes its port to PORTFILE.
    echo: sends back every byte, then closes its write side at EOF.
    sha:  reads to EOF, then answers the hex SHA-256 of what it read and
          closes.
client-echo PORT BYTES [PAUSE]
                           sends BYTES random bytes while reading the echo
                           (reading starts PAUSE seconds late, so the whole
                           path fills up and must push back); ok when the
                           echo is the same bytes, then EOF.
client-sha PORT BYTES      sends, shuts its write side, reads the answer to
                           EOF; ok when it is the SHA-256 of what was sent.
client-closed PORT SECS    connects and sends a line; ok when the connection
                           is closed (reset or EOF, said which) within SECS.
client-hold PORT SECS      echoes a line to show the path works, prints
                           "ready", then waits up to SECS for the connection
                           to be reset; prints how long it took.
client-refused PORT        ok when nothing listens on PORT.
Every wait is bounded; exit 0 means ok, 1 says what went wrong."""
import hashlib
import os
import socket
import sys
import threading
import time

HOST = "127.0.0.1"


def serve(mode, portfile):
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((HOST, 0))
    srv.listen(16)
    with open(portfile + ".tmp", "w") as f:
        f.write(str(srv.getsockname()[1]))
    os.rename(portfile + ".tmp", portfile)

    def handle(conn):
        h = hashlib.sha256()
        try:
            while True:
                data = conn.recv(65536)
                if not data:
                    break
                if mode == "echo":
                    conn.sendall(data)
                else:
                    h.update(data)
            if mode == "sha":
                conn.sendall(h.hexdigest().encode() + b"\n")
            conn.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        finally:
            conn.close()

    while True:
        conn, _ = srv.accept()
        threading.Thread(target=handle, args=(conn,), daemon=True).start()


def connect(port, timeout=30):
    s = socket.create_connection((HOST, port), timeout=timeout)
    s.settimeout(timeout)
    return s


def read_all(s):
    chunks = []
    while True:
        data = s.recv(65536)
        if not data:
            return b"".join(chunks)
        chunks.append(data)


def client_echo(port, n, pause=0.0):
    payload = os.urandom(n)
    s = connect(port)
    err = []

    def send():
        try:
            s.sendall(payload)
            s.shutdown(socket.SHUT_WR)
        except OSError as e:
            err.append(e)

    t = threading.Thread(target=send)
    t.start()
    time.sleep(pause)
    got = read_all(s)
    t.join(30)
    if err:
        return fail(f"sending failed: {err[0]}")
    if got != payload:
        return fail(f"echo differs: sent {n} bytes (sha256 "
                    f"{hashlib.sha256(payload).hexdigest()[:16]}), got "
                    f"{len(got)} (sha256 {hashlib.sha256(got).hexdigest()[:16]})")
    print(f"ok: {n} bytes echoed intact")
    return 0


def client_sha(port, n):
    payload = os.urandom(n)
    s = connect(port)
    s.sendall(payload)
    s.shutdown(socket.SHUT_WR)
    got = read_all(s)
    want = hashlib.sha256(payload).hexdigest().encode() + b"\n"
    if got != want:
        return fail(f"answer {got[:80]!r}, expected {want!r}")
    print(f"ok: half-close answered with the SHA-256 of {n} bytes, then EOF")
    return 0


def wait_closed(s, secs):
    """'reset', 'eof' or None (still open after secs)."""
    deadline = time.monotonic() + secs
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        s.settimeout(left)
        try:
            if not s.recv(65536):
                return "eof"
        except ConnectionResetError:
            return "reset"
        except socket.timeout:
            return None


def client_closed(port, secs):
    start = time.monotonic()
    try:
        # On loopback the reset may come before connect() has returned.
        s = connect(port)
        s.sendall(b"hello\n")
    except ConnectionResetError:
        print(f"closed: reset after {time.monotonic() - start:.2f} s")
        return 0
    except BrokenPipeError:
        pass
    how = wait_closed(s, secs)
    if how is None:
        return fail(f"connection still open after {secs} s")
    print(f"closed: {how} after {time.monotonic() - start:.2f} s")
    return 0


def client_hold(port, secs):
    s = connect(port)
    s.sendall(b"ping\n")
    got = b""
    while len(got) < 5:
        data = s.recv(64)
        if not data:
            return fail("closed before the echo")
        got += data
    print("ready", flush=True)
    start = time.monotonic()
    how = wait_closed(s, secs)
    if how is None:
        return fail(f"connection still open {secs} s after the echo")
    print(f"closed: {how} after {time.monotonic() - start:.2f} s")
    return 0


def client_refused(port):
    try:
        socket.create_connection((HOST, port), timeout=5).close()
    except ConnectionRefusedError:
        print("ok: refused")
        return 0
    return fail(f"something still listens on {port}")


def fail(text):
    print(f"FAILED: {text}", flush=True)
    return 1


def main(argv):
    cmd = argv[1]
    if cmd == "server":
        serve(argv[2], argv[3])
        return 0
    port = int(argv[2])
    try:
        if cmd == "client-echo":
            return client_echo(port, int(argv[3]),
                               float(argv[4]) if len(argv) > 4 else 0.0)
        if cmd == "client-sha":
            return client_sha(port, int(argv[3]))
        if cmd == "client-closed":
            return client_closed(port, float(argv[3]))
        if cmd == "client-hold":
            return client_hold(port, float(argv[3]))
        if cmd == "client-refused":
            return client_refused(port)
    except (OSError, socket.timeout) as e:
        return fail(f"{type(e).__name__}: {e}")
    return fail(f"unknown command {cmd}")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
