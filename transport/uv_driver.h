/* The libuv driver: real sockets, a real clock and real randomness for one
 * sans-IO node core.
 *
 * The daemon creates a driver on its loop, asks it to listen on its
 * addresses, takes a struct knit_io from it for the node, and gives it three
 * callbacks into the node. From then on the driver calls on_packet for every
 * datagram and on_timer when the node's deadline passes, and after each call
 * it re-arms its one timer from next_deadline; the node's events come back
 * through on_event. The driver knows nothing of
 * the node type, so transport/ stays below the core. */
#ifndef KNIT_UV_DRIVER_H
#define KNIT_UV_DRIVER_H

#include <stdint.h>

#include <uv.h>

#include "io.h"

/* UDP sockets a driver can have open at once: the node's listening
 * sockets (KNIT_NODE_MAX_SOCKETS, 8), the 256 extra ones the hard side of a
 * birthday hole punch across an endpoint-dependent NAT opens for a few
 * seconds, and room to spare (the simulator's host allows 280). A slot is
 * one pointer until its socket opens, so the table costs 2.5 KiB beside
 * the 2 MiB receive buffer; each open socket costs one heap slot and one
 * file descriptor (the usual soft limit of 1024 leaves room). */
#define KNIT_UV_MAX_SOCKETS 320
/* Bytes of datagrams waiting in libuv's send queue before further sends are
 * dropped; UDP may lose packets, and the protocols above recover. */
#define KNIT_UV_MAX_QUEUED_BYTES (4u << 20)
/* Datagrams read per system call. */
#define KNIT_UV_RECV_BATCH 32
/* Socket buffer size asked of the kernel for each UDP socket. */
#define KNIT_UV_SOCKET_BUFFER (4 << 20)

struct knit_uv_callbacks {
    void *ctx;
    void (*on_packet)(void *ctx, uint64_t now, int sock,
                      const struct knit_addr *from, const uint8_t *pkt,
                      size_t len);
    void (*on_timer)(void *ctx, uint64_t now);
    uint64_t (*next_deadline)(void *ctx);
    /* The core's events, passed through untouched (may be NULL). */
    void (*on_event)(void *ctx, const struct knit_event *ev);
};

struct knit_uv_driver;

int knit_uv_driver_new(struct knit_uv_driver **out, uv_loop_t *loop,
                       const struct knit_uv_callbacks *cb);
/* Closes every socket and the timer; the driver frees itself once libuv has
 * released the handles, so the loop must run after this call. */
void knit_uv_driver_close(struct knit_uv_driver *drv);

/* Binds a UDP socket on local (an IPv6 socket is IPv6-only so that an IPv4
 * socket can share its port) and starts receiving. *bound gets the address
 * actually bound (the port chosen when local->port is 0). Returns the socket
 * handle, the lowest free one in 0..KNIT_UV_MAX_SOCKETS-1, or
 * KNIT_E_ADDR_IN_USE, KNIT_E_UNSUPPORTED (no such address family on this
 * host), KNIT_E_LIMIT (KNIT_UV_MAX_SOCKETS open), KNIT_E_INVAL (the driver
 * is closing), KNIT_E_NOMEM or KNIT_E_IO. io.open_socket returns the same
 * (binding the unspecified address of the family). */
int knit_uv_driver_listen(struct knit_uv_driver *drv,
                          const struct knit_addr *local,
                          struct knit_addr *bound);

/* The io interface for the core, backed by this driver; its events go to
 * the on_event callback. */
void knit_uv_driver_io(struct knit_uv_driver *drv, struct knit_io *io);

/* Monotonic microseconds, the clock the core is driven by. */
uint64_t knit_uv_driver_now(const struct knit_uv_driver *drv);

/* Re-arms the timer from next_deadline; for callers that drive the node from
 * outside a packet or timer callback (the control socket, say). */
void knit_uv_driver_rearm(struct knit_uv_driver *drv);

/* Conversions between libuv's sockaddrs and knit addresses. */
int knit_uv_addr_from_sockaddr(struct knit_addr *out,
                               const struct sockaddr *sa);
void knit_uv_addr_to_sockaddr(const struct knit_addr *a,
                              struct sockaddr_storage *out);

#endif
