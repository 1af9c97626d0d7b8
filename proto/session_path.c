/* A session's paths: the (socket, remote address) pairs its packets may
 * travel. Data goes only to a validated path; a new one is validated by
 * PATH_CHALLENGE / PATH_RESPONSE before traffic moves to it, so a forged or
 * replayed packet from elsewhere cannot redirect the session, while a peer
 * whose NAT rebinds keeps its session. */
#include <stdlib.h>
#include <string.h>

#include "proto/session_internal.h"
#include "transport/error.h"

static int find_path(const struct knit_session *s, int sock,
                     const struct knit_addr *addr)
{
    for (int i = 0; i < s->path_cap; i++)
        if (s->paths[i].used && s->paths[i].sock == sock &&
            knit_addr_equal(&s->paths[i].addr, addr))
            return i;
    return -1;
}

static int rank_of(const struct knit_session *s, int sock)
{
    return s->env.path_rank ? s->env.path_rank(s->env.ctx, sock) : 0;
}

/* Whether path a makes a better victim than path b: unproven paths go
 * before proven ones (a relay circuit kept as the fallback must not make
 * room for a candidate that may never answer), then the oldest. */
static bool better_victim(const struct session_path *a,
                          const struct session_path *b)
{
    if (a->validated != b->validated)
        return !a->validated;
    return a->added < b->added;
}

/* A free slot, else the best victim that is not the active path. A path
 * whose challenge is on its way is no victim for a newcomer that is
 * unproven itself: when many candidates come at once (the hard side's
 * birthday probes all reaching an easy side that filters nothing, or by
 * address only), each would evict the one challenged before it, and each
 * answer, arriving in the same order, would find its path gone and evict
 * the next: no path would ever validate. The newcomer waits instead (its
 * peer sends again); a challenge nobody answers frees its slot after
 * PATH_CHALLENGE_TRIES. Nor does a proven path make room while one is. */
static int slot_for_new_path(const struct knit_session *s, bool proven)
{
    int victim = -1;
    bool waiting = false;
    for (int i = 0; i < s->path_cap; i++)
        if (!s->paths[i].used)
            return i;
    if (s->path_cap < KNIT_SESSION_MAX_PATHS)
        return s->path_cap;   /* room once the paths move out */
    for (int i = 0; i < s->path_cap; i++) {
        const struct session_path *path = &s->paths[i];
        if (i == s->active)
            continue;
        if (!proven && path->challenging && !path->validated) {
            waiting = true;
            continue;
        }
        if (victim < 0 || better_victim(path, &s->paths[victim]))
            victim = i;
    }
    if (waiting && victim >= 0 && s->paths[victim].validated)
        return -1;
    return victim;
}

/* Moves the one path in the session to a heap array with room for all. */
static int grow_paths(struct knit_session *s)
{
    struct session_path *all = calloc(KNIT_SESSION_MAX_PATHS, sizeof *all);
    if (!all)
        return KNIT_E_NOMEM;
    all[0] = s->first_path;
    s->paths = all;
    s->path_cap = KNIT_SESSION_MAX_PATHS;
    return KNIT_OK;
}

int session_path_count(const struct knit_session *s)
{
    int n = 0;
    for (int i = 0; i < s->path_cap; i++)
        n += s->paths[i].used;
    return n;
}

int session_path_add(struct knit_session *s, int sock,
                     const struct knit_addr *addr, bool validated,
                     uint64_t now)
{
    int p = find_path(s, sock, addr);
    if (p < 0) {
        p = slot_for_new_path(s, validated);
        if (p < 0)
            return KNIT_E_TOO_BIG;
        if (p >= s->path_cap) {
            int err = grow_paths(s);
            if (err)
                return err;
        }
        memset(&s->paths[p], 0, sizeof s->paths[p]);
        s->paths[p].used = true;
        s->paths[p].sock = sock;
        s->paths[p].addr = *addr;
        s->paths[p].added = now;
    }
    if (validated)
        s->paths[p].validated = true;
    return p;
}

/* A path that stopped working must prove itself again before it carries
 * traffic: after a NAT lost its mapping the same address may come back,
 * and is then challenged like a new one. */
void session_path_demote(struct knit_session *s, int p)
{
    struct session_path *path = &s->paths[p];
    path->validated = false;
    path->challenging = false;
    path->fresh = false;
    path->rx_bytes = 0;
    path->challenge_bytes = 0;
}

