#!/usr/bin/env python3
"""A STUN server with CHANGE-REQUEST (RFC 5780 / RFC 3489 tests), for the
natlab only: miniupnpd asks one before it maps anything.

    stun_server.py IP1 IP2 [SECONDS]

Binds UDP 3478 and 3479 on both IP1 and IP2 (both must be lab public
addresses: 203.0.113.0/24 or 198.51.100.0/24) and answers every Binding
request with MAPPED-ADDRESS and XOR-MAPPED-ADDRESS, sent from the other IP
and/or the other port when the request's CHANGE-REQUEST asks for it. That
is how miniupnpd (ext_perform_stun=yes) tells that its WAN address is
public and unfiltered: the lab's router has a documentation address on its
WAN, which miniupnpd otherwise takes for a private one and refuses to map.
Prints "stun ready" once bound; exits after SECONDS (default 300).
"""
import ipaddress
import select
import socket
import struct
import sys
import time

MAGIC = 0x2112A442
PORTS = (3478, 3479)
LAB_NETS = [ipaddress.ip_network("203.0.113.0/24"),
            ipaddress.ip_network("198.51.100.0/24")]


def change_flags(data, length):
    """The CHANGE-REQUEST bits (0x4 change IP, 0x2 change port), or 0."""
    at, end = 20, min(len(data), 20 + length)
    while at + 4 <= end:
        kind, size = struct.unpack("!HH", data[at:at + 4])
        if kind == 0x0003 and size == 4 and at + 8 <= end:
            return struct.unpack("!I", data[at + 4:at + 8])[0] & 0x6
        at += 4 + ((size + 3) & ~3)
    return 0


def answer(data, source):
    """A Binding success response to the request data from source."""
    txid = data[8:20]
    ip = socket.inet_aton(source[0])
    mapped = struct.pack("!BBH", 0, 1, source[1]) + ip
    xored = struct.pack("!BBH", 0, 1, source[1] ^ (MAGIC >> 16)) + bytes(
        a ^ b for a, b in zip(ip, struct.pack("!I", MAGIC)))
    attrs = struct.pack("!HH", 0x0001, 8) + mapped + \
        struct.pack("!HH", 0x0020, 8) + xored
    return struct.pack("!HHI", 0x0101, len(attrs), MAGIC) + txid + attrs


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    ips = sys.argv[1:3]
    for ip in ips:
        if not any(ipaddress.ip_address(ip) in net for net in LAB_NETS):
            sys.exit("stun_server: %s is not a lab public address" % ip)
    seconds = int(sys.argv[3]) if len(sys.argv) == 4 else 300
    sockets = {}
    for ip in ips:
        for port in PORTS:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind((ip, port))
            sockets[(ip, port)] = s
    print("stun ready", flush=True)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        ready, _, _ = select.select(list(sockets.values()), [], [], 0.5)
        for s in ready:
            data, source = s.recvfrom(2048)
            if len(data) < 20:
                continue
            kind, length, magic = struct.unpack("!HHI", data[:8])
            if kind != 0x0001:
                continue
            flags = change_flags(data, length)
            ip, port = s.getsockname()
            if flags & 0x4:
                ip = ips[1] if ip == ips[0] else ips[0]
            if flags & 0x2:
                port = PORTS[1] if port == PORTS[0] else PORTS[0]
            sockets[(ip, port)].sendto(answer(data, source), source)
            print("answered %s:%d change=%d from %s:%d" %
                  (source[0], source[1], flags, ip, port), flush=True)


if __name__ == "__main__":
    main()
