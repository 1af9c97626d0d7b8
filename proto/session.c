/* A secure session: handshakes and keypairs, timers, and the glue between
 * the conn and the wire. Paths live in session_path.c. */
#include "proto/session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "proto/handshake.h"
#include "proto/session_internal.h"
#include "transport/error.h"

#define SECOND 1000000ull

void knit_session_config_default(struct knit_session_config *cfg)
{
    cfg->rekey_after_us = 120 * SECOND;
    cfg->reject_after_us = 180 * SECOND;
    cfg->rekey_after_packets = 1ull << 60;
    cfg->keepalive_us = 25 * SECOND;
    cfg->idle_timeout_us = 75 * SECOND;
    cfg->path_fail_ptos = 2;
    cfg->handshake_retry_us = 1 * SECOND;
    cfg->handshake_retry_max_us = 8 * SECOND;
    cfg->connect_timeout_us = 30 * SECOND;
    cfg->path_retry_us = SECOND / 4;
    knit_conn_config_default(&cfg->conn);
}

/* ---- events ------------------------------------------------------------------ */

void session_emit(struct knit_session *s, enum knit_session_event_type type,
                  uint64_t stream_id)
{
    struct knit_session_event ev = {.type = type, .stream_id = stream_id};
    s->env.event(s->env.ctx, s, &ev);
}

/* DOWN is reported once per UP, and once per dial that did not come up;
 * a session that only answered handshakes and never came up ends silently
 * (nobody was told of it). */
static void emit_down(struct knit_session *s, int error, const char *reason)
{
    if (!s->down_owed)
        return;
    s->down_owed = false;
    struct knit_session_event ev = {
        .type = KNIT_SESSION_DOWN, .error = error, .reason = reason,
    };
    s->env.event(s->env.ctx, s, &ev);
}

void session_die(struct knit_session *s, int error, const char *reason)
{
    if (s->dead)
        return;
    s->dead = true;
    s->up = false;
    if (s->env.died)
        s->env.died(s->env.ctx, s);
    /* The handshake's index must go with it: left in the node's table, a
     * late response would reach this session after it is freed. */
    if (s->handshaking)
        s->env.drop_index(s->env.ctx, s->hs_index);
    s->handshaking = false;
    emit_down(s, error, reason);
}

static void on_stream_opened(void *ctx, uint64_t id, const char *protocol)
{
    struct knit_session *s = ctx;
    struct knit_session_event ev = {
        .type = KNIT_SESSION_STREAM_OPENED, .stream_id = id,
        .protocol = protocol,
    };
    s->env.event(s->env.ctx, s, &ev);
}

static void on_stream_readable(void *ctx, uint64_t id)
{
    session_emit(ctx, KNIT_SESSION_STREAM_READABLE, id);
}

static void on_stream_writable(void *ctx, uint64_t id)
{
    session_emit(ctx, KNIT_SESSION_STREAM_WRITABLE, id);
}

static void on_stream_reset(void *ctx, uint64_t id, uint64_t code)
{
    struct knit_session *s = ctx;
    struct knit_session_event ev = {
        .type = KNIT_SESSION_STREAM_RESET, .stream_id = id, .code = code,
    };
    s->env.event(s->env.ctx, s, &ev);
}

static void on_stream_closed(void *ctx, uint64_t id)
{
    session_emit(ctx, KNIT_SESSION_STREAM_CLOSED, id);
}

static void on_peer_closed(void *ctx, uint64_t code, const char *reason)
{
    (void)code;
    session_die(ctx, KNIT_E_IO, reason[0] ? reason : "peer closed the session");
}

/* ---- hello and conn ------------------------------------------------------------- */

static int our_hello(struct knit_session *s, uint64_t now, uint8_t *out,
                     size_t cap, size_t *len)
{
    struct knit_hello h = *s->env.hello;
    h.instance = s->local_instance;
    /* The node may grant this session less than its default window. */
    h.max_data = s->cfg.conn.max_data;
    h.timestamp_us = s->env.unix_time_us(s->env.ctx, now);
    /* Timestamps only go up, even if the wall clock steps back. */
    if (h.timestamp_us <= s->last_sent_ts)
        h.timestamp_us = s->last_sent_ts + 1;
    s->last_sent_ts = h.timestamp_us;
    return knit_hello_encode(&h, out, cap, len);
}