void session_path_activate(struct knit_session *s, int p)
{
    if (p == s->active)
        return;
    bool had = s->active >= 0;
    /* RFC 9000 §9.4: what the window and the round-trip estimate learnt on
     * the path we leave says nothing of this one, unless only the port
     * changed (a NAT rebinding on the same route). A window carried from a
     * direct path to a relay's filled the relayed path's queues with
     * seconds of data (measured in the natlab). */
    if (had && s->conn &&
        (s->paths[s->active].sock != s->paths[p].sock ||
         !knit_addr_same_ip(&s->paths[s->active].addr, &s->paths[p].addr)))
        knit_conn_on_new_path(s->conn);
    s->active = p;
    /* Probe timeouts counted against the path we leave say nothing about
     * this one. */
    s->pto_base = s->conn ? knit_conn_pto_count(s->conn) : 0;
    s->paths[p].challenging = false;
    if (had)
        session_emit(s, KNIT_SESSION_PATH_CHANGED, 0);
}

/* A challenge is a full-size packet, and the address it goes to is only
 * a claim: a copy of one of the peer's packets, sent on with a victim's
 * address as its source, must not make us send that victim many times
 * its size (RFC 9000 §8). So a challenge goes out when a packet came from
 * the path since the last one (the peer's own traffic there keeps
 * validation going), or while the challenges stay within three times what
 * the path brought in. */
static bool may_challenge(const struct session_path *path, size_t size)
{
    return path->fresh || path->challenge_bytes + size <= 3 * path->rx_bytes;
}

static void send_challenge(struct knit_session *s, int p, uint64_t now)
{
    struct session_path *path = &s->paths[p];
    uint8_t plain[KNIT_SESSION_MAX_DATAGRAM];
    size_t len;
    uint64_t pn;
    if (!s->conn || !s->has_cur)
        return;
    if (!path->challenging) {
        s->env.random(s->env.ctx, path->challenge, sizeof path->challenge);
        path->challenging = true;
        path->challenge_tries = 0;
    }
    /* A try that may not be sent still counts, so that a path nobody
     * answers from is given up on time. */
    path->challenge_sent = now;
    path->challenge_tries++;
    if (!may_challenge(path, s->cfg.conn.max_payload + KNIT_DATA_OVERHEAD))
        return;
    if (knit_conn_build_path_packet(s->conn, now, false, path->challenge,
                                    plain, sizeof plain, &len, &pn) == 0 &&
        session_seal_and_send(s, p, plain, len, pn) == 0) {
        path->fresh = false;
        path->challenge_bytes += len + KNIT_DATA_OVERHEAD;
    }
}

/* An authenticated packet came from (sock, from). A known path is alive; a
 * new one is challenged, and until it answers data stays where it was.
 * Returns the path's index. */
int session_path_on_packet(struct knit_session *s, int sock,
                           const struct knit_addr *from, size_t len,
                           uint64_t now)
{
    int p = find_path(s, sock, from);
    if (p < 0) {
        p = session_path_add(s, sock, from, false, now);
        if (p < 0)
            return -1;
    }
    struct session_path *path = &s->paths[p];
    path->last_rx = now;
    if (!path->validated) {
        path->rx_bytes += len;
        path->fresh = true;
    }
    if (s->active < 0) {
        /* The first packet under confirmed keys comes from where the
         * handshake went: that path is proven. */
        path->validated = true;
        session_path_activate(s, p);
    } else if (!path->validated && !path->challenging) {
        send_challenge(s, p, now);
    } else if (path->validated && p != s->active &&
               now - s->paths[s->active].last_rx >= PATH_FOLLOW_US) {
        /* The peer sends on another proven path while ours has been
         * silent: its side of our path broke (its NAT lost the mapping)
         * and it fell back, to the relay say. A side that only receives
         * has nothing unacknowledged to notice that by; it follows, and
         * our path must prove itself again. */
        session_path_demote(s, s->active);
        session_path_activate(s, p);
    }
    return p;
}

void session_on_path_challenge(void *ctx, const uint8_t data[8])
{
    struct knit_session *s = ctx;
    int p = s->rx_path;
    uint8_t plain[KNIT_SESSION_MAX_DATAGRAM];
    size_t len;
    uint64_t pn;
    /* The answer goes back on the path the challenge came in on. */
    if (p < 0 || !s->conn || !s->has_cur)
        return;
    if (knit_conn_build_path_packet(s->conn, s->paths[p].last_rx, true, data,
                                    plain, sizeof plain, &len, &pn) == 0)
        session_seal_and_send(s, p, plain, len, pn);
}

