/* Coordinated hole punching: the /knit/punch/1 exchange, each attempt's
 * life, and what the attempts with each peer came to (node/node_punch.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/node_internal.h"
#include "node/node_punch.h"
#include "node/node_relay.h"
#include "node/node_traversal.h"
#include "proto/conn.h"
#include "transport/error.h"

#define RETRY_FIRST_US 5000000ull        /* then x3: 15 s, 45 s */
#define RETRY_QUICK 3                    /* attempts before the slow pace */
#define RETRY_SLOW_US (10 * 60 * 1000000ull)
/* The higher peer ID opens an attempt only when the lower one has not
 * within this long (it fell back to the relay and the other side did not
 * notice). */
#define DEFER_US 2000000ull
/* After a fallback: time for the relay's identify answer. */
#define REFRESH_US 1000000ull

static struct node_punch *punch_of(struct knit_node *node, bool create)
{
    if (!node->punch && create)
        node->punch = calloc(1, sizeof *node->punch);
    return node->punch;
}

static struct punch *find_session(struct node_punch *np,
                                  const struct knit_session *s)
{
    for (int i = 0; i < NODE_MAX_PUNCHES; i++)
        if (np->punches[i] && np->punches[i]->state != PUNCH_FREE &&
            np->punches[i]->session == s)
            return np->punches[i];
    return NULL;
}

static struct punch *find_stream(struct node_punch *np,
                                 const struct knit_session *s, uint64_t sid)
{
    struct punch *p = find_session(np, s);
    return p && p->stream_live && p->stream_id == sid ? p : NULL;
}

static struct punch *punch_new(struct knit_node *node,
                               struct knit_session *s)
{
    struct node_punch *np = punch_of(node, true);
    if (!np)
        return NULL;
    for (int i = 0; i < NODE_MAX_PUNCHES; i++) {
        struct punch *p = np->punches[i];
        if (p && p->state != PUNCH_FREE)
            continue;
        if (!p && !(p = np->punches[i] = malloc(sizeof *p)))
            return NULL;
        memset(p, 0, sizeof *p);
        p->session = s;
        p->began = node->now;
        node->io.random(node->io.ctx, p->my_token, sizeof p->my_token);
        punch_self_side(node, &p->self_side);
        return p;
    }
    return NULL;
}

struct punch_history *punch_history_of(struct knit_node *node,
                                       const struct knit_peer_id *peer,
                                       bool add)
{
    struct node_punch *np = punch_of(node, add);
    if (!np)
        return NULL;
    struct punch_history *victim = NULL;
    int unused = -1;
    for (int i = 0; i < NODE_PUNCH_HISTORY; i++) {
        struct punch_history *h = np->history[i];
        if (!h) {
            if (unused < 0)
                unused = i;
            continue;
        }
        if (knit_peer_id_equal(&h->peer, peer))
            return h;
        if (!victim || h->seen < victim->seen)
            victim = h;
    }
    if (!add)
        return NULL;
    /* A new entry while there is room; else the one seen longest ago. */
    if (unused >= 0) {
        if (!(np->history[unused] = malloc(sizeof *victim)))
            return NULL;
        victim = np->history[unused];
    }
    memset(victim, 0, sizeof *victim);
    victim->peer = *peer;
    victim->seen = node->now;
    return victim;
}

/* An attempt begins, ours or the peer's: counted for the node and the
 * peer. */
static struct punch_history *count_attempt(struct knit_node *node,
                                           struct knit_session *s)
{
    node->punch->stats.attempts++;
    struct punch_history *h = punch_history_of(node, knit_session_peer(s),
                                               true);
    if (h) {
        h->attempts++;
        h->seen = node->now;
    }
    return h;
}

static bool session_relayed(const struct knit_session *s)
{
    int sock = knit_session_path_sock(s);
    return sock >= 0 && circuit_is_sock(sock);
}

/* The attempt is over: success (reason NULL: the session went direct) or
 * failure. Failures are retried by the opener. */