static int new_conn(struct knit_session *s, const struct knit_hello *hello)
{
    static const struct knit_conn_callbacks template = {
        .stream_opened = on_stream_opened,
        .stream_readable = on_stream_readable,
        .stream_writable = on_stream_writable,
        .stream_reset = on_stream_reset,
        .stream_closed = on_stream_closed,
        .path_challenge = session_on_path_challenge,
        .path_response = session_on_path_response,
        .peer_closed = on_peer_closed,
    };
    struct knit_conn_callbacks cb = template;
    cb.ctx = s;
    struct knit_conn_peer_params peer = {
        .max_data = hello->max_data,
        .stream_window = hello->stream_window,
        .max_streams = hello->max_streams,
    };
    bool lower = knit_peer_id_cmp(&s->env.self->id, &s->peer) < 0;
    return knit_conn_new(&s->conn, &s->cfg.conn, &peer, lower, &cb);
}

/* Checks the peer's hello and sets up (or resets) the conn it describes. */
static int accept_hello(struct knit_session *s, const struct knit_hello *h)
{
    if (!knit_peer_id_equal(&h->peer, &s->peer))
        return KNIT_E_KEY_MISMATCH;
    if (s->conn && s->peer_instance != h->instance) {
        /* The peer restarted: its streams are gone, so are ours. */
        knit_conn_free(s->conn);
        s->conn = NULL;
        s->up = false;
        emit_down(s, KNIT_E_IO, "peer restarted");
    }
    int err = session_keep_peer_protocols(s, h);
    if (err)
        return err;
    s->peer_instance = h->instance;
    return s->conn ? KNIT_OK : new_conn(s, h);
}

static void become_up(struct knit_session *s)
{
    if (s->up || s->dead)
        return;
    s->up = true;
    s->down_owed = true;
    session_emit(s, KNIT_SESSION_UP, 0);
}

/* While a packet is handled, the owner's callbacks (a stream readable, the
 * session up) write answers and flush. Each flush would send a packet of
 * its own, before the ACK that handling the packet makes due: three for a
 * DHT request that comes with identify. Held until the packet is handled,
 * they leave together, with the ACK. Nesting is counted. */
static void hold_flushes(struct knit_session *s)
{
    s->holding++;
}

static void release_flushes(struct knit_session *s, uint64_t now)
{
    s->holding--;
    knit_session_flush(s, now);
}

/* The handshake state lives on the heap only while a handshake of ours is
 * under way: 400 bytes that most sessions, up for a request or two, would
 * otherwise carry for their whole life. */
static void drop_handshake(struct knit_session *s)
{
    if (!s->hs)
        return;
    knit_noise_wipe(s->hs);
    free(s->hs);
    s->hs = NULL;
}

/* ---- handshakes ------------------------------------------------------------------ */

int session_send_initiation(struct knit_session *s, uint64_t now)
{
    if (s->handshaking)
        s->env.drop_index(s->env.ctx, s->hs_index);
    s->handshaking = false;
    uint32_t index = s->env.new_index(s->env.ctx, s);
    uint8_t hello[KNIT_HELLO_MAX_BYTES];
    uint8_t pkt[KNIT_HANDSHAKE_MAX];
    uint8_t e[32];
    size_t hello_len, len;
    int err = index ? our_hello(s, now, hello, sizeof hello, &hello_len)
                    : KNIT_E_NOMEM;
    if (err == KNIT_OK && !s->hs && !(s->hs = malloc(sizeof *s->hs)))
        err = KNIT_E_NOMEM;
    if (err == KNIT_OK) {
        s->env.random(s->env.ctx, e, sizeof e);
        err = knit_handshake_initiation_to(s->hs, s->env.self, s->peer_x,
                                           e, index, hello, hello_len,
                                           &s->cookies, now, pkt, sizeof pkt,
                                           &len);
        sodium_memzero(e, sizeof e);
    }
    if (err)
        s->env.drop_index(s->env.ctx, index);
    /* A failed attempt counts as a lost one: the retry timer moves on
     * (index 0 matches no response), else a due rekey would come due
     * again at once, forever. */
    s->handshaking = true;
    s->hs_index = err ? 0 : index;
    s->hs_sent = now;
    s->hs_retry_at = now + s->hs_backoff;
    if (err == KNIT_OK)
        session_send_handshake(s, pkt, len);
    return err;
}

void session_start_handshake(struct knit_session *s, uint64_t now)
{
    if (s->handshaking)
        return;
    s->hs_started = now;
    s->hs_backoff = s->cfg.handshake_retry_us;
    session_send_initiation(s, now);
}