void session_on_path_response(void *ctx, const uint8_t data[8])
{
    struct knit_session *s = ctx;
    for (int i = 0; i < s->path_cap; i++) {
        struct session_path *path = &s->paths[i];
        if (!path->used || !path->challenging ||
            memcmp(path->challenge, data, sizeof path->challenge) != 0)
            continue;
        path->validated = true;
        path->challenging = false;
        /* Move to it if it ranks above the active path (direct over a
         * relay), or ranks alike and the peer is sending from there now
         * (it rebound). */
        if (s->active < 0) {
            session_path_activate(s, i);
            return;
        }
        int have = rank_of(s, s->paths[s->active].sock);
        int got = rank_of(s, path->sock);
        if (got > have ||
            (got == have && path->last_rx >= s->paths[s->active].last_rx))
            session_path_activate(s, i);
        return;
    }
}

int knit_session_try_path(struct knit_session *s, int sock,
                          const struct knit_addr *addr, uint64_t now)
{
    session_touch(s);
    if (s->dead || !s->up || !s->conn)
        return KNIT_E_AGAIN;
    int p = find_path(s, sock, addr);
    if (p >= 0 && (s->paths[p].validated || s->paths[p].challenging))
        return 0;
    if (p < 0) {
        p = session_path_add(s, sock, addr, false, now);
        if (p < 0)
            return p;
    }
    /* The owner vouches for the path, so the first challenge may go
     * before anything authenticated came from there; retries then need
     * the peer's own packets from it, as for any path. */
    s->paths[p].fresh = true;
    send_challenge(s, p, now);
    knit_session_flush(s, now);
    return 1;
}

int knit_session_latest_source(const struct knit_session *s, int *sock,
                               struct knit_addr *from)
{
    if (s->latest_sock < 0)
        return KNIT_E_NOT_FOUND;
    *sock = s->latest_sock;
    *from = s->latest_from;
    return KNIT_OK;
}

bool knit_session_has_path_sock(const struct knit_session *s, int sock)
{
    for (int i = 0; i < s->path_cap; i++)
        if (s->paths[i].used && s->paths[i].sock == sock)
            return true;
    return false;
}

/* The active path stopped answering: packets sent there went
 * unacknowledged through path_fail_ptos probe timeouts in a row. Traffic
 * falls back to the best other validated path (the relay circuit a
 * punched path came from), and the broken one must prove itself again
 * before it is used: after a NAT lost its mapping the same address may
 * come back, and then it is challenged like a new one. */
void session_path_check_active(struct knit_session *s)
{
    if (s->active < 0 || !s->conn || s->cfg.path_fail_ptos == 0)
        return;
    uint32_t ptos = knit_conn_pto_count(s->conn);
    if (ptos < s->pto_base)
        s->pto_base = 0;   /* an acknowledgement reset the count */
    if (ptos - s->pto_base < s->cfg.path_fail_ptos)
        return;
    int best = -1;
    for (int i = 0; i < s->path_cap; i++) {
        const struct session_path *path = &s->paths[i];
        if (i == s->active || !path->used || !path->validated)
            continue;
        if (best < 0 || rank_of(s, path->sock) >
                            rank_of(s, s->paths[best].sock) ||
            (rank_of(s, path->sock) == rank_of(s, s->paths[best].sock) &&
             path->last_rx > s->paths[best].last_rx))
            best = i;
    }
    if (best < 0)
        return;
    session_path_demote(s, s->active);
    session_path_activate(s, best);
}

/* Handshakes go to the active path, or, before there is one, to every
 * candidate: whichever answers becomes the path. */
void session_send_handshake(struct knit_session *s, const uint8_t *pkt,
                            size_t len)
{
    if (s->active >= 0) {
        s->env.send(s->env.ctx, s->paths[s->active].sock,
                    &s->paths[s->active].addr, pkt, len);
        return;
    }
    for (int i = 0; i < s->path_cap; i++)
        if (s->paths[i].used)
            s->env.send(s->env.ctx, s->paths[i].sock, &s->paths[i].addr, pkt,
                        len);
}

uint64_t session_path_deadline(const struct knit_session *s)
{
    uint64_t next = KNIT_NO_DEADLINE;
    for (int i = 0; i < s->path_cap; i++) {
        const struct session_path *path = &s->paths[i];
        if (path->used && path->challenging) {
            uint64_t t = path->challenge_sent + s->cfg.path_retry_us;
            if (t < next)
                next = t;
        }
    }
    return next;
}

void session_path_on_timeout(struct knit_session *s, uint64_t now)
{
    for (int i = 0; i < s->path_cap; i++) {
        struct session_path *path = &s->paths[i];
        if (!path->used || !path->challenging ||
            now < path->challenge_sent + s->cfg.path_retry_us)
            continue;
        if (path->challenge_tries >= PATH_CHALLENGE_TRIES) {
            /* No answer: the path does not work; forget it. */
            memset(path, 0, sizeof *path);
            continue;
        }
        send_challenge(s, i, now);
    }
}