static void punch_end(struct knit_node *node, struct punch *p,
                      const char *reason)
{
    struct node_punch *np = node->punch;
    struct knit_session *s = p->session;
    const struct knit_peer_id *peer = knit_session_peer(s);
    struct punch_history *h = punch_history_of(node, peer, true);
    char who[KNIT_PEER_ID_TEXT_MAX];
    if (knit_peer_id_to_text(peer, who, sizeof who) != KNIT_OK)
        snprintf(who, sizeof who, "?");
    if (!reason) {
        np->stats.direct++;
        if (h) {
            h->successes++;
            h->time_to_direct_us = node->now - p->began;
            h->retry_at = 0;
        }
        node_log(node, node->now, KNIT_LOG_INFO,
                 "punch: direct path to %.16s after %llu ms (%s)", who,
                 (unsigned long long)((node->now - p->began) / 1000),
                 punch_plan_name(p->plan));
    } else {
        np->stats.failed++;
        if (h) {
            h->failures++;
            snprintf(h->reason, sizeof h->reason, "%s", reason);
            uint64_t wait = RETRY_SLOW_US;
            if (p->opener && p->plan != PUNCH_PLAN_LAN_ONLY &&
                h->failures <= RETRY_QUICK) {
                wait = RETRY_FIRST_US;
                for (uint32_t k = 1; k < h->failures; k++)
                    wait *= 3;
            }
            h->retry_at = p->opener ? node->now + wait : 0;
        }
        node_log(node, node->now, KNIT_LOG_INFO,
                 "punch: attempt %u with %.16s failed: %s", p->attempt, who,
                 reason);
    }
    if (h)
        h->seen = node->now;
    punch_probe_end(node, p);
    struct knit_conn *c = knit_session_conn(s);
    if (p->stream_live && c)
        knit_conn_stream_reset(c, p->stream_id, KNIT_CONN_CANCELLED);
    memset(p, 0, sizeof *p);
    if (c)
        knit_session_flush(s, node->now);
}

/* Our own attempt gives way to the peer's (the lower peer ID goes first):
 * no failure, nothing to retry. */
static void punch_drop(struct knit_node *node, struct punch *p)
{
    struct node_punch *np = node->punch;
    struct knit_session *s = p->session;
    struct punch_history *h = punch_history_of(node, knit_session_peer(s),
                                               false);
    if (np->stats.attempts)
        np->stats.attempts--;
    if (h && h->attempts)
        h->attempts--;
    punch_probe_end(node, p);
    struct knit_conn *c = knit_session_conn(s);
    if (p->stream_live && c)
        knit_conn_stream_reset(c, p->stream_id, KNIT_CONN_CANCELLED);
    memset(p, 0, sizeof *p);
}

static int write_msg(struct knit_node *node, struct punch *p,
                     const struct knit_punch_msg *m, bool finish)
{
    uint8_t frame[KNIT_MSG_HEADER_LEN + KNIT_PUNCH_MAX_MESSAGE];
    size_t len, accepted = 0;
    struct knit_conn *c = knit_session_conn(p->session);
    int err = c ? knit_punch_encode(m, frame, sizeof frame, &len)
                : KNIT_E_AGAIN;
    if (err == KNIT_OK)
        err = knit_conn_stream_write(c, p->stream_id, frame, len, &accepted);
    if (err == KNIT_OK && accepted < len)
        err = KNIT_E_NO_SPACE;
    if (err == KNIT_OK && finish)
        err = knit_conn_stream_finish(c, p->stream_id);
    knit_session_flush(p->session, node->now);
    return err;
}

static int send_connect(struct knit_node *node, struct punch *p, bool finish)
{
    struct knit_punch_msg m = {
        .type = KNIT_PUNCH_CONNECT, .attempt = p->attempt,
        .mapping = p->self_side.mapping,
        .filtering = p->self_side.filtering, .reach = p->self_side.reach,
    };
    memcpy(m.token, p->my_token, sizeof m.token);
    m.addr_count = punch_candidates(node, m.addrs, KNIT_PUNCH_MAX_ADDRS);
    return write_msg(node, p, &m, finish);
}

