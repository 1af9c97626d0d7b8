/* AutoNAT (/knit/autonat/1): its streams, and the client's side (wire:
 * node/autonat_msg.h; the server's side is node/node_autonat_server.c).
 *
 * Every round the client asks up to three public peers with distinct IPs
 *   - to report the address a PROBE to their alternate port came from (a
 *     second destination per peer, for the mapping classification), and
 *   - to dial it back, once from another port of their own IP (kind 1) and
 *     once through a helper with another IP (kind 2).
 * A DIAL that arrives, or not within DIAL_WAIT of the server saying it was
 * sent, is one answer to node/reachability.h, which settles reachability
 * and filtering without flapping on one failure. What a DIAL proves
 * depends on where it came from (sender_kind below). */
#include <stdlib.h>
#include <string.h>

#include "node/node_internal.h"
#include "node/node_relay.h"
#include "node/node_traversal.h"
#include "proto/conn.h"
#include "transport/error.h"

#define SECOND_US 1000000ull
#define DIAL_WAIT (3 * SECOND_US)        /* after SENT, for the DIAL */
#define ANSWER_WAIT (10 * SECOND_US)     /* for any answer on a stream */
#define ROUND_SOON (30 * SECOND_US)      /* until reachability settles */
#define ROUND_SETTLED (10 * 60 * SECOND_US)
#define SERVERS_PER_ROUND 3

/* ---- streams ---------------------------------------------------------------- */

struct an_stream *an_at(struct knit_node *node, int i)
{
    struct node_traversal *t = node->traversal;
    if (i < 0 || i >= NODE_MAX_AUTONAT_STREAMS || !t->an_streams[i] ||
        !t->an_streams[i]->session)
        return NULL;
    return t->an_streams[i];
}

static int an_find(struct knit_node *node, const struct knit_session *s,
                   uint64_t id)
{
    struct node_traversal *t = node->traversal;
    for (int i = 0; i < t->an_allocated; i++)
        if (t->an_streams[i]->session == s &&
            t->an_streams[i]->stream_id == id)
            return i;
    return -1;
}

int an_new(struct knit_node *node, struct knit_session *s,
                  uint64_t id, uint8_t role)
{
    struct node_traversal *t = node->traversal;
    for (int i = 0; i < NODE_MAX_AUTONAT_STREAMS; i++) {
        struct an_stream *st = t->an_streams[i];
        if (st && st->session)
            continue;
        if (!st) {
            if (!(st = t->an_streams[i] = malloc(sizeof *st)))
                return KNIT_E_NOMEM;
            t->an_allocated = i + 1;
        }
        memset(st, 0, sizeof *st);
        st->session = s;
        st->stream_id = id;
        st->role = role;
        st->partner = -1;
        st->deadline = node->now + ANSWER_WAIT;
        return i;
    }
    return KNIT_E_LIMIT;
}

static void an_release(struct knit_node *node, int i)
{
    struct an_stream *st = an_at(node, i);
    if (!st)
        return;
    if (st->busy) {
        /* Reading a FIN can close the stream from inside the read. */
        st->closed = true;
        return;
    }
    struct an_stream *p = an_at(node, st->partner);
    if (p && p->partner == i)
        p->partner = -1;
    memset(st, 0, sizeof *st);
}

void an_reset(struct knit_node *node, int i)
{
    struct an_stream *st = an_at(node, i);
    if (!st)
        return;
    struct knit_conn *c = knit_session_conn(st->session);
    if (c) {
        knit_conn_stream_reset(c, st->stream_id, KNIT_CONN_CANCELLED);
        knit_session_flush(st->session, node->now);
    }
    an_release(node, i);
}

/* Our one message on stream i, then FIN. */
int an_send(struct knit_node *node, int i,
                   const struct knit_autonat_msg *m)
{
    struct an_stream *st = an_at(node, i);
    struct knit_conn *c = st ? knit_session_conn(st->session) : NULL;
    uint8_t frame[KNIT_MSG_HEADER_LEN + KNIT_AUTONAT_MAX_MESSAGE];
    size_t len, accepted = 0;
    if (!c)
        return KNIT_E_NOT_FOUND;
    int err = knit_autonat_encode(m, frame, sizeof frame, &len);
    if (err == KNIT_OK)
        err = knit_conn_stream_write(c, st->stream_id, frame, len, &accepted);
    if (err == KNIT_OK && accepted < len)
        err = KNIT_E_NO_SPACE;
    if (err == KNIT_OK)
        err = knit_conn_stream_finish(c, st->stream_id);
    st->answered = true;
    knit_session_flush(st->session, node->now);
    return err;
}

