/* A secure session with one peer: handshakes, transport keys, paths, and the
 * reliable conn inside.
 *
 * Keys come and go (rekey by age and volume, WireGuard's timers), paths come
 * and go (NAT rebinding, later relay -> direct), but the conn and its
 * streams stay: a session is the peer-level object the node keeps in its
 * table. Keypairs follow WireGuard: the initiator's new keys are current at
 * once; a responder's wait as "next" until the first data packet proves the
 * initiator has them. Simultaneous initiations therefore converge.
 *
 * The node core (node/sessions.c) owns the index table and dispatches
 * packets here; everything the session needs from outside comes through
 * struct knit_session_env. Sans-IO like the rest of proto/. */
#ifndef KNIT_SESSION_H
#define KNIT_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/conn.h"
#include "proto/cookie.h"
#include "proto/hello.h"
#include "proto/identity.h"
#include "proto/keypair.h"
#include "proto/noise.h"
#include "transport/io.h"

/* A relay circuit or two, direct candidates being proven, and the path in
 * use. */
#define KNIT_SESSION_MAX_PATHS 6

struct knit_session_config {
    uint64_t rekey_after_us;          /* renew keys this old when used */
    uint64_t reject_after_us;         /* a keypair this old is never used */
    uint64_t rekey_after_packets;     /* ...or after sending this many */
    uint64_t keepalive_us;            /* idle interval before a PING */
    uint64_t idle_timeout_us;         /* silence after which the peer is gone */
    uint64_t handshake_retry_us;      /* first retransmission of a handshake */
    uint64_t handshake_retry_max_us;  /* backoff cap */
    uint64_t connect_timeout_us;      /* give up a first handshake after */
    uint64_t path_retry_us;           /* PATH_CHALLENGE retransmission */
    /* Consecutive probe timeouts (RFC 9002 PTO) after which the active
     * path counts as broken and traffic falls back to another validated
     * one (a relay circuit after a NAT lost the direct mapping). */
    uint32_t path_fail_ptos;
    struct knit_conn_config conn;
};

/* 120 s / 180 s / 2^60 packets as WireGuard; 25 s keepalive (below the 30 s
 * UDP timeout common in NATs); 75 s idle timeout (three keepalives);
 * handshakes retried after 1 s, doubling up to 8 s, given up after 30 s. */
void knit_session_config_default(struct knit_session_config *cfg);

enum knit_session_event_type {
    KNIT_SESSION_UP = 1,         /* first handshake done, streams usable */
    KNIT_SESSION_DOWN,           /* gone: reason in error/reason */
    KNIT_SESSION_STREAM_OPENED,  /* the peer opened a stream */
    KNIT_SESSION_STREAM_READABLE,
    KNIT_SESSION_STREAM_WRITABLE,
    KNIT_SESSION_STREAM_RESET,
    KNIT_SESSION_STREAM_CLOSED,
    KNIT_SESSION_PATH_CHANGED,   /* traffic moved to another validated path */
};

struct knit_session_event {
    enum knit_session_event_type type;
    uint64_t stream_id;
    const char *protocol;        /* STREAM_OPENED */
    int error;                   /* DOWN: a KNIT_E_* code */
    uint64_t code;               /* STREAM_RESET: the peer's error code */
    const char *reason;          /* DOWN: text */
};

struct knit_session;

struct knit_session_env {
    void *ctx;
    const struct knit_identity *self;
    /* Our hello without the per-session fields (instance, timestamp). */
    const struct knit_hello *hello;
    int (*send)(void *ctx, int sock, const struct knit_addr *to,
                const uint8_t *pkt, size_t len);
    void (*random)(void *ctx, uint8_t *buf, size_t len);
    /* Registers a fresh local index for s (unique in the node); 0 if none. */
    uint32_t (*new_index)(void *ctx, struct knit_session *s);
    void (*drop_index)(void *ctx, uint32_t index);
    /* Wall-clock µs since the Unix epoch, for hello timestamps. */
    uint64_t (*unix_time_us)(void *ctx, uint64_t now);
    void (*event)(void *ctx, struct knit_session *s,
                  const struct knit_session_event *ev);
    /* The session is dead (knit_session_is_dead() turned true), whether
     * or not a DOWN event says so; the owner frees it when it can. May be
     * NULL. Called once, from inside whatever call killed it. */
    void (*died)(void *ctx, struct knit_session *s);
    /* Something happened that may move knit_session_next_deadline(): its
     * cached value is stale until that is called again. Called once per
     * such change, not per call, so an owner with many sessions can
     * recompute only these. May be NULL. */
    void (*touched)(void *ctx, struct knit_session *s);
    /* How much the owner prefers paths on sock (a direct socket over a
     * relay circuit, say): a validated path of higher rank takes the
     * traffic from the active one. May be NULL: all paths rank alike. */
    int (*path_rank)(void *ctx, int sock);
};

int knit_session_new(struct knit_session **out,
                     const struct knit_session_env *env,
                     const struct knit_session_config *cfg,
                     const struct knit_peer_id *peer, uint64_t now);