static void start_attempt(struct knit_node *node, struct knit_session *s)
{
    struct knit_conn *c = knit_session_conn(s);
    struct punch *p = c ? punch_new(node, s) : NULL;
    if (!p)
        return;
    struct node_punch *np = node->punch;
    if (knit_conn_open_stream(c, KNIT_PUNCH_PROTOCOL, &p->stream_id) !=
        KNIT_OK) {
        memset(p, 0, sizeof *p);
        return;
    }
    p->stream_live = true;
    p->opener = true;
    p->attempt = ++np->next_attempt;
    p->state = PUNCH_CONNECT_SENT;
    p->deadline = node->now + NODE_PUNCH_ANSWER_US;
    struct punch_history *h = count_attempt(node, s);
    if (h)
        h->retry_at = 0;
    if (send_connect(node, p, false) != KNIT_OK)
        punch_end(node, p, "could not write CONNECT");
}

static bool we_open(const struct knit_node *node, const struct knit_session *s)
{
    return memcmp(node->identity.id.pubkey, knit_session_peer(s)->pubkey,
                  sizeof node->identity.id.pubkey) < 0;
}

void punch_path_changed(struct knit_node *node, struct knit_session *s)
{
    struct node_punch *np = node->punch;
    struct punch *p = np ? find_session(np, s) : NULL;
    if (knit_session_path_sock(s) < 0)
        return;
    if (!session_relayed(s)) {
        if (p)
            punch_end(node, p, NULL);
        if (np)
            punch_kept_sweep(node, s, false);
        return;
    }
    /* Relayed: newly up, or fallen back from a direct path that broke.
     * The lower peer ID opens at once; the other side too, a little later,
     * if nothing came from it meanwhile (it may not have fallen back). */
    if (p || knit_session_is_dead(s))
        return;
    struct punch_history *h = punch_history_of(node, knit_session_peer(s),
                                               true);
    if (!knit_session_peer_serves(s, KNIT_PUNCH_PROTOCOL)) {
        if (h)
            snprintf(h->reason, sizeof h->reason,
                     "the peer does not offer hole punching");
        return;
    }
    if (h && h->successes) {
        /* Fallen back from a direct path: our NAT may have lost its
         * mapping and given us another port, which nobody has told us
         * yet. Ask the relay what it sees now (identify answers with our
         * address) and punch once the answer is in. */
        struct knit_peer_id relay;
        struct knit_session *rs =
            circuit_relay_of(node, knit_session_path_sock(s), &relay)
                ? node_find_session(node, &relay)
                : NULL;
        if (rs && knit_session_is_up(rs))
            identify_send(node, rs, false);
        if (!h->retry_at || h->retry_at > node->now + REFRESH_US)
            h->retry_at = node->now + REFRESH_US;
        return;
    }
    if (we_open(node, s)) {
        start_attempt(node, s);
    } else if (h && (!h->retry_at || h->retry_at > node->now + DEFER_US)) {
        h->retry_at = node->now + DEFER_US;
    }
}

/* ---- the exchange ------------------------------------------------------------ */

static void on_connect(struct knit_node *node, struct punch *p,
                       const struct knit_punch_msg *m)
{
    p->peer = *m;
    memcpy(p->peer_token, m->token, sizeof p->peer_token);
    struct punch_side peer = {
        .mapping = m->mapping, .filtering = m->filtering, .reach = m->reach,
    };
    p->plan = punch_plan(&p->self_side, &peer);
    if (p->opener) {
        p->rtt_us = node->now - p->began;
        struct knit_punch_msg sync = {
            .type = KNIT_PUNCH_SYNC, .attempt = p->attempt,
        };
        if (write_msg(node, p, &sync, true) != KNIT_OK) {
            punch_end(node, p, "could not write SYNC");
            return;
        }
        /* SYNC takes half the round trip to arrive: start together. */
        p->state = PUNCH_WAIT_START;
        p->deadline = node->now + p->rtt_us / 2;
        return;
    }
    p->attempt = m->attempt;
    if (send_connect(node, p, true) != KNIT_OK) {
        punch_end(node, p, "could not answer CONNECT");
        return;
    }
    p->state = PUNCH_WAIT_SYNC;
    p->deadline = node->now + NODE_PUNCH_ANSWER_US;
}