void answer_status(struct knit_node *node, int i, uint8_t status)
{
    struct an_stream *st = an_at(node, i);
    struct knit_autonat_msg m = {.type = KNIT_AUTONAT_RESULT,
                                 .id = st->req.id, .status = status};
    if (an_send(node, i, &m) != KNIT_OK)
        an_reset(node, i);
}

bool is_relayed(struct knit_session *s)
{
    return circuit_is_sock(knit_session_path_sock(s));
}

void ip_of(const struct knit_addr *a, struct knit_addr *ip)
{
    *ip = *a;
    ip->port = 0;
}

int main_sock(const struct knit_node *node, uint8_t family)
{
    for (size_t i = 0; i < node->socket_count; i++)
        if (node->sockets[i].local.family == family)
            return node->sockets[i].handle;
    return -1;
}

/* ---- client ------------------------------------------------------------------------ */

static struct an_pending *pending_new(struct knit_node *node)
{
    struct node_traversal *t = node->traversal;
    for (int k = 0; k < NODE_AUTONAT_PENDING; k++)
        if (!t->pending[k].used) {
            memset(&t->pending[k], 0, sizeof t->pending[k]);
            t->pending[k].used = true;
            return &t->pending[k];
        }
    return NULL;
}

static struct an_pending *pending_find(struct knit_node *node,
                                       const uint8_t *nonce)
{
    struct node_traversal *t = node->traversal;
    for (int k = 0; k < NODE_AUTONAT_PENDING; k++)
        if (t->pending[k].used &&
            memcmp(t->pending[k].nonce, nonce, KNIT_AUTONAT_NONCE_LEN) == 0)
            return &t->pending[k];
    return NULL;
}

/* What a DIAL from `a` proves depends on whether we talk to it: from an
 * endpoint we talk to, nothing (any NAT lets it in); from another port of
 * an IP we talk to, that such ports get in (kind 1); only from an IP we
 * never talk to, that anyone gets in (kind 2). Our sessions' paths stand
 * for "what we sent to". */
enum { FROM_STRANGER, FROM_KNOWN_IP, FROM_KNOWN_ENDPOINT };

static int sender_kind(const struct knit_node *node, const struct knit_addr *a)
{
    int kind = FROM_STRANGER;
    for (size_t k = 0; k < node->session_count; k++) {
        struct knit_session *s = node->sessions[k];
        if (knit_session_is_dead(s) || circuit_is_sock(
                                           knit_session_path_sock(s)))
            continue;
        struct knit_addr path = knit_session_path_addr(s);
        if (knit_addr_equal(&path, a))
            return FROM_KNOWN_ENDPOINT;
        if (knit_addr_same_ip(&path, a))
            kind = FROM_KNOWN_IP;
    }
    const struct node_traversal *t = node->traversal;
    for (size_t k = 0; k < sizeof t->recent / sizeof t->recent[0]; k++) {
        if (!t->recent[k].addr.family ||
            node->now - t->recent[k].at > NODE_RECENT_PATH_US)
            continue;
        if (knit_addr_equal(&t->recent[k].addr, a))
            return FROM_KNOWN_ENDPOINT;
        if (knit_addr_same_ip(&t->recent[k].addr, a))
            kind = FROM_KNOWN_IP;
    }
    return kind;
}

/* Helpers exist: a public verdict from other-port answers alone no longer
 * counts behind a NAT (node_traversal.c, is_public), so whether we are
 * public is decided again now, not at the next change of the verdict. */
static void saw_helper(struct knit_node *node)
{
    struct node_traversal *t = node->traversal;
    if (t->helpers_seen)
        return;
    t->helpers_seen = true;
    traversal_changed(node);
}

static void settle(struct knit_node *node, struct an_pending *p, bool arrived)
{
    knit_reach_add(node->traversal->reach, &p->server_ip, p->kind, arrived,
                   node->now);
    p->used = false;
    traversal_changed(node);
}

