/* The AutoNAT server's side (wire: node/autonat_msg.h; the client is in
 * node/node_autonat.c): reports where a PROBE to our alternate port came
 * from, and dials back. A dial-back goes only to the address we see the
 * requester at (its session's path), never to one named in the request,
 * never over a relayed session, and within a global rate; a helper dials
 * for another public peer only, at a global address, within the same
 * rate. A DIAL is one 20-byte packet: no amplification. */
#include <stdlib.h>
#include <string.h>

#include "node/node_internal.h"
#include "node/node_relay.h"
#include "node/autonat_limit.h"
#include "node/node_traversal.h"
#include "proto/conn.h"
#include "transport/error.h"

#define SECOND_US 1000000ull
#define OBSERVE_WAIT (5 * SECOND_US)     /* for the PROBE */

/* Per requesting peer and in all (node/autonat_limit.h); the table is
 * made when the first request comes, as few nodes serve. */
static bool rate_ok(struct knit_node *node, struct knit_session *asker,
                    enum knit_autonat_limit_kind kind)
{
    struct node_traversal *t = node->traversal;
    if (!t->limit && knit_autonat_limit_new(&t->limit, NULL) != KNIT_OK)
        return false;
    return knit_autonat_limit_allow(t->limit, knit_session_peer(asker), kind,
                                    node->now);
}

static void send_dial(struct knit_node *node, int sock,
                      const struct knit_addr *to,
                      const uint8_t nonce[KNIT_AUTONAT_NONCE_LEN])
{
    uint8_t pkt[KNIT_AUTONAT_PACKET_LEN];
    if (knit_autonat_packet_build(KNIT_PACKET_DIAL, nonce, pkt) != KNIT_OK)
        return;
    /* Twice: one lost packet should not read as "unreachable". */
    node->io.send(node->io.ctx, sock, to, pkt, sizeof pkt);
    node->io.send(node->io.ctx, sock, to, pkt, sizeof pkt);
}

/* Kind 1: from a socket of ours the requester never talked to. One such
 * socket serves every requester: nobody ever sends to it (a DIAL is not
 * answered), so no NAT holds a mapping towards it. Opened when first
 * needed, kept for the node's life. */
static uint8_t dial_from_fresh_sock(struct knit_node *node,
                                      const struct knit_addr *to,
                                      const uint8_t *nonce)
{
    struct node_traversal *t = node->traversal;
    int *sock = &t->dial_sock[to->family == KNIT_AF_IP6];
    if (*sock < 0 && node->io.open_socket)
        *sock = node->io.open_socket(node->io.ctx, to->family, 0);
    if (*sock < 0)
        return KNIT_AUTONAT_INTERNAL;
    send_dial(node, *sock, to, nonce);
    return KNIT_AUTONAT_SENT;
}

static bool helper_ok(struct knit_session *h, struct knit_session *asker,
                      const struct knit_addr *to)
{
    /* Run for every session at every dial-back asked: cheapest tests first. */
    if (h == asker || knit_session_is_dead(h) || !knit_session_is_up(h) ||
        is_relayed(h))
        return false;
    struct knit_addr path = knit_session_path_addr(h);
    return !knit_addr_same_ip(&path, to) &&
           knit_session_peer_serves(h, KNIT_AUTONAT_PROTOCOL);
}

/* A public node has thousands of sessions, and a third or more of them
 * are eligible helpers, so a few random draws almost always find one; a
 * pass over every session per request was 2 % of a simulated join's CPU.
 * A draw that lands on an eligible session picks uniformly among them,
 * and so does the pass that follows when every draw missed. */
#define HELPER_DRAWS 8

/* *out: the helper, or NULL when no session is eligible. KNIT_E_NOMEM. */
static int pick_helper(struct knit_node *node, struct knit_session *asker,
                       const struct knit_addr *to, struct knit_session **out)
{
    uint32_t pick;
    *out = NULL;
    for (int d = 0; d < HELPER_DRAWS && node->session_count > 0; d++) {
        node->io.random(node->io.ctx, (uint8_t *)&pick, sizeof pick);
        struct knit_session *h = node->sessions[pick % node->session_count];
        if (helper_ok(h, asker, to)) {
            *out = h;
            return KNIT_OK;
        }
    }
    /* One pass, keeping the eligible ones to pick from. */
    struct knit_session **ok = malloc((node->session_count + 1) * sizeof *ok);
    if (!ok)
        return KNIT_E_NOMEM;
    size_t eligible = 0;
    for (size_t k = 0; k < node->session_count; k++)
        if (helper_ok(node->sessions[k], asker, to))
            ok[eligible++] = node->sessions[k];
    if (eligible > 0) {
        node->io.random(node->io.ctx, (uint8_t *)&pick, sizeof pick);
        *out = ok[pick % (uint32_t)eligible];
    }
    free(ok);
    return KNIT_OK;
}