int knit_session_connect(struct knit_session *s, int sock,
                         const struct knit_addr *addr, uint64_t now)
{
    session_touch(s);
    if (s->dead)
        return KNIT_E_INVAL;
    int before = session_path_count(s);
    int p = session_path_add(s, sock, addr, false, now);
    if (p < 0)
        return p;
    if (!s->up) {
        s->down_owed = true;   /* the caller awaits UP or DOWN */
        /* A path added while a first handshake is under way (a relay
         * circuit beside direct candidates) gets the initiation now, not
         * at the next retry: a fresh one, to every path. */
        if (s->handshaking && session_path_count(s) > before)
            session_send_initiation(s, now);
        else
            session_start_handshake(s, now);
    }
    return KNIT_OK;
}

int knit_session_on_initiation(struct knit_session *s,
                               struct knit_noise_handshake *hs,
                               uint32_t sender_index,
                               const struct knit_hello *hello, int sock,
                               const struct knit_addr *from, uint64_t now)
{
    session_touch(s);
    if (s->dead)
        return KNIT_E_INVAL;
    /* An initiation is replayable; its timestamp is what makes a replay
     * harmless: only a newer one than the last is answered. */
    if (hello->timestamp_us <= s->last_initiation_ts)
        return KNIT_E_DUPLICATE;
    int err = accept_hello(s, hello);
    if (err)
        return err;
    s->last_initiation_ts = hello->timestamp_us;
    s->last_rx = now;   /* authenticated and fresh: the peer is there */
    uint32_t index = s->env.new_index(s->env.ctx, s);
    if (!index)
        return KNIT_E_NOMEM;
    uint8_t hello_out[KNIT_HELLO_MAX_BYTES];
    uint8_t pkt[KNIT_HANDSHAKE_MAX];
    size_t hello_len, len;
    err = our_hello(s, now, hello_out, sizeof hello_out, &hello_len);
    if (err == KNIT_OK)
        err = knit_handshake_response(hs, index, sender_index, hello_out,
                                      hello_len, &s->cookies, now, pkt,
                                      sizeof pkt, &len);
    struct knit_keypair kp, *next = NULL;
    if (err == KNIT_OK)
        err = knit_keypair_from_handshake(&kp, hs, false, index, sender_index,
                                          now);
    if (err == KNIT_OK) {
        next = session_spare_of(&kp);
        knit_keypair_wipe(&kp);
        if (!next)
            err = KNIT_E_NOMEM;
    }
    if (err) {
        s->env.drop_index(s->env.ctx, index);
        return err;
    }
    session_drop_spare(s, &s->next);
    s->next = next;
    int p = session_path_add(s, sock, from, false, now);
    if (p >= 0)
        s->env.send(s->env.ctx, sock, from, pkt, len);
    return KNIT_OK;
}

int knit_session_on_response(struct knit_session *s, uint32_t local_index,
                             const uint8_t *pkt, size_t len, int sock,
                             const struct knit_addr *from, uint64_t now)
{
    session_touch(s);
    if (!s->handshaking || local_index != s->hs_index || s->dead)
        return KNIT_E_NOT_FOUND;
    uint8_t hello_buf[KNIT_HELLO_MAX_BYTES];
    size_t hello_len;
    uint32_t remote_index;
    if (!s->hs)
        return KNIT_E_NOT_FOUND;   /* the last initiation failed to build */
    int err = knit_handshake_read_response(s->hs, pkt, len, &remote_index,
                                           hello_buf, sizeof hello_buf,
                                           &hello_len);
    struct knit_hello hello;
    if (err == KNIT_OK)
        err = knit_hello_decode(&hello, hello_buf, hello_len);
    if (err == KNIT_OK)
        err = accept_hello(s, &hello);
    if (err)
        return err;   /* the handshake stays open for the real response */
    struct knit_keypair kp;
    err = knit_keypair_from_handshake(&kp, s->hs, true, s->hs_index,
                                      remote_index, now);
    if (err)
        return err;
    s->handshaking = false;   /* the index now belongs to the keypair */
    drop_handshake(s);
    session_install_initiated(s, &kp);
    knit_keypair_wipe(&kp);
    int p = session_path_add(s, sock, from, true, now);
    if (p >= 0)
        session_path_activate(s, p);
    s->last_rx = now;
    /* Confirms the keys to the responder, which sends nothing until then:
     * asked for first, so it rides with what the UP callbacks write. */
    knit_conn_ping(s->conn);
    hold_flushes(s);
    become_up(s);
    release_flushes(s, now);
    return KNIT_OK;
}

