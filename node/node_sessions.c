/* The node's session table: sessions by peer (with an 8-byte tag per
 * session, so a lookup compares tags before it touches a session), the
 * environment each session gets from the node, creating sessions, and
 * reaping the dead ones between calls (node/node_internal.h). */
#include <stdlib.h>
#include <string.h>

#include "node/node_internal.h"
#include "node/node_punch.h"
#include "node/node_relay.h"
#include "node/node_traversal.h"
#include "transport/error.h"

/* node->session_tags: the first 8 bytes of the peer's key. */
static uint64_t peer_tag(const struct knit_peer_id *peer)
{
    uint64_t tag;
    memcpy(&tag, peer->pubkey, sizeof tag);
    return tag;
}

/* A dead session waiting to be reaped is no longer the peer's: an
 * embedder that dials again from inside PEER_DOWN gets a fresh one. */
struct knit_session *node_find_session(const struct knit_node *node,
                                       const struct knit_peer_id *peer)
{
    uint64_t tag = peer_tag(peer);
    for (size_t i = 0; i < node->session_count; i++)
        if (node->session_tags[i] == tag &&
            knit_peer_id_equal(knit_session_peer(node->sessions[i]), peer) &&
            !knit_session_is_dead(node->sessions[i]))
            return node->sessions[i];
    return NULL;
}

int node_send(struct knit_node *node, int sock, const struct knit_addr *to,
              const uint8_t *pkt, size_t len)
{
    if (circuit_is_sock(sock))
        return circuit_send(node, sock, pkt, len);
    return node->io.send(node->io.ctx, sock, to, pkt, len);
}

static int env_send(void *ctx, int sock, const struct knit_addr *to,
                    const uint8_t *pkt, size_t len)
{
    return node_send(ctx, sock, to, pkt, len);
}

/* Any direct path beats a relay circuit. */
static int env_path_rank(void *ctx, int sock)
{
    (void)ctx;
    return circuit_is_sock(sock) ? 0 : 1;
}

static void env_random(void *ctx, uint8_t *buf, size_t len)
{
    struct knit_node *node = ctx;
    node->io.random(node->io.ctx, buf, len);
}

static uint32_t env_new_index(void *ctx, struct knit_session *s)
{
    struct knit_node *node = ctx;
    for (int tries = 0; tries < 16; tries++) {
        uint32_t index;
        node->io.random(node->io.ctx, (uint8_t *)&index, sizeof index);
        if (index && knit_index_table_add(&node->indices, index, s) == 0)
            return index;
    }
    return 0;
}

static void env_drop_index(void *ctx, uint32_t index)
{
    struct knit_node *node = ctx;
    knit_index_table_remove(&node->indices, index);
}

static uint64_t env_unix_time(void *ctx, uint64_t now)
{
    struct knit_node *node = ctx;
    return node->unix_time_at_start + (now - node->created);
}

static void env_event(void *ctx, struct knit_session *s,
                      const struct knit_session_event *sev)
{
    struct knit_node *node = ctx;
    node->in_event++;
    node_on_session_event(node, s, sev);
    node->in_event--;
}

static void env_died(void *ctx, struct knit_session *s)
{
    struct knit_node *node = ctx;
    node->dead_sessions++;
    node->granted -= knit_session_window(s);
}

static void env_touched(void *ctx, struct knit_session *s)
{
    struct knit_node *node = ctx;
    session_timers_touched(&node->timers, s);
}

/* peer_x: the peer's X25519 key if already converted, else NULL. */
int node_new_session(struct knit_node *node, const struct knit_peer_id *peer,
                     const uint8_t *peer_x, uint64_t now,
                     struct knit_session **out)
{
    if (node->session_count >= node->max_sessions)
        return KNIT_E_TOO_BIG;
    if (node->session_count == node->session_cap) {
        size_t cap = node->session_cap ? node->session_cap * 2 : 8;
        struct knit_session **sessions =
            realloc(node->sessions, cap * sizeof *sessions);
        if (!sessions)
            return KNIT_E_NOMEM;
        node->sessions = sessions;
        uint64_t *tags = realloc(node->session_tags, cap * sizeof *tags);
        if (!tags)
            return KNIT_E_NOMEM;
        node->session_tags = tags;
        node->session_cap = cap;
    }
    struct knit_session_env env = {
        .ctx = node, .self = &node->identity, .hello = &node->hello,
        .send = env_send, .random = env_random, .new_index = env_new_index,
        .drop_index = env_drop_index, .unix_time_us = env_unix_time,
        .event = env_event, .died = env_died, .touched = env_touched,
        .path_rank = env_path_rank,
    };
    /* The node's receive budget is shared out as sessions come: each gets
     * its default window or what is left, but at least a small one. What
     * the live sessions hold is kept as a sum (a death gives its share
     * back), not added up again for every new session. */
    uint64_t granted = node->granted;
    uint8_t converted[32];
    if (!peer_x) {
        if (knit_key_cache_convert(node->key_cache, converted,
                                   peer->pubkey) != KNIT_OK)
            return KNIT_E_KEY_MISMATCH;
        peer_x = converted;
    }
    struct knit_session_config cfg = node->session_cfg;
    uint64_t left = node->receive_budget > granted
                        ? node->receive_budget - granted : 0;
    if (cfg.conn.max_data > left)
        cfg.conn.max_data = left > KNIT_NODE_MIN_WINDOW ? left
                                                        : KNIT_NODE_MIN_WINDOW;
    int err = knit_session_new_with_static(out, &env, &cfg, peer, peer_x,
                                           now);
    if (err)
        return err;
    err = session_timers_add(&node->timers, *out);
    if (err) {
        knit_session_free(*out);
        *out = NULL;
        return err;
    }
    node->granted += knit_session_window(*out);
    node->session_tags[node->session_count] = peer_tag(peer);
    node->sessions[node->session_count++] = *out;
    return KNIT_OK;
}

/* Dead sessions leave the table only here, between calls, never while one
 * of their own callbacks is running: the embedder may call back into the
 * node from an event (knit_node_connect from PEER_DOWN), and the session
 * that raised the event, or the table being walked, must outlive that. */
void node_reap_sessions(struct knit_node *node)
{
    /* Only a death makes the walk worth it: a DHT server keeps hundreds
     * of sessions, and this runs after every packet. */
    if (node->in_event || node->dead_sessions == 0)
        return;
    node->dead_sessions = 0;
    for (size_t i = 0; i < node->session_count;) {
        struct knit_session *s = node->sessions[i];
        if (!knit_session_is_dead(s)) {
            i++;
            continue;
        }
        node_services_forget(node, s);
        node_dht_session_down(node, s);
        node->in_event++;   /* a new record may be published: no reaping */
        node_relay_session_down(node, s);
        traversal_session_down(node, s);
        punch_session_down(node, s);
        node->in_event--;
        node->session_count--;
        node->sessions[i] = node->sessions[node->session_count];
        node->session_tags[i] = node->session_tags[node->session_count];
        session_timers_remove(&node->timers, s);
        knit_session_free(s);
    }
    /* A burst of sessions gone (a DHT join): give the room back. */
    if (node->session_cap > 8 && node->session_count <= node->session_cap / 4) {
        size_t cap = node->session_cap / 2;
        struct knit_session **sessions =
            realloc(node->sessions, cap * sizeof *sessions);
        if (sessions) {
            node->sessions = sessions;
            node->session_cap = cap;
            /* If the tags cannot shrink they keep their larger block. */
            uint64_t *tags =
                realloc(node->session_tags, cap * sizeof *tags);
            if (tags)
                node->session_tags = tags;
        }
    }
}