/* The same when the caller has already converted the peer's Ed25519 key
 * to its X25519 form peer_x (the node did, to check an initiation): the
 * conversion costs about as much as a Diffie-Hellman. peer_x must be that
 * conversion; it is trusted, not checked. */
int knit_session_new_with_static(struct knit_session **out,
                                 const struct knit_session_env *env,
                                 const struct knit_session_config *cfg,
                                 const struct knit_peer_id *peer,
                                 const uint8_t peer_x[32], uint64_t now);
/* Drops every index; no event. */
void knit_session_free(struct knit_session *s);

const struct knit_peer_id *knit_session_peer(const struct knit_session *s);
/* The peer's static key in its X25519 form (32 bytes), for Noise. */
const uint8_t *knit_session_peer_static(const struct knit_session *s);
/* The session-level receive window this session grants its peer: the most
 * unread data it can hold (cfg->conn.max_data at creation). */
uint64_t knit_session_window(const struct knit_session *s);
bool knit_session_is_up(const struct knit_session *s);
bool knit_session_is_dead(const struct knit_session *s);
/* Whether the peer's hello listed protocol among those it serves. */
bool knit_session_peer_serves(const struct knit_session *s,
                              const char *protocol);
/* A word the owner keeps in the session for its own bookkeeping (the
 * node: the session's place in its timer heap); 0 at creation. */
void knit_session_set_owner_slot(struct knit_session *s, uint32_t slot);
uint32_t knit_session_owner_slot(const struct knit_session *s);
/* Wanted sessions are kept alive with keepalives while idle. */
void knit_session_set_wanted(struct knit_session *s, bool wanted);
bool knit_session_is_wanted(const struct knit_session *s);

/* Starts (or hurries) a handshake towards addr via sock. */
int knit_session_connect(struct knit_session *s, int sock,
                         const struct knit_addr *addr, uint64_t now);

/* Packets the node has matched to this session. The initiation has been
 * read already (the node needed the initiator's identity to find us). */
int knit_session_on_initiation(struct knit_session *s,
                               struct knit_noise_handshake *hs,
                               uint32_t sender_index,
                               const struct knit_hello *hello, int sock,
                               const struct knit_addr *from, uint64_t now);
int knit_session_on_response(struct knit_session *s, uint32_t local_index,
                             const uint8_t *pkt, size_t len, int sock,
                             const struct knit_addr *from, uint64_t now);
int knit_session_on_cookie(struct knit_session *s, const uint8_t *pkt,
                           size_t len, uint64_t now);
int knit_session_on_data(struct knit_session *s, uint32_t local_index,
                         const uint8_t *pkt, size_t len, int sock,
                         const struct knit_addr *from, uint64_t now);

uint64_t knit_session_next_deadline(const struct knit_session *s);
void knit_session_on_timeout(struct knit_session *s, uint64_t now);
/* Sends whatever the conn has ready (call after stream writes). */
void knit_session_flush(struct knit_session *s, uint64_t now);

/* The conn, for stream calls; NULL until the session is up. */
struct knit_conn *knit_session_conn(struct knit_session *s);

/* Closes gracefully: a CLOSE to the peer, then DOWN. */
void knit_session_close(struct knit_session *s, uint64_t code,
                        const char *reason, uint64_t now);

/* Proves a candidate path the owner has reason to believe in (a hole
 * punch probe came from it): a PATH_CHALLENGE goes there now and is
 * retried as for any new path; when the answer comes the path is
 * validated and, ranking above the active one, takes the traffic. Nothing
 * is done for a path already validated or being challenged. The owner
 * bounds how often it calls this: the challenge is full-size and the
 * address only a claim. Returns 1 when a challenge went out, 0 when the
 * path was known already, KNIT_E_AGAIN before the session is up or once
 * it is dead. */
int knit_session_try_path(struct knit_session *s, int sock,
                          const struct knit_addr *addr, uint64_t now);
/* Where the latest authenticated packet came from (sock, address), which
 * after the peer's NAT rebinds is its new address before the path there
 * is proven: what identify reports as observed. KNIT_E_NOT_FOUND before
 * any packet. */
int knit_session_latest_source(const struct knit_session *s, int *sock,
                               struct knit_addr *from);
/* Whether some path of the session goes through sock. */
bool knit_session_has_path_sock(const struct knit_session *s, int sock);

/* The handle of the active path's sock, as the owner gave it (the owner
 * tells its kinds apart: a relay circuit's, say); -1 before there is an
 * active path. Cheap. */
int knit_session_path_sock(const struct knit_session *s);

/* The active path's remote address; family 0 before there is an active
 * path. Cheap, unlike knit_session_get_stats, which also gathers the conn's
 * figures: for the loops over every session. */
struct knit_addr knit_session_path_addr(const struct knit_session *s);

struct knit_session_stats {
    struct knit_conn_stats conn;
    struct knit_addr path;       /* the active path's remote address */
    int path_sock;               /* ...and socket; -1 before there is one */
    uint32_t handshakes;         /* completed, including rekeys */
    uint64_t receive_window;     /* session-level window granted the peer */
    uint32_t paths;
};
void knit_session_get_stats(const struct knit_session *s,
                            struct knit_session_stats *out);

#endif