int knit_session_on_cookie(struct knit_session *s, const uint8_t *pkt,
                           size_t len, uint64_t now)
{
    session_touch(s);
    if (!s->handshaking)
        return KNIT_E_NOT_FOUND;
    int err = knit_cookie_consume_reply(&s->cookies, pkt, len, now);
    if (err)
        return err;
    /* The responder is under load and wants proof of our address: answer
     * with a fresh initiation carrying mac2. */
    return session_send_initiation(s, now);
}

/* ---- data -------------------------------------------------------------------------- */

int knit_session_on_data(struct knit_session *s, uint32_t local_index,
                         const uint8_t *pkt, size_t len, int sock,
                         const struct knit_addr *from, uint64_t now)
{
    session_touch(s);
    struct knit_keypair *kp = session_find_keypair(s, local_index);
    if (!kp || s->dead)
        return KNIT_E_NOT_FOUND;
    if (!session_keypair_usable(s, kp, now))
        return KNIT_E_AGAIN;
    uint8_t plain[KNIT_SESSION_MAX_DATAGRAM];
    size_t plain_len;
    uint64_t pn;
    int err = knit_keypair_open(kp, pkt, len, plain, sizeof plain, &plain_len,
                                &pn);
    if (err)
        return err;
    if (kp == s->next) {
        /* The initiator uses the keys we gave it: they are current now
         * (its index goes with it). */
        struct knit_keypair confirmed = *s->next;
        knit_keypair_wipe(s->next);
        free(s->next);
        s->next = NULL;
        session_install_current(s, &confirmed);
        knit_keypair_wipe(&confirmed);
        kp = &s->cur;
        /* Fresh keys are what an initiation of ours in progress was for;
         * retrying it (perhaps into a filter that drops it) would only
         * replace these again. WireGuard stops retrying here too. */
        if (s->handshaking) {
            s->env.drop_index(s->env.ctx, s->hs_index);
            s->handshaking = false;
            drop_handshake(s);
        }
    }
    s->last_rx = now;
    int p = session_path_on_packet(s, sock, from, len, now);
    if (p >= 0) {
        s->latest_sock = sock;
        s->latest_from = *from;
    }
    hold_flushes(s);
    become_up(s);
    if (!s->conn) {
        release_flushes(s, now);
        return KNIT_OK;
    }
    s->rx_path = p;
    err = knit_conn_on_packet(s->conn, pn, plain, plain_len, now);
    s->rx_path = -1;
    release_flushes(s, now);
    if (err)
        session_die(s, err, "protocol violation");
    return err;
}

/* ---- sending ------------------------------------------------------------------------ */

int session_seal_and_send(struct knit_session *s, int path,
                          const uint8_t *plain, size_t len, uint64_t pn)
{
    uint8_t pkt[KNIT_SESSION_MAX_DATAGRAM];
    size_t pkt_len;
    int err = knit_keypair_seal(&s->cur, pn, plain, len, pkt, sizeof pkt,
                                &pkt_len);
    if (err)
        return err;
    return s->env.send(s->env.ctx, s->paths[path].sock, &s->paths[path].addr,
                       pkt, pkt_len);
}

static bool can_send_data(const struct knit_session *s, uint64_t now)
{
    return s->conn && s->has_cur && s->cur.confirmed && s->active >= 0 &&
           session_keypair_usable(s, &s->cur, now);
}

/* The keypair's initiator rekeys first; the responder waits a little
 * longer so the two rarely start at once, but not past halfway to
 * reject_after_us: if the initiator's handshakes cannot reach us, ours
 * must still renew the keys before they expire and the session stalls. */
uint64_t session_rekey_age(const struct knit_session *s)
{
    uint64_t age = s->cfg.rekey_after_us;
    if (s->cur.initiator)
        return age;
    uint64_t later = age + s->cfg.handshake_retry_us * 10;
    uint64_t cap = s->cfg.reject_after_us > age
                       ? age + (s->cfg.reject_after_us - age) / 2
                       : age;
    return later < cap ? later : cap;
}

/* Keys are renewed when they are used, as in WireGuard: a session with
 * nothing to send or acknowledge keeps its keys, which simply expire
 * unused (reject_after_us), and the first packet it has to send after that
 * waits for a handshake. Renewing idle keys on a timer cost a handshake
 * every 2 min for every open session, and the answer counted as life
 * (last_rx), so sessions nobody used any more stayed open to be rekeyed
 * again: a fifth of all handshakes in a simulated DHT. */
bool session_keys_in_use(const struct knit_session *s)
{
    return s->conn && !knit_conn_is_idle(s->conn);
}

