/* The node core: packet dispatch, the handshake defences (mac1, cookies
 * under load, per-source rate limit), timers, lifetime, and dialling
 * peers. The session table is node/node_sessions.c; built-in services are
 * in node/services.c. */
#include "node/node.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "node/event.h"
#include "node/node_internal.h"
#include "node/node_punch.h"
#include "node/node_relay.h"
#include "node/node_traversal.h"
#include "proto/handshake.h"
#include "transport/error.h"

#define SECOND 1000000ull

void node_log(struct knit_node *node, uint64_t now, enum knit_log_level level,
              const char *fmt, ...)
{
    if (!node->io.event)
        return;
    char message[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    struct knit_event ev = {.type = KNIT_EVENT_LOG, .now = now};
    ev.u.log.level = level;
    ev.u.log.message = message;
    node->io.event(node->io.ctx, &ev);
}

void node_emit(struct knit_node *node, struct knit_event *ev)
{
    if (node->io.event)
        node->io.event(node->io.ctx, ev);
}

/* ---- receiving --------------------------------------------------------------- */

/* Too many initiations this second: demand a cookie round trip first. */
static bool under_load(struct knit_node *node, uint64_t now)
{
    if (now - node->load_window_start >= SECOND) {
        node->load_window_start = now;
        node->initiations_in_window = 0;
    }
    return ++node->initiations_in_window > node->load_threshold;
}

static int send_cookie_reply(struct knit_node *node, int sock,
                             const struct knit_addr *from,
                             const uint8_t *pkt, size_t len, uint64_t now)
{
    uint8_t secret[32], nonce[24], reply[KNIT_COOKIE_REPLY_LEN];
    size_t reply_len;
    node->io.random(node->io.ctx, secret, sizeof secret);
    node->io.random(node->io.ctx, nonce, sizeof nonce);
    uint32_t sender;
    memcpy(&sender, pkt + 4, 4);   /* as it came: the initiator's index */
    int err = knit_cookie_reply(&node->cookie_checker, pkt, len, from, now,
                                secret, nonce, sender, reply, sizeof reply,
                                &reply_len);
    sodium_memzero(secret, sizeof secret);
    if (err)
        return err;
    node->stats.cookies_sent++;
    return node_send(node, sock, from, reply, reply_len);
}

static int on_initiation(struct knit_node *node, int sock,
                         const struct knit_addr *from, const uint8_t *pkt,
                         size_t len, uint64_t now)
{
    uint8_t secret[32];
    node->io.random(node->io.ctx, secret, sizeof secret);
    enum knit_cookie_verdict verdict = knit_cookie_check(
        &node->cookie_checker, pkt, len, from, now, secret);
    sodium_memzero(secret, sizeof secret);
    if (verdict == KNIT_COOKIE_BAD_MAC1)
        return KNIT_E_DECRYPT;   /* not meant for us, or damaged */
    if (under_load(node, now) && verdict != KNIT_COOKIE_MAC2_OK)
        return send_cookie_reply(node, sock, from, pkt, len, now);
    if (!node->ratelimit) {
        /* 64 KiB by default, so only nodes that are dialled pay for it. */
        int err = knit_ratelimit_table_new(&node->ratelimit,
                                           node->ratelimit_slots,
                                           node->ratelimit_key, 0, 0);
        if (err)
            return err;
    }
    if (!knit_ratelimit_table_allow(node->ratelimit, from, now)) {
        node->stats.handshakes_rate_limited++;
        return KNIT_E_AGAIN;
    }
    struct knit_noise_handshake hs;
    uint8_t e[32], hello_buf[KNIT_HELLO_MAX_BYTES];
    size_t hello_len;
    uint32_t sender;
    node->io.random(node->io.ctx, e, sizeof e);
    int err = knit_handshake_read_initiation(&hs, &node->identity, e, pkt, len,
                                             &sender, hello_buf,
                                             sizeof hello_buf, &hello_len);
    sodium_memzero(e, sizeof e);
    if (err)
        return err;
    struct knit_hello hello;
    err = knit_hello_decode(&hello, hello_buf, hello_len);
    /* The hello names an Ed25519 key; Noise authenticated its Curve25519
     * form. They must be one key, or the peer ID is a claim, not a fact.
     * A session with that peer ID holds the conversion already (it made
     * it when created); otherwise it is made here, once, and handed to
     * the new session. */
    struct knit_session *s = NULL;
    const uint8_t *x = NULL;
    uint8_t converted[32];
    if (err == KNIT_OK) {
        s = node_find_session(node, &hello.peer);
        if (s)
            x = knit_session_peer_static(s);
        else if (knit_key_cache_convert(node->key_cache, converted,
                                        hello.peer.pubkey) == KNIT_OK)
            x = converted;
        if (!x || sodium_memcmp(x, knit_noise_remote_static(&hs), 32) != 0)
            err = KNIT_E_KEY_MISMATCH;
    }
    if (err == KNIT_OK && !s)
        err = node_new_session(node, &hello.peer, converted, now, &s);
    if (err == KNIT_OK)
        err = knit_session_on_initiation(s, &hs, sender, &hello, sock, from,
                                         now);
    knit_noise_wipe(&hs);
    return err;
}

/* A response's mac1 is keyed to our static key, like an initiation's to
 * the responder's: checked before the session spends a Diffie-Hellman on
 * it (knit_handshake_read_response leaves that to us). A mac2 is never
 * needed: we ask no cookie of peers we dialled ourselves. */
static int on_response(struct knit_node *node, struct knit_session *s,
                       uint32_t index, const uint8_t *pkt, size_t len,
                       int sock, const struct knit_addr *from, uint64_t now)
{
    if (knit_cookie_check(&node->cookie_checker, pkt, len, from, now, NULL) ==
        KNIT_COOKIE_BAD_MAC1)
        return KNIT_E_DECRYPT;
    return knit_session_on_response(s, index, pkt, len, sock, from, now);
}

int knit_node_receive(struct knit_node *node, uint64_t now, int sock,
                      const struct knit_addr *from, const uint8_t *pkt,
                      size_t len)
{
    node->now = now;
    node->stats.packets_received++;
    node->stats.bytes_received += len;
    int err;
    uint32_t index;
    struct knit_session *s = NULL;
    if (traversal_receive(node, sock, from, pkt, len, &err)) {
        /* a PROBE, a DIAL, or anything on the alternate socket */
    } else if (len < 4) {
        err = KNIT_E_TRUNCATED;
    } else if (pkt[0] == KNIT_PACKET_PUNCH) {
        err = punch_receive(node, sock, from, pkt, len);
    } else if (pkt[0] == KNIT_PACKET_INITIATION) {
        err = on_initiation(node, sock, from, pkt, len, now);
    } else if ((err = knit_packet_receiver_index(pkt, len, &index)) == 0) {
        s = knit_index_table_find(&node->indices, index);
        if (!s)
            err = KNIT_E_NOT_FOUND;
        else if (pkt[0] == KNIT_PACKET_RESPONSE)
            err = on_response(node, s, index, pkt, len, sock, from, now);
        else if (pkt[0] == KNIT_PACKET_COOKIE)
            err = knit_session_on_cookie(s, pkt, len, now);
        else
            err = knit_session_on_data(s, index, pkt, len, sock, from, now);
    }
    if (err) {
        node->stats.packets_dropped++;
        char who[KNIT_ADDR_TEXT_MAX];
        if (knit_addr_format(from, who, sizeof who) != KNIT_OK)
            snprintf(who, sizeof who, "?");
        node_log(node, now, KNIT_LOG_DEBUG,
                 "dropped %zu-byte packet from %s: %s", len, who,
                 knit_strerror(err));
    }
    node_reap_sessions(node);
    return err;
}

/* ---- timers ----------------------------------------------------------------- */

uint64_t knit_node_next_deadline(const struct knit_node *node)
{
    /* The timer heap is a cache of the sessions' own deadlines. */
    struct session_timers *timers = (struct session_timers *)&node->timers;
    session_timers_refresh(timers);
    uint64_t next = node_dht_deadline(node);
    uint64_t t = session_timers_next(timers);
    if (t < next)
        next = t;
    t = node_relay_deadline(node);
    if (t < next)
        next = t;
    t = traversal_deadline(node);
    if (t < next)
        next = t;
    t = punch_deadline(node);
    return t < next ? t : next;
}

void knit_node_timeout(struct knit_node *node, uint64_t now)
{
    node->now = now;
    session_timers_refresh(&node->timers);
    /* The sessions due now; each is asked again before it runs, since an
     * earlier one's callbacks may have changed it. Nothing is freed before
     * the reap at the end, and sessions added meanwhile wait for the next
     * call (their deadline is in the heap by then). */
    struct knit_session **due;
    size_t n = session_timers_due(&node->timers, now, &due);
    for (size_t i = 0; i < n; i++)
        if (knit_session_next_deadline(due[i]) <= now)
            knit_session_on_timeout(due[i], now);
    free(due);
    if (n == 0 && session_timers_next(&node->timers) <= now) {
        /* No memory for the list: walk them all, a stable count. */
        size_t count = node->session_count;
        for (size_t i = 0; i < count && i < node->session_count; i++) {
            struct knit_session *s = node->sessions[i];
            if (knit_session_next_deadline(s) <= now)
                knit_session_on_timeout(s, now);
        }
    }
    node->in_event++;   /* the DHT may dial: keep the table still */
    node_dht_timeout(node, now);
    node_relay_timeout(node, now);
    traversal_timeout(node, now);
    punch_timeout(node, now);
    node->in_event--;
    node_reap_sessions(node);
}

/* ---- lifetime ----------------------------------------------------------------- */

/* Peers learn from the hello what we serve: the DHT protocol only in
 * server mode, which is how clients stay out of routing tables. */
void node_build_hello(struct knit_node *node)
{
    struct knit_hello *h = &node->hello;
    memset(h, 0, sizeof *h);
    h->peer = node->identity.id;
    snprintf(h->agent, sizeof h->agent, "knit/%s", KNIT_VERSION);
    const char *builtin[NODE_BUILTIN_PROTOCOLS];
    size_t builtins = 0;
    builtin[builtins++] = KNIT_PROTOCOL_PING;
    builtin[builtins++] = KNIT_PROTOCOL_BENCH;
    if (node->dht && knit_dht_is_serving(node->dht))
        builtin[builtins++] = KNIT_DHT_PROTOCOL;
    if (node->relay && node->relay->serving)
        builtin[builtins++] = KNIT_RELAY_HOP_PROTOCOL;
    builtin[builtins++] = KNIT_IDENTIFY_PROTOCOL;
    builtin[builtins++] = KNIT_PUNCH_PROTOCOL;
    if (node->traversal && node->traversal->serving_autonat)
        builtin[builtins++] = KNIT_AUTONAT_PROTOCOL;
    for (size_t i = 0; i < builtins; i++)
        snprintf(h->protocols[h->protocol_count++], sizeof h->protocols[0],
                 "%s", builtin[i]);
    for (size_t i = 0; node->served && node->served[i] &&
                       h->protocol_count < KNIT_HELLO_MAX_PROTOCOLS;
         i++)
        snprintf(h->protocols[h->protocol_count++], sizeof h->protocols[0],
                 "%s", node->served[i]);
    h->max_data = node->session_cfg.conn.max_data;
    h->stream_window = node->session_cfg.conn.stream_window;
    h->max_streams = node->session_cfg.conn.max_streams;
}

int knit_node_new(struct knit_node **out, const struct knit_node_config *cfg,
                  const struct knit_io *io, uint64_t now)
{
    if (!out || !cfg || !cfg->identity || !io || !io->send || !io->random)
        return KNIT_E_INVAL;
    /* Names the peer's hello decoder would refuse would fail every
     * handshake later; refuse them here, where the caller learns why. */
    size_t served = 0;
    for (; cfg->protocols && cfg->protocols[served]; served++) {
        size_t n = strlen(cfg->protocols[served]);
        if (n == 0 || n > KNIT_HELLO_PROTOCOL_MAX ||
            n > KNIT_CONN_PROTOCOL_MAX)
            return KNIT_E_INVAL;
    }
    if (served + NODE_BUILTIN_PROTOCOLS > KNIT_HELLO_MAX_PROTOCOLS)
        return KNIT_E_TOO_BIG;
    if (cfg->handshake_ratelimit_slots > KNIT_RATELIMIT_MAX_SLOTS)
        return KNIT_E_INVAL;
    struct knit_node *node = calloc(1, sizeof *node);
    if (!node)
        return KNIT_E_NOMEM;
    node->io = *io;
    node->identity = *cfg->identity;
    node->created = now;
    node->unix_time_at_start = cfg->unix_time_us;
    if (cfg->session)
        node->session_cfg = *cfg->session;
    else
        knit_session_config_default(&node->session_cfg);
    node->load_threshold = cfg->handshake_load_threshold
                               ? cfg->handshake_load_threshold : 100;
    node->max_sessions = cfg->max_sessions ? cfg->max_sessions : 4096;
    node->ratelimit_slots = cfg->handshake_ratelimit_slots;
    node->receive_budget = cfg->receive_budget ? cfg->receive_budget
                                               : 256ull << 20;
    node->load_window_start = now;
    node->served = cfg->protocols;
    node->now = now;
    knit_index_table_init(&node->indices);
    session_timers_init(&node->timers);
    knit_cookie_checker_init(&node->cookie_checker, node->identity.x_public);
    io->random(io->ctx, node->ratelimit_key, sizeof node->ratelimit_key);
    node->key_cache = cfg->key_cache;
    node->record_cache = cfg->record_cache;
    int err = KNIT_OK;
    if (!node->record_cache) {
        /* Its key comes from our secret rather than from io->random, so
         * that adding it left every random draw of a seeded node (the
         * simulator's) where it was. */
        static const char label[] = "knit record cache key";
        uint8_t cache_key[32];
        crypto_generichash(cache_key, sizeof cache_key,
                           (const uint8_t *)label, sizeof label - 1,
                           node->identity.x_secret,
                           sizeof node->identity.x_secret);
        err = knit_record_cache_new(&node->record_cache, 0, cache_key);
        sodium_memzero(cache_key, sizeof cache_key);
        node->own_record_cache = err == KNIT_OK;
    }
    if (err == KNIT_OK)
        err = node_dht_init(node, cfg, now);
    if (err == KNIT_OK)
        err = node_relay_init(node, cfg->relay);
    if (err == KNIT_OK)
        err = node_traversal_init(node, cfg->min_observers);
    if (err) {
        knit_node_free(node);
        return err;
    }
    node_build_hello(node);
    *out = node;
    return KNIT_OK;
}

void knit_node_free(struct knit_node *node)
{
    if (!node)
        return;
    for (size_t i = 0; i < node->session_count; i++)
        knit_session_free(node->sessions[i]);
    free(node->sessions);
    free(node->session_tags);
    session_timers_free(&node->timers);
    node_services_free(node);
    node_dht_free(node);
    node_relay_free(node);
    node_traversal_free(node);
    node_punch_free(node);
    knit_index_table_free(&node->indices);
    knit_ratelimit_table_free(node->ratelimit);
    if (node->own_record_cache)
        knit_record_cache_free(node->record_cache);
    knit_identity_wipe(&node->identity);
    free(node);
}

int knit_node_add_socket(struct knit_node *node, int sock,
                         const struct knit_addr *local)
{
    if (node->socket_count == KNIT_NODE_MAX_SOCKETS)
        return KNIT_E_TOO_BIG;
    node->sockets[node->socket_count].handle = sock;
    node->sockets[node->socket_count].local = *local;
    node->socket_count++;
    return KNIT_OK;
}

const struct knit_peer_id *knit_node_peer_id(const struct knit_node *node)
{
    return &node->identity.id;
}

void knit_node_get_stats(const struct knit_node *node,
                         struct knit_node_stats *out)
{
    *out = node->stats;
    out->sessions = (uint32_t)node->session_count;
    node_dht_count_streams(node, &out->dht_streams_out, &out->dht_streams_in);
}

/* ---- peers ---------------------------------------------------------------------- */

/* The first listening socket of the address's family. */
static int socket_for(const struct knit_node *node, const struct knit_addr *a)
{
    for (size_t i = 0; i < node->socket_count; i++)
        if (node->sockets[i].local.family == a->family)
            return node->sockets[i].handle;
    return -1;
}

int node_dial(struct knit_node *node, const struct knit_peer_id *peer,
              const struct knit_addr *addr, uint64_t now, bool wanted)
{
    int sock = socket_for(node, addr);
    if (sock < 0)
        return KNIT_E_UNSUPPORTED;
    return node_dial_on(node, peer, sock, addr, now, wanted);
}

int node_dial_on(struct knit_node *node, const struct knit_peer_id *peer,
                 int sock, const struct knit_addr *addr, uint64_t now,
                 bool wanted)
{
    if (knit_peer_id_equal(peer, &node->identity.id))
        return KNIT_E_INVAL;
    struct knit_session *s = node_find_session(node, peer);
    int err = s ? KNIT_OK : node_new_session(node, peer, NULL, now, &s);
    if (err == KNIT_OK) {
        if (wanted)
            knit_session_set_wanted(s, true);
        err = knit_session_connect(s, sock, addr, now);
    }
    return err;
}

int knit_node_connect(struct knit_node *node, const struct knit_peer_id *peer,
                      const struct knit_addr *addr, uint64_t now)
{
    node->now = now;
    int err = node_dial(node, peer, addr, now, true);
    node_reap_sessions(node);
    return err;
}

int knit_node_disconnect(struct knit_node *node,
                         const struct knit_peer_id *peer, uint64_t now)
{
    node->now = now;
    struct knit_session *s = node_find_session(node, peer);
    if (!s)
        return KNIT_E_NOT_FOUND;
    knit_session_close(s, KNIT_CONN_NO_ERROR, "disconnected", now);
    node_reap_sessions(node);
    return KNIT_OK;
}

bool knit_node_peer_is_relayed(const struct knit_node *node,
                               const struct knit_peer_id *peer)
{
    struct knit_session *s = node_find_session(node, peer);
    return s && circuit_is_sock(knit_session_path_sock(s));
}

bool knit_node_peer_is_up(const struct knit_node *node,
                          const struct knit_peer_id *peer)
{
    struct knit_session *s = node_find_session(node, peer);
    return s && knit_session_is_up(s);
}

int knit_node_peer_stats(const struct knit_node *node,
                         const struct knit_peer_id *peer,
                         struct knit_session_stats *out)
{
    struct knit_session *s = node_find_session(node, peer);
    if (!s)
        return KNIT_E_NOT_FOUND;
    knit_session_get_stats(s, out);
    return KNIT_OK;
}

size_t knit_node_peers(const struct knit_node *node,
                       struct knit_node_peer *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < node->session_count && n < cap; i++) {
        const struct knit_session *s = node->sessions[i];
        if (knit_session_is_dead(s) || !knit_session_is_up(s))
            continue;
        struct knit_session_stats st;
        knit_session_get_stats(s, &st);
        out[n].id = *knit_session_peer(s);
        out[n].addr = st.path;
        /* Until the first RTT sample srtt is the RFC 9002 initial guess. */
        out[n].srtt_us = st.conn.min_rtt_us ? st.conn.srtt_us : 0;
        out[n].dht_server = knit_session_peer_serves(s, KNIT_DHT_PROTOCOL);
        out[n].relayed = circuit_relay_of(node, knit_session_path_sock(s),
                                          &out[n].relay);
        n++;
    }
    return n;
}
