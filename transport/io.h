/* The I/O boundary: what the sans-IO core sees of the outside world.
 *
 * The core (proto/, dht/, relay/, the node core in node/) never opens a
 * socket, reads a clock or draws randomness itself. It is handed the current
 * time on every call and reaches out only through a struct knit_io that its
 * embedder fills in: the libuv driver (transport/uv_driver.c) for the daemon,
 * the virtual network for the simulator (sim/). */
#ifndef KNIT_IO_H
#define KNIT_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A UDP endpoint. IPv4 addresses use the first 4 bytes of ip. */
struct knit_addr {
    uint8_t family;          /* KNIT_AF_IP4 or KNIT_AF_IP6; 0 = unset */
    uint8_t ip[16];
    uint16_t port;           /* host byte order */
};

#define KNIT_AF_IP4 4
#define KNIT_AF_IP6 6

/* Longest text form: "[" + 45-char IPv6 + "]:" + 5 digits + NUL. */
#define KNIT_ADDR_TEXT_MAX 56

bool knit_addr_equal(const struct knit_addr *a, const struct knit_addr *b);
/* The same family and IP, whatever the ports. */
bool knit_addr_same_ip(const struct knit_addr *a, const struct knit_addr *b);
/* "192.0.2.1:4001" or "[2001:db8::1]:4001"; returns KNIT_E_NO_SPACE if cap
 * is too small. */
int knit_addr_format(const struct knit_addr *a, char *out, size_t cap);
/* Fills an IPv4 or IPv6 address from its raw bytes; len must be 4 or 16. */
int knit_addr_set(struct knit_addr *a, const uint8_t *ip, size_t len,
                  uint16_t port);
/* True for 0.0.0.0 and ::, the "all interfaces" listen address. */
bool knit_addr_is_unspecified(const struct knit_addr *a);
/* False for addresses that are not routed on the Internet: unspecified,
 * loopback, RFC 1918 private, shared (CGNAT, 100.64/10), link-local,
 * multicast, IPv6 unique-local; true otherwise. Documentation ranges count
 * as global, so the lab's 203.0.113.0/24 "Internet" behaves like one. */
bool knit_addr_is_global(const struct knit_addr *a);

/* Defined by the node core (node/event.h); the driver only passes it on. */
struct knit_event;

struct knit_io {
    void *ctx;
    /* Send one datagram from socket sock. Returns 0 or a negative error;
     * a failed send is a lost packet, which the protocols above survive. */
    int (*send)(void *ctx, int sock, const struct knit_addr *to,
                const uint8_t *pkt, size_t len);
    /* Open an extra UDP socket of the given family on port (0 = any);
     * returns its handle (>= 0) or a negative error. */
    int (*open_socket)(void *ctx, uint8_t family, uint16_t port);
    void (*close_socket)(void *ctx, int sock);
    /* Fill buf with cryptographically secure random bytes. */
    void (*random)(void *ctx, uint8_t *buf, size_t len);
    /* Something the embedder may want to know (new peer, stream data...). */
    void (*event)(void *ctx, const struct knit_event *ev);
};

/* Deadline value meaning "no timer wanted". */
#define KNIT_NO_DEADLINE UINT64_MAX

#endif