static void maybe_rekey(struct knit_session *s, uint64_t now)
{
    if (!s->has_cur || s->handshaking || s->dead || !session_keys_in_use(s))
        return;
    if (now - s->cur.created >= session_rekey_age(s) ||
        s->cur.packets_sent >= s->cfg.rekey_after_packets)
        session_start_handshake(s, now);
}

/* What the conn has to send, sent now. */
static void send_pending(struct knit_session *s, uint64_t now)
{
    maybe_rekey(s, now);
    /* While we cannot send (keys expired or unconfirmed, no path), the
     * conn's timers (ACK due, pacing) cannot be served: they leave the
     * deadline until something unblocks us, which always flushes. */
    s->blocked = !can_send_data(s, now);
    if (s->blocked)
        return;
    uint8_t plain[KNIT_SESSION_MAX_DATAGRAM];
    /* Congestion control and pacing bound each round; this only guards
     * against a bug turning into an endless loop. */
    for (int i = 0; i < 1024; i++) {
        size_t len;
        uint64_t pn;
        if (knit_conn_build_packet(s->conn, now, plain, sizeof plain, &len,
                                   &pn) != KNIT_OK)
            break;
        session_seal_and_send(s, s->active, plain, len, pn);
        s->last_tx = now;
    }
    if (knit_conn_is_closed(s->conn))
        session_die(s, KNIT_E_IO, s->close_reason && s->close_reason[0]
                              ? s->close_reason : "session closed");
}

void knit_session_flush(struct knit_session *s, uint64_t now)
{
    session_touch(s);
    if (s->dead || s->holding)
        return;
    send_pending(s, now);
}

void knit_session_close(struct knit_session *s, uint64_t code,
                        const char *reason, uint64_t now)
{
    session_touch(s);
    if (s->dead)
        return;
    size_t n = reason ? strnlen(reason, KNIT_CONN_CLOSE_REASON_MAX) : 0;
    free(s->close_reason);
    s->close_reason = malloc(n + 1);
    if (s->close_reason) {
        memcpy(s->close_reason, reason ? reason : "", n);
        s->close_reason[n] = '\0';
    }
    if (s->conn && can_send_data(s, now)) {
        knit_conn_close(s->conn, code, reason);
        send_pending(s, now);   /* even from a callback: it dies next */
    }
    session_die(s, KNIT_OK, s->close_reason && s->close_reason[0] ? s->close_reason
                                                          : "closed");
}

/* ---- lifetime and accessors ----------------------------------------------------------- */

int knit_session_new(struct knit_session **out,
                     const struct knit_session_env *env,
                     const struct knit_session_config *cfg,
                     const struct knit_peer_id *peer, uint64_t now)
{
    return knit_session_new_with_static(out, env, cfg, peer, NULL, now);
}

/* peer_x NULL: converted here. */
int knit_session_new_with_static(struct knit_session **out,
                                 const struct knit_session_env *env,
                                 const struct knit_session_config *cfg,
                                 const struct knit_peer_id *peer,
                                 const uint8_t peer_x[32], uint64_t now)
{
    struct knit_session *s = calloc(1, sizeof *s);
    if (!s)
        return KNIT_E_NOMEM;
    s->deadline_stale = true;
    s->env = *env;
    s->cfg = *cfg;
    s->peer = *peer;
    s->active = -1;
    s->paths = &s->first_path;
    s->path_cap = 1;
    s->rx_path = -1;
    s->latest_sock = -1;
    s->created = s->last_rx = s->last_tx = now;
    env->random(env->ctx, (uint8_t *)&s->local_instance,
                sizeof s->local_instance);
    if (peer_x)
        memcpy(s->peer_x, peer_x, sizeof s->peer_x);
    else if (crypto_sign_ed25519_pk_to_curve25519(s->peer_x,
                                                  peer->pubkey) != 0) {
        free(s);
        return KNIT_E_KEY_MISMATCH;
    }
    knit_cookie_maker_init(&s->cookies, s->peer_x);
    *out = s;
    return KNIT_OK;
}

void knit_session_free(struct knit_session *s)
{
    if (!s)
        return;
    if (s->handshaking)
        s->env.drop_index(s->env.ctx, s->hs_index);
    drop_handshake(s);
    free(s->close_reason);
    session_drop_spare(s, &s->prev);
    session_drop_keypair(s, &s->cur, &s->has_cur);
    session_drop_spare(s, &s->next);
    knit_conn_free(s->conn);
    free(s->peer_protocols);
    if (s->paths != &s->first_path)
        free(s->paths);
    free(s);
}
