/* Shared by node/forward.c (exposes, listeners, event dispatch) and
 * node/forward_bridge.c (one TCP connection joined to one stream); not for
 * anyone else. */
#ifndef KNIT_FORWARD_INTERNAL_H
#define KNIT_FORWARD_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "forward.h"
#include "service_msg.h"

/* Bytes read from a socket or a stream at a time. */
#define FWD_CHUNK 65536
/* A stream is read only while the socket's queued writes stay below this:
 * what does not fit waits in the stream, whose window then closes. */
#define FWD_TCP_PENDING_MAX (256u * 1024)
/* The OPEN, and the ANSWER to it, must arrive within this. */
#define FWD_HANDSHAKE_US 15000000ull
/* How long a forwarded connection waits for the session with the peer. */
#define FWD_REACH_MS 30000
#define FWD_LISTEN_BACKLOG 64

_Static_assert(KNIT_FORWARD_SERVICE_MAX == KNIT_SERVICE_NAME_MAX,
               "a listed service name is a service name");

enum bridge_phase {
    B_REACHING = 1,     /* out: accepted, waiting for the session */
    B_AWAIT_ANSWER,     /* out: OPEN sent */
    B_AWAIT_OPEN,       /* in: stream opened, reading OPEN */
    B_CONNECTING,       /* in: connecting to the service's port */
    B_BRIDGING,         /* bytes flow both ways */
};

/* One TCP connection and its stream. Freed only when its TCP handle has
 * closed (libuv calls every request's callback before that), so a callback
 * always finds it; once closing is set it is out of the forwarder's table
 * and touches nothing else. */
struct bridge {
    struct knit_forwarder *f;
    uv_tcp_t tcp;
    uv_connect_t connect;
    uv_shutdown_t shutdown;
    enum bridge_phase phase;
    bool closing;
    bool outgoing;                /* we opened the stream (knit forward) */
    const void *owner;
    struct knit_peer_id peer;
    char service[KNIT_SERVICE_NAME_MAX + 1];
    uint16_t listen_port;         /* out: the listener it came through */
    uint16_t service_port;        /* in: the exposed port */
    bool stream_live;
    uint64_t stream;
    uint64_t deadline;            /* handshake phases; 0: none */
    /* The handshake frame being read, never a byte past it. */
    uint8_t msg[KNIT_SERVICE_FRAME_MAX];
    size_t msg_have;
    /* socket to stream: in[in_off..in_len) waits for stream room */
    bool tcp_reading, tcp_eof, fin_sent;
    size_t in_len, in_off;
    /* stream to socket */
    size_t tcp_pending;           /* bytes in queued socket writes */
    bool fin_read, shutdown_started, shutdown_done;
    uint8_t in[FWD_CHUNK];
};

struct expose {
    bool used;
    char service[KNIT_SERVICE_NAME_MAX + 1];
    uint16_t port;
    const void *owner;
    size_t allow_count;           /* 0: any peer */
    struct knit_peer_id allow[KNIT_FORWARD_MAX_ALLOW];
};

/* A listener's handle lives on the heap: it is freed when libuv has closed
 * it, which may be after its slot was given to another listener. */
struct listen_handle {
    uv_tcp_t tcp;
    struct knit_forwarder *f;
    struct listener *l;           /* NULL once the slot let go of it */
};

struct listener {
    bool used;
    bool listening;
    uint16_t port;
    struct knit_peer_id peer;
    char service[KNIT_SERVICE_NAME_MAX + 1];
    const void *owner;
    struct listen_handle *h;
};

struct knit_forwarder {
    uv_loop_t *loop;
    struct knit_node *node;
    struct knit_uv_driver *drv;
    struct knit_daemon_reach *reach;
    uv_timer_t timer;             /* handshake deadlines, while any */
    bool timer_running;
    bool closing;
    enum knit_log_level log_level;   /* warnings print at warn and up */
    struct expose exposes[KNIT_FORWARD_MAX_EXPOSES];
    struct listener listeners[KNIT_FORWARD_MAX_LISTENERS];
    struct bridge *bridges[KNIT_FORWARD_MAX_CONNECTIONS];
};

/* forward.c */
const struct expose *fwd_find_expose(const struct knit_forwarder *f,
                                     const char *service);
bool fwd_expose_allows(const struct expose *e,
                       const struct knit_peer_id *peer);
void fwd_need_timer(struct knit_forwarder *f);
/* "knit: [warn] <fmt>" on stderr, unless the daemon's log level is below
 * warn. */
void fwd_warn(const struct knit_forwarder *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* forward_bridge.c */
/* A connection accepted on l's listener: reach the peer, then open. */
void fwd_bridge_accept(struct knit_forwarder *f, struct listener *l);
/* The peer opened a /knit/forward/1 stream. */
void fwd_bridge_incoming(struct knit_forwarder *f,
                         const struct knit_peer_id *peer, uint64_t stream);
void fwd_bridge_on_event(struct bridge *b, const struct knit_event *ev);
/* abort: reset the stream and the socket; otherwise a plain close (both
 * directions are over). */
void fwd_bridge_close(struct bridge *b, bool abort);
void fwd_bridge_check_deadline(struct bridge *b, uint64_t now);

#endif
