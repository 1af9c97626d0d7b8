/* Shared internals of proto/session*.c. */
#ifndef KNIT_SESSION_INTERNAL_H
#define KNIT_SESSION_INTERNAL_H

#include "proto/session.h"

/* Largest datagram a session sends or accepts: our packets are at most
 * max_payload + 32 bytes, far below this. */
#define KNIT_SESSION_MAX_DATAGRAM 2048
#define PATH_CHALLENGE_TRIES 8
/* Silence on the active path after which packets on another proven path
 * mean the peer moved there. */
#define PATH_FOLLOW_US 1000000ull

struct session_path {
    bool used;
    bool validated;
    bool challenging;
    int sock;
    struct knit_addr addr;
    uint8_t challenge[8];
    uint64_t challenge_sent;
    uint32_t challenge_tries;
    /* anti-amplification while unvalidated (RFC 9000 §8): */
    uint64_t rx_bytes;               /* authenticated bytes from there */
    uint64_t challenge_bytes;        /* challenges sent there */
    bool fresh;                      /* a packet came since our challenge */
    uint64_t last_rx;
    uint64_t added;
};

struct knit_session {
    struct knit_session_env env;
    struct knit_session_config cfg;
    struct knit_peer_id peer;
    uint8_t peer_x[32];              /* its X25519 form, converted once */
    struct knit_cookie_maker cookies;

    /* our initiation awaiting its response */
    bool handshaking;
    struct knit_noise_handshake *hs; /* while handshaking (heap), or NULL */
    uint32_t hs_index;
    uint64_t hs_started, hs_sent, hs_retry_at, hs_backoff;

    /* The current keypair, and on the heap while they exist (a rekey, a
     * responder's keys until confirmed) the previous and next ones. */
    bool has_cur;
    struct knit_keypair cur;
    struct knit_keypair *prev, *next;

    struct knit_conn *conn;
    uint64_t local_instance, peer_instance;
    /* What the peer's latest hello said it serves: the names one after
     * the other, each ended by its NUL, on the heap (a few dozen bytes,
     * where a fixed table for the most a hello may list took 1 KiB). */
    char *peer_protocols;
    size_t peer_protocols_len;
    uint64_t last_initiation_ts;     /* newest initiation answered */
    uint64_t last_sent_ts;           /* newest hello timestamp we sent */

    /* The first path lives in the session; one that needs a second moves
     * them to an array of KNIT_SESSION_MAX_PATHS on the heap. Most
     * sessions only ever have one (a DHT peer's), and five empty slots
     * were a third of each session's bytes. */
    struct session_path *paths;      /* &first_path, or the heap array */
    int path_cap;                    /* 1 or KNIT_SESSION_MAX_PATHS */
    struct session_path first_path;
    int active;                      /* validated path data goes to; -1 */
    int rx_path;                     /* path of the packet being handled */
    uint32_t pto_base;               /* conn's PTO count when it became active */
    int latest_sock;                 /* where the latest packet came from */
    struct knit_addr latest_from;

    uint64_t created, last_rx, last_tx;
    uint64_t keepalive_at;           /* last keepalive PING queued */
    bool up, dead, wanted;
    bool blocked;                    /* the last flush could not send */
    /* Nonzero while the session hands the owner a packet's events and
     * flushes itself when done (session.c, hold_flushes). */
    uint8_t holding;
    bool down_owed;                  /* UP was reported, or a dial made */
    uint32_t handshakes;
    uint64_t deadline;               /* cached knit_session_next_deadline */
    bool deadline_stale;
    uint32_t owner_slot;             /* knit_session_set_owner_slot */
    char *close_reason;              /* knit_session_close's, or NULL */
};

static inline void session_touch(struct knit_session *s)
{
    if (s->deadline_stale)
        return;
    s->deadline_stale = true;
    if (s->env.touched)
        s->env.touched(s->env.ctx, s);
}

void session_emit(struct knit_session *s, enum knit_session_event_type type,
                  uint64_t stream_id);
int session_seal_and_send(struct knit_session *s, int path,
                          const uint8_t *plain, size_t len, uint64_t pn);
/* Ends the session with a PEER_DOWN carrying error and reason. */
void session_die(struct knit_session *s, int error, const char *reason);
int session_send_initiation(struct knit_session *s, uint64_t now);
void session_start_handshake(struct knit_session *s, uint64_t now);
/* How old the current keys may get before a rekey, jitter included. */
uint64_t session_rekey_age(const struct knit_session *s);
/* Whether the conn has anything to send or acknowledge: keys are renewed
 * only then. */
bool session_keys_in_use(const struct knit_session *s);

/* session_keys.c */
void session_drop_keypair(struct knit_session *s, struct knit_keypair *kp,
                          bool *has);
void session_drop_spare(struct knit_session *s, struct knit_keypair **kp);
struct knit_keypair *session_spare_of(const struct knit_keypair *kp);
struct knit_keypair *session_find_keypair(struct knit_session *s,
                                          uint32_t index);
void session_install_current(struct knit_session *s,
                             const struct knit_keypair *kp);
void session_install_initiated(struct knit_session *s,
                               const struct knit_keypair *kp);
bool session_keypair_usable(const struct knit_session *s,
                            const struct knit_keypair *kp, uint64_t now);

/* session_info.c: keeps what the peer's hello says it serves. */
int session_keep_peer_protocols(struct knit_session *s,
                                const struct knit_hello *h);

/* session_path.c */
/* Paths in use. */
int session_path_count(const struct knit_session *s);
int session_path_add(struct knit_session *s, int sock,
                     const struct knit_addr *addr, bool validated,
                     uint64_t now);
void session_path_activate(struct knit_session *s, int path);
void session_path_demote(struct knit_session *s, int path);
int session_path_on_packet(struct knit_session *s, int sock,
                           const struct knit_addr *from, size_t len,
                           uint64_t now);
void session_send_handshake(struct knit_session *s, const uint8_t *pkt,
                            size_t len);
uint64_t session_path_deadline(const struct knit_session *s);
void session_path_on_timeout(struct knit_session *s, uint64_t now);
void session_path_check_active(struct knit_session *s);
void session_on_path_challenge(void *ctx, const uint8_t data[8]);
void session_on_path_response(void *ctx, const uint8_t data[8]);

#endif