static int ask(struct knit_node *node, struct knit_session *s,
               const struct knit_autonat_msg *m)
{
    struct knit_conn *c = knit_session_conn(s);
    uint64_t sid;
    int err = knit_conn_open_stream(c, KNIT_AUTONAT_PROTOCOL, &sid);
    if (err)
        return err;
    int i = an_new(node, s, sid, AN_ASK);
    if (i < 0) {
        knit_conn_stream_reset(c, sid, KNIT_CONN_CANCELLED);
        return i;
    }
    struct an_stream *st = an_at(node, i);
    st->req = *m;
    struct knit_addr path = knit_session_path_addr(s);
    ip_of(&path, &st->server_ip);
    err = an_send(node, i, m);
    if (err)
        an_reset(node, i);
    return err;
}

static void ask_server(struct knit_node *node, struct knit_session *s)
{
    struct node_traversal *t = node->traversal;
    struct knit_addr path = knit_session_path_addr(s);
    const struct node_peer_info *info =
        traversal_peer(node, knit_session_peer(s), false);
    int sock = main_sock(node, path.family);
    if (info && info->alt_port && sock >= 0) {
        struct knit_autonat_msg m = {.type = KNIT_AUTONAT_OBSERVE,
                                     .id = ++t->next_id, .has_nonce = true};
        node->io.random(node->io.ctx, m.nonce, sizeof m.nonce);
        if (ask(node, s, &m) == KNIT_OK) {
            uint8_t pkt[KNIT_AUTONAT_PACKET_LEN];
            struct knit_addr alt = path;
            alt.port = info->alt_port;
            knit_autonat_packet_build(KNIT_PACKET_PROBE, m.nonce, pkt);
            node->io.send(node->io.ctx, sock, &alt, pkt, sizeof pkt);
            node->io.send(node->io.ctx, sock, &alt, pkt, sizeof pkt);
        }
    }
    for (uint8_t kind = KNIT_AUTONAT_KIND_OTHER_PORT;
         kind <= KNIT_AUTONAT_KIND_OTHER_IP; kind++) {
        struct an_pending *p = pending_new(node);
        if (!p)
            return;
        struct knit_autonat_msg m = {.type = KNIT_AUTONAT_DIAL_BACK,
                                     .id = ++t->next_id, .has_nonce = true,
                                     .kind = kind};
        node->io.random(node->io.ctx, m.nonce, sizeof m.nonce);
        memcpy(p->nonce, m.nonce, sizeof p->nonce);
        ip_of(&path, &p->server_ip);
        p->kind = kind;
        p->deadline = node->now + ANSWER_WAIT;   /* until SENT moves it */
        if (ask(node, s, &m) != KNIT_OK)
            p->used = false;
    }
}

/* interval ± 25 %: nodes that started together must not ask together
 * (servers rate-limit), and a network should not pulse. */
uint64_t jittered(struct knit_node *node, uint64_t interval)
{
    uint32_t r;
    node->io.random(node->io.ctx, (uint8_t *)&r, sizeof r);
    return interval - interval / 4 + r % (interval / 2 + 1);
}

/* One round: up to SERVERS_PER_ROUND public peers at distinct IPs,
 * starting at a different one each round. */
static void round_start(struct knit_node *node)
{
    struct node_traversal *t = node->traversal;
    struct knit_addr used[SERVERS_PER_ROUND];
    size_t asked = 0, n = node->session_count;
    for (size_t k = 0; k < n && asked < SERVERS_PER_ROUND; k++) {
        struct knit_session *s = node->sessions[(k + t->rounds) % n];
        if (knit_session_is_dead(s) || !knit_session_is_up(s) ||
            is_relayed(s) || !knit_session_peer_serves(s,
                                                       KNIT_AUTONAT_PROTOCOL))
            continue;
        struct knit_addr path = knit_session_path_addr(s);
        bool dup = false;
        for (size_t u = 0; u < asked; u++)
            dup = dup || knit_addr_same_ip(&used[u], &path);
        if (dup)
            continue;
        used[asked++] = path;
        ask_server(node, s);
    }
    t->rounds++;
    /* Often until reachability and filtering are both settled; without a
     * NAT (observers see our own address) there is no filtering to learn. */
    bool no_nat = t->mapping.confidence && !t->mapping.nat;
    bool settled = t->verdict.reachability != KNIT_REACHABILITY_UNKNOWN &&
                   t->verdict.confidence >= KNIT_REACH_MAX_CONFIDENCE &&
                   (t->verdict.filtering != KNIT_FILTERING_UNKNOWN || no_nat);
    t->autonat_at = asked == 0 ? KNIT_NO_DEADLINE
                    : node->now + jittered(node, settled ? ROUND_SETTLED
                                                         : ROUND_SOON);
}

