/* Reservations of a node that others cannot reach directly: it keeps them
 * on a few public peers that offer the hop service (relay/client.h picks
 * them by RTT, refreshes them and replaces lost ones) and publishes the
 * relayed addresses in its signed record, so a dialer that finds the
 * record in the DHT knows which relays lead to it. */
#include <stdlib.h>
#include <string.h>

#include "node/node_internal.h"
#include "node/node_relay.h"
#include "proto/conn.h"
#include "transport/error.h"

static bool offers_hop(struct knit_session *s)
{
    return knit_session_is_up(s) &&
           !circuit_is_sock(knit_session_path_sock(s)) &&
           knit_session_peer_serves(s, KNIT_RELAY_HOP_PROTOCOL);
}

static void ask(struct knit_node *node, const struct knit_peer_id *relay)
{
    struct knit_relay_client *c = node->relay->client;
    struct knit_session *s = node_find_session(node, relay);
    struct knit_conn *conn = s ? knit_session_conn(s) : NULL;
    uint64_t sid;
    int i = -1;
    if (conn && offers_hop(s) &&
        knit_conn_open_stream(conn, KNIT_RELAY_HOP_PROTOCOL, &sid) ==
            KNIT_OK &&
        (i = relay_stream_new(node, s, sid, RS_RESERVE_OUT)) < 0)
        knit_conn_stream_reset(conn, sid, KNIT_CONN_CANCELLED);
    struct knit_relay_msg m = {.type = KNIT_RELAY_RESERVE};
    if (i < 0 || relay_stream_send(node, i, &m, true) != KNIT_OK) {
        if (i >= 0)
            relay_stream_abort(node, i, KNIT_CONN_CANCELLED);
        knit_relay_client_forget(c, relay, node->now);
    }
}

static void ask_all_due(struct knit_node *node)
{
    struct knit_relay_client *c = node->relay->client;
    struct knit_peer_id relay;
    /* Bounded: each call marks the relay pending or forgets it. */
    for (int k = 0; c && k < 64 && knit_relay_client_next(c, node->now,
                                                           &relay);
         k++)
        ask(node, &relay);
}

/* The set of relays we hold changed: sign a record with the new relayed
 * addresses. */
static void relays_changed(struct knit_node *node)
{
    node_log(node, node->now, KNIT_LOG_INFO, "relay: %zu reservation(s)",
             node_relay_client_count(node));
    node_resign_soon(node, true);
}

void relay_client_on_status(struct knit_node *node, int i,
                            const struct knit_relay_msg *m)
{
    struct relay_stream *st = relay_stream_at(node, i);
    struct knit_relay_client *c = node->relay->client;
    const struct knit_peer_id *relay = knit_session_peer(st->session);
    st->state = RS_DONE;
    if (!c)
        return;
    size_t before = node_relay_client_count(node);
    if (m->type == KNIT_RELAY_STATUS && m->status == KNIT_RELAY_OK &&
        m->has_expires && m->expires_s > 0) {
        knit_relay_client_reserved(c, relay,
                                   node->now + m->expires_s * 1000000ull,
                                   m->addrs, m->addr_count, node->now);
        /* A reservation lives as long as the session: keep it alive
         * (keepalives also keep our NAT's mapping to the relay open). */
        knit_session_set_wanted(st->session, true);
        if (node_relay_client_count(node) != before)
            relays_changed(node);
    } else {
        node_log(node, node->now, KNIT_LOG_INFO,
                 "relay: reservation refused: %s",
                 m->type == KNIT_RELAY_STATUS
                     ? knit_relay_status_name(m->status)
                     : "unexpected answer");
        knit_relay_client_refused(c, relay,
                                  m->type == KNIT_RELAY_STATUS
                                      ? m->status
                                      : KNIT_RELAY_UNEXPECTED_MESSAGE,
                                  node->now);
        ask_all_due(node);
    }
}

static void offer_candidate(struct knit_node *node, struct knit_session *s)
{
    struct knit_session_stats stats;
    knit_session_get_stats(s, &stats);
    knit_relay_client_candidate(node->relay->client, knit_session_peer(s),
                                stats.conn.srtt_us, node->now);
}

void relay_client_session_up(struct knit_node *node, struct knit_session *s)
{
    if (!node->relay->client || !offers_hop(s))
        return;
    offer_candidate(node, s);
    ask_all_due(node);
}

void relay_client_session_down(struct knit_node *node,
                               struct knit_session *s)
{
    struct knit_relay_client *c = node->relay->client;
    if (!c)
        return;
    bool held = knit_relay_client_is_relay(c, knit_session_peer(s));
    knit_relay_client_forget(c, knit_session_peer(s), node->now);
    if (held)
        relays_changed(node);
    ask_all_due(node);
}

uint64_t relay_client_deadline(const struct knit_node *node)
{
    return node->relay->client
               ? knit_relay_client_deadline(node->relay->client)
               : KNIT_NO_DEADLINE;
}

void relay_client_timeout(struct knit_node *node, uint64_t now)
{
    struct knit_relay_client *c = node->relay->client;
    if (!c || knit_relay_client_deadline(c) > now)
        return;
    /* RTTs move; refresh the candidates' before choosing. */
    for (size_t k = 0; k < node->session_count; k++)
        if (offers_hop(node->sessions[k]))
            offer_candidate(node, node->sessions[k]);
    ask_all_due(node);
}

void node_relay_want_reservations(struct knit_node *node, bool want)
{
    struct node_relay *r = node->relay;
    if (want == (r->client != NULL))
        return;
    if (!want) {
        bool held = node_relay_client_count(node) > 0;
        knit_relay_client_free(r->client);
        r->client = NULL;
        if (held)
            relays_changed(node);
        return;
    }
    struct knit_relay_client_config cfg = {0};
    if (knit_relay_client_new(&r->client, &cfg) != KNIT_OK)
        return;
    for (size_t k = 0; k < node->session_count; k++)
        if (offers_hop(node->sessions[k]))
            offer_candidate(node, node->sessions[k]);
    ask_all_due(node);
}

size_t node_relay_client_count(const struct knit_node *node)
{
    struct knit_peer_id relays[KNIT_RECORD_MAX_ADDRS];
    return node->relay->client
               ? knit_relay_client_active(node->relay->client, relays,
                                          KNIT_RECORD_MAX_ADDRS)
               : 0;
}

/* /<relay endpoint>/p2p/<relay>/p2p-circuit for each relay we hold, at
 * most cap; the record adds nothing more (the target is the record's
 * own peer). */
size_t node_relay_client_addrs(const struct knit_node *node,
                               struct knit_multiaddr *out, size_t cap)
{
    struct knit_peer_id relays[KNIT_RECORD_MAX_ADDRS];
    size_t n = node->relay->client
                   ? knit_relay_client_active(node->relay->client, relays,
                                              KNIT_RECORD_MAX_ADDRS)
                   : 0;
    size_t count = 0;
    for (size_t k = 0; k < n && count < cap; k++) {
        struct knit_session *s = node_find_session(node, &relays[k]);
        if (!s)
            continue;
        struct knit_session_stats stats;
        knit_session_get_stats(s, &stats);
        struct knit_multiaddr *ma = &out[count];
        if (knit_multiaddr_from_socket(ma, &stats.path, &relays[k]) !=
                KNIT_OK ||
            ma->count >= KNIT_MA_MAX_COMPONENTS)
            continue;
        ma->c[ma->count++].protocol = KNIT_MA_P2P_CIRCUIT;
        count++;
    }
    return count;
}