static void begin_probing(struct knit_node *node, struct punch *p)
{
    p->state = PUNCH_PROBING;
    punch_probe_start(node, p);
}

/* One whole message from the peer; false: a protocol violation. */
static bool on_message(struct knit_node *node, struct punch *p,
                       const struct knit_punch_msg *m)
{
    if (m->type == KNIT_PUNCH_CONNECT) {
        bool expected = p->opener ? p->state == PUNCH_CONNECT_SENT &&
                                        m->attempt == p->attempt
                                  : p->state == PUNCH_WAIT_SYNC &&
                                        p->peer.type == 0;
        if (!expected)
            return false;
        on_connect(node, p, m);
        return true;
    }
    if (p->opener || p->state != PUNCH_WAIT_SYNC || p->peer.type == 0 ||
        m->attempt != p->attempt)
        return false;
    begin_probing(node, p);
    return true;
}

static void read_stream(struct knit_node *node, struct punch *p)
{
    struct knit_conn *c = knit_session_conn(p->session);
    for (int round = 0; round < 16 && p->state != PUNCH_FREE; round++) {
        size_t n;
        bool fin = false;
        if (p->len == sizeof p->buf ||
            knit_conn_stream_read(c, p->stream_id, p->buf + p->len,
                                  sizeof p->buf - p->len, &n, &fin) !=
                KNIT_OK)
            goto bad;
        p->len += n;
        for (;;) {
            struct knit_msg_frame f;
            struct knit_punch_msg m;
            int err = knit_msg_deframe(p->buf, p->len,
                                       KNIT_PUNCH_MAX_MESSAGE, &f);
            if (err == KNIT_E_AGAIN)
                break;
            if (err || knit_punch_decode(f.body, f.body_len, &m) != KNIT_OK)
                goto bad;
            memmove(p->buf, p->buf + f.len, p->len - f.len);
            p->len -= f.len;
            if (!on_message(node, p, &m))
                goto bad;
            if (p->state == PUNCH_FREE)
                return;
        }
        if (fin) {
            /* The peer has said all it will; we keep probing. */
            if (p->len)
                goto bad;
            return;
        }
        if (n == 0)
            return;
    }
    return;
bad:
    node_log(node, node->now, KNIT_LOG_DEBUG, "punch: bad message");
    if (p->state != PUNCH_FREE) {
        knit_conn_stream_reset(c, p->stream_id, KNIT_CONN_PROTOCOL_VIOLATION);
        p->stream_live = false;
        punch_end(node, p, "the peer broke the punch protocol");
    }
}

bool punch_open(struct knit_node *node, struct knit_session *s,
                uint64_t stream_id, const char *protocol)
{
    if (strcmp(protocol, KNIT_PUNCH_PROTOCOL) != 0)
        return false;
    struct knit_conn *c = knit_session_conn(s);
    struct node_punch *np = punch_of(node, true);
    struct punch *old = np ? find_session(np, s) : NULL;
    /* Two attempts that cross: the lower peer ID's goes on. A new attempt
     * from the peer replaces one of its own it gave up on. */
    if (old && old->opener && we_open(node, s)) {
        knit_conn_stream_refuse(c, stream_id, KNIT_CONN_CANCELLED);
        return true;
    }
    if (old && old->opener)
        punch_drop(node, old);
    else if (old)
        punch_end(node, old, "the peer started over");
    struct punch *p = punch_new(node, s);
    if (!p) {
        knit_conn_stream_refuse(c, stream_id, KNIT_CONN_STREAM_LIMIT);
        return true;
    }
    p->stream_id = stream_id;
    p->stream_live = true;
    p->state = PUNCH_WAIT_SYNC;
    p->deadline = node->now + NODE_PUNCH_ANSWER_US;
    count_attempt(node, s);
    return true;
}