/* Kind 2: a public peer at another IP than the requester's dials for us.
 * Picked at random: the requester learns something only from a helper it
 * has never sent to, and in a network of any size most are such. */
static uint8_t dial_through_helper(struct knit_node *node, int i,
                                   const struct knit_addr *to)
{
    struct knit_session *asker = an_at(node, i)->session;
    struct knit_session *h;
    if (pick_helper(node, asker, to, &h) != KNIT_OK)
        return KNIT_AUTONAT_INTERNAL;
    if (!h)
        return KNIT_AUTONAT_NO_HELPER;
    uint64_t sid;
    struct knit_conn *c = knit_session_conn(h);
    if (knit_conn_open_stream(c, KNIT_AUTONAT_PROTOCOL, &sid) != KNIT_OK)
        return KNIT_AUTONAT_INTERNAL;
    int j = an_new(node, h, sid, AN_FORWARD);
    if (j < 0) {
        knit_conn_stream_reset(c, sid, KNIT_CONN_CANCELLED);
        return KNIT_AUTONAT_REFUSED_RATE;
    }
    struct an_stream *fw = an_at(node, j);
    struct an_stream *st = an_at(node, i);
    fw->req = (struct knit_autonat_msg){
        .type = KNIT_AUTONAT_DIAL_FOR, .id = ++node->traversal->next_id,
        .has_nonce = true, .has_addr = true, .addr = *to,
    };
    memcpy(fw->req.nonce, st->req.nonce, sizeof fw->req.nonce);
    fw->partner = i;
    st->partner = j;
    if (an_send(node, j, &fw->req) != KNIT_OK) {
        an_reset(node, j);
        return KNIT_AUTONAT_INTERNAL;
    }
    return KNIT_AUTONAT_SENT;   /* the helper's RESULT is passed on */
}

void autonat_serve(struct knit_node *node, int i)
{
    struct node_traversal *t = node->traversal;
    struct an_stream *st = an_at(node, i);
    struct knit_addr path = knit_session_path_addr(st->session);
    if (!t->serving_autonat) {
        answer_status(node, i, KNIT_AUTONAT_INTERNAL);
        return;
    }
    if (is_relayed(st->session)) {
        answer_status(node, i, KNIT_AUTONAT_REFUSED_RELAYED);
        return;
    }
    switch (st->req.type) {
    case KNIT_AUTONAT_OBSERVE:
        if (!rate_ok(node, st->session, KNIT_AUTONAT_LIMIT_REQUEST))
            answer_status(node, i, KNIT_AUTONAT_REFUSED_RATE);
        else if (t->alt_sock < 0)
            answer_status(node, i, KNIT_AUTONAT_INTERNAL);
        else
            st->deadline = node->now + OBSERVE_WAIT;   /* for the PROBE */
        return;
    case KNIT_AUTONAT_DIAL_BACK: {
        if (!rate_ok(node, st->session, KNIT_AUTONAT_LIMIT_REQUEST)) {
            answer_status(node, i, KNIT_AUTONAT_REFUSED_RATE);
            return;
        }
        uint8_t status = st->req.kind == KNIT_AUTONAT_KIND_OTHER_PORT
                             ? dial_from_fresh_sock(node, &path,
                                                      st->req.nonce)
                             : dial_through_helper(node, i, &path);
        st = an_at(node, i);
        if (status != KNIT_AUTONAT_SENT ||
            st->req.kind == KNIT_AUTONAT_KIND_OTHER_PORT)
            answer_status(node, i, status);
        return;
    }
    case KNIT_AUTONAT_DIAL_FOR: {
        int sock = main_sock(node, st->req.addr.family);
        if (!knit_session_peer_serves(st->session, KNIT_AUTONAT_PROTOCOL) ||
            !knit_addr_is_global(&st->req.addr) || sock < 0) {
            answer_status(node, i, KNIT_AUTONAT_BAD_REQUEST);
            return;
        }
        if (!rate_ok(node, st->session, KNIT_AUTONAT_LIMIT_DIAL_FOR)) {
            answer_status(node, i, KNIT_AUTONAT_REFUSED_RATE);
            return;
        }
        send_dial(node, sock, &st->req.addr, st->req.nonce);
        answer_status(node, i, KNIT_AUTONAT_SENT);
        return;
    }
    default:
        answer_status(node, i, KNIT_AUTONAT_BAD_REQUEST);
    }
}

