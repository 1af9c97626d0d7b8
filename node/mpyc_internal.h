/* What the three files of the `knit mpyc` daemon side share (daemon side):
 * the session table's types. mpyc_session.c owns the table, the request,
 * the reaches, events and the timer; mpyc_hello.c speaks /knit/mpyc/1 to
 * the other parties; mpyc_port.c finds and watches the own MPyC port. */
#ifndef KNIT_MPYC_INTERNAL_H
#define KNIT_MPYC_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "mpyc_session.h"
#include "node/party_msg.h"
#include "proto/msg.h"

#define MPYC_FRAME_MAX (KNIT_MSG_HEADER_LEN + KNIT_PARTY_MAX_MESSAGE)
#define MPYC_REASON_MAX 200
#define MPYC_TEXT_MAX 512

struct party {
    struct knit_peer_id id;
    uint16_t port;              /* our forward listener; own: MPyC's port */
    bool reaching;              /* a knit_daemon_reach_peer is under way */
    bool up;                    /* its session is up */
    bool agreed;
    bool waiting_told;          /* "waiting for it" progress sent */
    bool open_listening;        /* its MPyC listens: our listener is open */
    bool told_listening;        /* it knows that ours listens */
    bool stream_open;
    bool hello_listening;       /* the HELLO on the stream says so */
    uint64_t stream;
    uint64_t retry_at;          /* a HELLO is due then (0: none) */
    uint64_t answered_at;       /* ready: its latest ANSWER, µs */
    size_t have;
    uint8_t buf[MPYC_FRAME_MAX];
    char reason[MPYC_REASON_MAX];    /* the latest trouble, for a timeout */
};

struct session {
    struct knit_mpyc_sessions *owner;
    struct knit_control_client *client;
    char name[KNIT_PARTY_SESSION_MAX + 1];
    uint8_t digest[KNIT_PARTY_DIGEST_LEN];
    uint32_t count, me, timeout_ms;
    uint64_t deadline;          /* µs, the driver's clock */
    bool ready;                 /* MPYC_READY sent */
    bool failed;                /* error sent; waits for its client to go */
    bool torn_down;
    bool own_listening;
    uint64_t probe_at;
    uint64_t check_at;          /* ready: next check that all are there */
    struct party p[KNIT_PARTY_MAX];
};

struct incoming {
    bool used, answered;
    struct knit_peer_id peer;
    uint64_t stream;
    size_t have;
    uint8_t buf[MPYC_FRAME_MAX];
};

struct knit_mpyc_sessions {
    uv_timer_t timer;
    struct knit_node *node;
    struct knit_uv_driver *drv;
    struct knit_daemon_reach *reach;
    struct knit_forwarder *fwd;
    bool closing;
    bool teardown_due;
    struct session *s[KNIT_MPYC_MAX_SESSIONS];
    struct incoming in[KNIT_MPYC_MAX_INCOMING];
};

/* mpyc_session.c */
uint64_t mpyc_now_us(const struct knit_mpyc_sessions *m);
void mpyc_rearm(struct knit_mpyc_sessions *m);
/* "party 2 (12D3KooW...)" */
void mpyc_party_name(const struct session *s, uint32_t j, char *out,
                     size_t cap);
/* An MPYC_PARTY progress message to the session's client. */
void mpyc_progress(struct session *s, uint32_t j, const char *state);
/* Ends the session with an error to its client; what it holds goes at
 * the next timer run (this may be inside a reach's callback). */
void mpyc_fail(struct knit_mpyc_sessions *m, struct session *s, int code,
               const char *fmt, ...) __attribute__((format(printf, 4, 5)));
struct session *mpyc_find_by_name(struct knit_mpyc_sessions *m,
                                  const char *name);
/* j of the other party with this ID, -1 if none. */
int mpyc_party_of(const struct session *s, const struct knit_peer_id *id);

/* mpyc_hello.c */
void mpyc_retry_later(struct knit_mpyc_sessions *m, struct party *p,
                      const char *reason);
/* Opens a stream to party j and writes our HELLO (listening once our
 * MPyC program listens); nothing if one is under way or j is not up. */
void mpyc_send_hello(struct knit_mpyc_sessions *m, struct session *s,
                     uint32_t j);
void mpyc_out_readable(struct knit_mpyc_sessions *m, struct session *s,
                       uint32_t j, uint64_t now);
void mpyc_in_opened(struct knit_mpyc_sessions *m,
                    const struct knit_event *ev);
void mpyc_in_readable(struct knit_mpyc_sessions *m, struct incoming *in,
                      uint64_t now);
void mpyc_release_in(struct incoming *in);

/* mpyc_port.c */
/* A free loopback TCP port, bound and let go, for MPyC to listen on. */
int mpyc_pick_port(uint16_t *port);
/* Whether a TCP socket listens on port (any address). */
bool mpyc_port_listening(uint16_t port);

#endif