bool punch_event(struct knit_node *node, struct knit_session *s,
                 const struct knit_session_event *sev)
{
    struct punch *p = node->punch ? find_stream(node->punch, s,
                                                sev->stream_id)
                                  : NULL;
    if (!p)
        return false;
    switch (sev->type) {
    case KNIT_SESSION_STREAM_READABLE:
        read_stream(node, p);
        break;
    case KNIT_SESSION_STREAM_RESET:
        p->stream_live = false;
        if (p->state == PUNCH_CONNECT_SENT && !we_open(node, s))
            punch_drop(node, p);   /* crossed the lower ID's attempt */
        else if (p->state != PUNCH_PROBING)
            punch_end(node, p, "the peer cancelled the attempt");
        break;
    case KNIT_SESSION_STREAM_CLOSED:
        p->stream_live = false;
        break;
    default:
        break;
    }
    return true;
}

void punch_session_down(struct knit_node *node, struct knit_session *s)
{
    struct node_punch *np = node->punch;
    if (!np)
        return;
    struct punch *p = find_session(np, s);
    if (p) {
        p->stream_live = false;
        punch_probe_end(node, p);
        memset(p, 0, sizeof *p);
    }
    punch_kept_sweep(node, s, true);
}

/* ---- timers ------------------------------------------------------------------- */

static const char *failure_reason(const struct punch *p, char *buf,
                                  size_t cap)
{
    switch (p->plan) {
    case PUNCH_PLAN_LAN_ONLY:
        snprintf(buf, cap,
                 "both NATs map per destination: no direct path without a "
                 "port mapping (%u LAN candidate probes unanswered)",
                 p->probes);
        break;
    case PUNCH_PLAN_SPRAY:
        snprintf(buf, cap,
                 "birthday punch: none of %u random-port probes reached the "
                 "peer's NAT",
                 p->spray.count);
        break;
    case PUNCH_PLAN_SOCKETS:
        snprintf(buf, cap,
                 "birthday punch: no probe reached any of our %u sockets",
                 p->sock_count);
        break;
    default:
        if (p->rtt_us)
            snprintf(buf, cap,
                     "no probe answered within %llu ms (%u candidates of "
                     "the peer, rtt %llu ms)",
                     (unsigned long long)(PUNCH_DIRECT_WINDOW_US / 1000),
                     p->peer.addr_count,
                     (unsigned long long)(p->rtt_us / 1000));
        else
            snprintf(buf, cap,
                     "no probe answered within %llu ms (%u candidates of "
                     "the peer)",
                     (unsigned long long)(PUNCH_DIRECT_WINDOW_US / 1000),
                     p->peer.addr_count);
        break;
    }
    return buf;
}

static uint64_t punch_step(struct knit_node *node, struct punch *p,
                           uint64_t now)
{
    char why[NODE_PUNCH_REASON_MAX];
    switch (p->state) {
    case PUNCH_CONNECT_SENT:
    case PUNCH_WAIT_SYNC:
        if (now >= p->deadline) {
            punch_end(node, p, p->state == PUNCH_CONNECT_SENT
                                   ? "no answer to CONNECT"
                                   : "no SYNC after CONNECT");
            return KNIT_NO_DEADLINE;
        }
        return p->deadline;
    case PUNCH_WAIT_START:
        if (now < p->deadline)
            return p->deadline;
        begin_probing(node, p);
        /* fall through */
    case PUNCH_PROBING:
        if (now >= p->deadline) {
            punch_end(node, p, failure_reason(p, why, sizeof why));
            return KNIT_NO_DEADLINE;
        }
        return punch_probe_due(node, p, now);
    default:
        return KNIT_NO_DEADLINE;
    }
}