static void on_answer(struct knit_node *node, int i,
                      const struct knit_autonat_msg *m)
{
    struct node_traversal *t = node->traversal;
    struct an_stream *st = an_at(node, i);
    if (m->id != st->req.id)
        return;
    if (st->req.type == KNIT_AUTONAT_OBSERVE) {
        const struct node_peer_info *info =
            traversal_peer(node, knit_session_peer(st->session), false);
        int sock = main_sock(node, m->addr.family);
        if (m->type == KNIT_AUTONAT_OBSERVED && info && sock >= 0) {
            struct knit_addr observer = st->server_ip;
            observer.port = info->alt_port;
            if (knit_observed_add(t->observed, sock, &observer, &m->addr,
                                  node->now) == KNIT_OK)
                traversal_changed(node);
        }
        return;
    }
    struct an_pending *p = pending_find(node, st->req.nonce);
    if (!p || m->type != KNIT_AUTONAT_RESULT)
        return;
    if (m->status == KNIT_AUTONAT_SENT) {
        p->sent = true;
        p->deadline = node->now + DIAL_WAIT;
        if (p->kind == KNIT_AUTONAT_KIND_OTHER_IP)
            saw_helper(node);
    }
    else {
        p->used = false;   /* refused: no evidence either way */
        if (m->status == KNIT_AUTONAT_NO_HELPER && !t->no_helper_said) {
            t->no_helper_said = true;
            traversal_changed(node);
        }
    }
}

/* ---- streams in and out --------------------------------------------------------- */

static void read_message(struct knit_node *node, int i);

/* Reading may close the stream from inside the read (its FIN): the slot
 * is released only once the message has been handled. */
static void read_guarded(struct knit_node *node, int i)
{
    an_at(node, i)->busy = true;
    read_message(node, i);
    struct an_stream *st = an_at(node, i);
    if (st) {
        st->busy = false;
        if (st->closed)
            an_release(node, i);
    }
}

static void read_message(struct knit_node *node, int i)
{
    struct an_stream *st = an_at(node, i);
    struct knit_conn *c = knit_session_conn(st->session);
    size_t n;
    bool fin = false;
    if (knit_conn_stream_read(c, st->stream_id, st->buf + st->len,
                              sizeof st->buf - st->len, &n, &fin) != KNIT_OK) {
        an_reset(node, i);
        return;
    }
    st->len += n;
    knit_session_flush(st->session, node->now);
    struct knit_msg_frame f;
    int err = knit_msg_deframe(st->buf, st->len, KNIT_AUTONAT_MAX_MESSAGE,
                               &f);
    if (err == KNIT_E_AGAIN && !fin)
        return;
    struct knit_autonat_msg m;
    if (err == KNIT_OK && f.len == st->len)
        err = knit_autonat_decode(f.body, f.body_len, &m);
    else if (err == KNIT_OK)
        err = KNIT_E_TRAILING;
    if (err) {
        node_log(node, node->now, KNIT_LOG_DEBUG, "autonat: bad message: %s",
                 knit_strerror(err));
        an_reset(node, i);
        return;
    }
    st->len = 0;
    st->got = true;
    switch (st->role) {
    case AN_SERVE:
        st->req = m;
        autonat_serve(node, i);
        break;
    case AN_ASK:
        on_answer(node, i, &m);
        break;
    case AN_FORWARD: {
        int partner = st->partner;
        if (m.type == KNIT_AUTONAT_RESULT && an_at(node, partner))
            answer_status(node, partner, m.status);
        break;
    }
    }
}

bool autonat_open(struct knit_node *node, struct knit_session *s,
                  uint64_t stream_id, const char *protocol)
{
    if (strcmp(protocol, KNIT_AUTONAT_PROTOCOL) != 0)
        return false;
    if (an_new(node, s, stream_id, AN_SERVE) < 0)
        knit_conn_stream_refuse(knit_session_conn(s), stream_id,
                                KNIT_CONN_STREAM_LIMIT);
    return true;
}