uint64_t punch_deadline(const struct knit_node *node)
{
    const struct node_punch *np = node->punch;
    uint64_t next = KNIT_NO_DEADLINE;
    if (!np)
        return next;
    for (int i = 0; i < NODE_MAX_PUNCHES; i++) {
        const struct punch *p = np->punches[i];
        if (!p || p->state == PUNCH_FREE)
            continue;
        uint64_t t = p->deadline;
        if (p->state == PUNCH_PROBING) {
            if (p->next_round && p->next_round < t)
                t = p->next_round;
            if (p->next_batch && p->next_batch < t)
                t = p->next_batch;
            if (p->next_spray && p->next_spray < t)
                t = p->next_spray;
        }
        if (t < next)
            next = t;
    }
    for (int i = 0; i < NODE_PUNCH_HISTORY; i++)
        if (np->history[i] && np->history[i]->retry_at &&
            np->history[i]->retry_at < next)
            next = np->history[i]->retry_at;
    if (np->kept_check_at && np->kept_check_at < next)
        next = np->kept_check_at;
    return next;
}

void punch_timeout(struct knit_node *node, uint64_t now)
{
    struct node_punch *np = node->punch;
    if (!np)
        return;
    for (int i = 0; i < NODE_MAX_PUNCHES; i++)
        if (np->punches[i] && np->punches[i]->state != PUNCH_FREE)
            punch_step(node, np->punches[i], now);
    for (int i = 0; i < NODE_PUNCH_HISTORY; i++) {
        struct punch_history *h = np->history[i];
        if (!h || !h->retry_at || now < h->retry_at)
            continue;
        h->retry_at = 0;
        struct knit_session *s = node_find_session(node, &h->peer);
        if (s && knit_session_is_up(s) && !knit_session_is_dead(s) &&
            session_relayed(s) && !find_session(np, s))
            start_attempt(node, s);
    }
    if (np->kept_check_at && now >= np->kept_check_at) {
        np->kept_check_at = 0;
        punch_kept_sweep(node, NULL, false);
    }
}

void node_punch_free(struct knit_node *node)
{
    struct node_punch *np = node->punch;
    if (!np)
        return;
    /* No io calls here (knit_node_free): the driver closes its sockets. */
    for (int i = 0; i < NODE_MAX_PUNCHES; i++) {
        if (np->punches[i]) {
            free(np->punches[i]->socks);
            punch_spray_free(&np->punches[i]->spray);
            free(np->punches[i]);
        }
    }
    for (int i = 0; i < NODE_PUNCH_HISTORY; i++)
        free(np->history[i]);
    free(np);
    node->punch = NULL;
}

void punch_stats(struct knit_node *node, struct knit_node_traversal *out)
{
    const struct node_punch *np = node->punch;
    if (!np)
        return;
    out->punch_attempts = np->stats.attempts;
    out->punch_direct = np->stats.direct;
    out->punch_failed = np->stats.failed;
    out->punch_probes = np->stats.probes;
    out->punch_sockets = np->stats.sockets;
}

int knit_node_punch_info(struct knit_node *node,
                         const struct knit_peer_id *peer,
                         struct knit_node_punch *out)
{
    memset(out, 0, sizeof *out);
    struct punch_history *h = punch_history_of(node, peer, false);
    struct knit_session *s = node_find_session(node, peer);
    struct punch *p = s && node->punch ? find_session(node->punch, s) : NULL;
    if (!h && !p)
        return KNIT_E_NOT_FOUND;
    if (h) {
        out->attempts = h->attempts;
        out->failures = h->failures;
        out->successes = h->successes;
        out->time_to_direct_us = h->time_to_direct_us;
        snprintf(out->reason, sizeof out->reason, "%s", h->reason);
    }
    out->in_progress = p != NULL;
    return KNIT_OK;
}