bool autonat_event(struct knit_node *node, struct knit_session *s,
                   const struct knit_session_event *sev)
{
    int i = an_find(node, s, sev->stream_id);
    if (i < 0)
        return false;
    struct an_stream *st = an_at(node, i);
    switch (sev->type) {
    case KNIT_SESSION_STREAM_READABLE:
        if (st->role == AN_SERVE && st->req.type) {
            /* Asked already: only the asker's FIN may follow. */
            uint8_t junk[8];
            size_t n;
            bool fin;
            if (knit_conn_stream_read(knit_session_conn(s), st->stream_id,
                                      junk, sizeof junk, &n, &fin) ==
                    KNIT_OK &&
                n)
                an_reset(node, i);
            return true;
        }
        read_guarded(node, i);
        break;
    case KNIT_SESSION_STREAM_RESET:
    case KNIT_SESSION_STREAM_CLOSED:
        an_release(node, i);
        break;
    default:
        break;
    }
    return true;
}

void autonat_session_down(struct knit_node *node, struct knit_session *s)
{
    for (int i = 0; i < node->traversal->an_allocated; i++) {
        struct an_stream *st = an_at(node, i);
        if (st && st->session == s)
            an_release(node, i);
    }
}

/* A PROBE on our alternate socket (server) or a DIAL on our main socket
 * (client). */
bool autonat_packet(struct knit_node *node, int sock,
                    const struct knit_addr *from, uint8_t type,
                    const uint8_t nonce[KNIT_AUTONAT_NONCE_LEN])
{
    struct node_traversal *t = node->traversal;
    if (type == KNIT_PACKET_DIAL) {
        struct an_pending *p = pending_find(node, nonce);
        if (!p || sock == t->alt_sock)
            return false;
        int sender = sender_kind(node, from);
        /* A DIAL for a kind-2 request came from a helper, whatever it
         * proves, and usually before the server's SENT (one hop, not
         * two), which then finds no pending request. */
        bool helper = p->kind == KNIT_AUTONAT_KIND_OTHER_IP;
        if (sender == FROM_KNOWN_ENDPOINT) {
            p->used = false;   /* proves nothing */
            if (helper)
                saw_helper(node);
            return true;
        }
        if (helper)
            saw_helper(node);
        if (sender == FROM_KNOWN_IP)
            p->kind = KNIT_AUTONAT_KIND_OTHER_PORT;
        settle(node, p, true);
        return true;
    }
    if (sock != t->alt_sock || sock < 0)
        return false;
    for (int i = 0; i < t->an_allocated; i++) {
        struct an_stream *st = an_at(node, i);
        if (!st || st->role != AN_SERVE || st->answered ||
            st->req.type != KNIT_AUTONAT_OBSERVE ||
            memcmp(st->req.nonce, nonce, KNIT_AUTONAT_NONCE_LEN) != 0)
            continue;
        struct knit_autonat_msg m = {.type = KNIT_AUTONAT_OBSERVED,
                                     .id = st->req.id, .has_addr = true,
                                     .addr = *from};
        if (an_send(node, i, &m) != KNIT_OK)
            an_reset(node, i);
        return true;
    }
    return false;
}

/* ---- timers -------------------------------------------------------------------------- */

uint64_t autonat_deadline(const struct knit_node *node)
{
    const struct node_traversal *t = node->traversal;
    uint64_t next = t->autonat_at;
    for (int k = 0; k < NODE_AUTONAT_PENDING; k++)
        if (t->pending[k].used && t->pending[k].deadline < next)
            next = t->pending[k].deadline;
    for (int i = 0; i < t->an_allocated; i++) {
        const struct an_stream *st = t->an_streams[i];
        if (st->session &&
            (st->role == AN_SERVE ? !st->answered : !st->got) &&
            st->deadline < next)
            next = st->deadline;
    }
    return next;
}

void autonat_timeout(struct knit_node *node, uint64_t now)
{
    struct node_traversal *t = node->traversal;
    for (int i = 0; i < t->an_allocated; i++) {
        struct an_stream *st = t->an_streams[i];
        if (!st->session)
            continue;
        bool waiting = st->role == AN_SERVE ? !st->answered : !st->got;
        if (!waiting || st->deadline > now)
            continue;
        if (st->role == AN_SERVE)
            answer_status(node, i, st->req.type == KNIT_AUTONAT_OBSERVE
                                       ? KNIT_AUTONAT_INTERNAL
                                       : KNIT_AUTONAT_NO_HELPER);
        else
            an_reset(node, i);
    }
    for (int k = 0; k < NODE_AUTONAT_PENDING; k++) {
        struct an_pending *p = &t->pending[k];
        if (!p->used || p->deadline > now)
            continue;
        if (p->sent)
            settle(node, p, false);   /* sent, and nothing came */
        else
            p->used = false;          /* never answered: no evidence */
    }
    if (t->autonat_at <= now)
        round_start(node);
}
