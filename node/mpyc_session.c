/* The daemon's side of `knit mpyc` (node/mpyc_session.h): the session
 * table, the request, reaching the parties, events and the timer. The
 * /knit/mpyc/1 exchange is node/mpyc_hello.c. */
#include "mpyc_session.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control_proto.h"
#include "mpyc_internal.h"
#include "transport/error.h"


uint64_t mpyc_now_us(const struct knit_mpyc_sessions *m)
{
    return knit_uv_driver_now(m->drv);
}

/* "party 2 (12D3KooW...)" */
void mpyc_party_name(const struct session *s, uint32_t j, char *out,
                       size_t cap)
{
    char id[KNIT_PEER_ID_TEXT_MAX];
    knit_peer_id_to_text(&s->p[j].id, id, sizeof id);
    snprintf(out, cap, "party %u (%s)", j, id);
}

void mpyc_progress(struct session *s, uint32_t j, const char *state)
{
    uint8_t buf[KNIT_CONTROL_MPYC_STATE_MAX + 32];
    char text[KNIT_CONTROL_MPYC_STATE_MAX + 1];
    struct knit_msg_writer w;
    size_t len;
    if (!s->client || knit_control_clean_text(text, sizeof text, state) == 0)
        return;
    knit_msg_writer_init(&w, buf, sizeof buf);
    knit_msg_begin(&w, KNIT_CTL_MPYC_PARTY, 2);
    knit_msg_put_uint(&w, 1, j);
    knit_msg_put_str(&w, 2, text, strlen(text));
    if (knit_msg_end(&w, &len) == KNIT_OK)
        knit_control_send(s->client, buf, len);
}

/* Tells the client why the session ends; what it holds goes at the next
 * timer run (this may be inside a reach's callback). */
void mpyc_fail(struct knit_mpyc_sessions *m, struct session *s, int code,
                 const char *fmt, ...)
{
    if (s->failed)
        return;
    char text[MPYC_TEXT_MAX], clean[MPYC_TEXT_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    knit_control_clean_text(clean, sizeof clean, text);
    s->failed = true;
    if (s->client)
        knit_control_send_error(s->client, code, clean);
    m->teardown_due = true;
    mpyc_rearm(m);
}

static void teardown(struct knit_mpyc_sessions *m, struct session *s)
{
    if (s->torn_down)
        return;
    s->torn_down = true;
    uint64_t now = mpyc_now_us(m);
    knit_daemon_reach_cancel(m->reach, s);
    for (uint32_t j = 0; j < s->count; j++) {
        struct party *p = &s->p[j];
        if (p->stream_open)
            knit_node_stream_reset(m->node, &p->id, p->stream, 0, now);
        p->stream_open = false;
        p->reaching = false;
        p->retry_at = 0;
    }
    if (s->client)
        knit_forwarder_drop_owner(m->fwd, s->client);
    knit_uv_driver_rearm(m->drv);
}

struct session *mpyc_find_by_name(struct knit_mpyc_sessions *m,
                                    const char *name)
{
    for (int i = 0; i < KNIT_MPYC_MAX_SESSIONS; i++)
        if (m->s[i] && !m->s[i]->failed && strcmp(m->s[i]->name, name) == 0)
            return m->s[i];
    return NULL;
}

int mpyc_party_of(const struct session *s, const struct knit_peer_id *id)
{
    for (uint32_t j = 0; j < s->count; j++)
        if (j != s->me && knit_peer_id_equal(&s->p[j].id, id))
            return (int)j;
    return -1;
}

/* ---- reaching the parties ------------------------------------------------- */

static void on_reached(void *ctx, const struct knit_peer_id *peer, int err,
                      const char *reason)
{
    struct session *s = ctx;
    struct knit_mpyc_sessions *m = s->owner;
    int j = mpyc_party_of(s, peer);
    if (j < 0 || s->failed)
        return;
    struct party *p = &s->p[j];
    p->reaching = false;
    char who[128];
    mpyc_party_name(s, (uint32_t)j, who, sizeof who);
    if (err != KNIT_OK) {
        if (s->ready) {
            mpyc_fail(m, s, err, "%s is gone: it could not be reached "
                      "again: %s", who,
                      reason && *reason ? reason : knit_strerror(err));
        } else {
            mpyc_fail(m, s, err, "%s could not be reached within %u s: %s", who,
                 (s->timeout_ms + 999) / 1000,
                 reason && *reason ? reason : knit_strerror(err));
        }
        return;
    }
    p->up = true;
    mpyc_progress(s, (uint32_t)j,
             knit_node_peer_is_relayed(m->node, peer) ? "connected (relayed)"
                                                     : "connected (direct)");
    if (!p->agreed || (s->own_listening && (uint32_t)j < s->me &&
                       !p->told_listening))
        mpyc_send_hello(m, s, (uint32_t)j);
    mpyc_rearm(m);
}

/* Reaches party j within what is left of the session's time (its whole
 * timeout again once the run has started). */
static int reach_party(struct knit_mpyc_sessions *m, struct session *s,
                       uint32_t j)
{
    uint64_t now = mpyc_now_us(m);
    uint32_t ms = s->timeout_ms;
    if (!s->ready)
        ms = s->deadline > now ? (uint32_t)((s->deadline - now) / 1000) : 0;
    if (ms == 0)
        ms = 1;
    s->p[j].reaching = true;
    int err = knit_daemon_reach_peer(m->reach, &s->p[j].id, ms, on_reached,
                                     s);
    if (err != KNIT_OK)
        s->p[j].reaching = false;
    return err;
}

/* ---- events and the timer ------------------------------------------------- */

static void peer_down(struct knit_mpyc_sessions *m,
                      const struct knit_event *ev)
{
    for (int i = 0; i < KNIT_MPYC_MAX_INCOMING; i++)
        if (m->in[i].used && knit_peer_id_equal(&m->in[i].peer, ev->peer))
            mpyc_release_in(&m->in[i]);
    for (int i = 0; i < KNIT_MPYC_MAX_SESSIONS; i++) {
        struct session *s = m->s[i];
        int j = s && !s->failed ? mpyc_party_of(s, ev->peer) : -1;
        if (j < 0 || !s->p[j].up)
            continue;
        struct party *p = &s->p[j];
        p->up = false;
        p->stream_open = false;
        char text[MPYC_REASON_MAX + 32];
        snprintf(text, sizeof text, "disconnected: %s",
                 ev->u.down.reason ? ev->u.down.reason : "closed");
        mpyc_progress(s, (uint32_t)j, text);
        knit_control_clean_text(p->reason, sizeof p->reason, text);
        if (!p->reaching && reach_party(m, s, (uint32_t)j) != KNIT_OK &&
            !s->ready)
            mpyc_fail(m, s, KNIT_E_LIMIT, "cannot reach party %d again: too many "
                 "peers being reached", j);
    }
}

void knit_mpyc_sessions_on_event(struct knit_mpyc_sessions *m,
                                 const struct knit_event *ev)
{
    if (m->closing || !ev->peer)
        return;
    uint64_t now = ev->now ? ev->now : mpyc_now_us(m);
    switch (ev->type) {
    case KNIT_EVENT_STREAM_OPENED:
        if (ev->u.opened.protocol &&
            strcmp(ev->u.opened.protocol, KNIT_PARTY_PROTOCOL) == 0)
            mpyc_in_opened(m, ev);
        return;
    case KNIT_EVENT_PEER_DOWN:
        peer_down(m, ev);
        return;
    case KNIT_EVENT_STREAM_READABLE:
    case KNIT_EVENT_STREAM_RESET:
    case KNIT_EVENT_STREAM_CLOSED:
        break;
    default:
        return;
    }
    bool readable = ev->type == KNIT_EVENT_STREAM_READABLE;
    for (int i = 0; i < KNIT_MPYC_MAX_INCOMING; i++) {
        struct incoming *in = &m->in[i];
        if (!in->used || in->stream != ev->stream_id ||
            !knit_peer_id_equal(&in->peer, ev->peer))
            continue;
        if (readable)
            mpyc_in_readable(m, in, now);
        else
            mpyc_release_in(in);
        return;
    }
    for (int i = 0; i < KNIT_MPYC_MAX_SESSIONS; i++) {
        struct session *s = m->s[i];
        int j = s && !s->failed ? mpyc_party_of(s, ev->peer) : -1;
        if (j < 0 || !s->p[j].stream_open || s->p[j].stream != ev->stream_id)
            continue;
        if (readable) {
            mpyc_out_readable(m, s, (uint32_t)j, now);
        } else {
            /* A knit without /knit/mpyc/1 refuses the stream. */
            s->p[j].stream_open = false;
            mpyc_retry_later(m, &s->p[j], "it refused or dropped the /knit/mpyc/1 "
                        "stream (is its knit too old for knit mpyc?)");
        }
        mpyc_rearm(m);
        return;
    }
}

static void timed_out(struct knit_mpyc_sessions *m, struct session *s)
{
    uint32_t secs = (s->timeout_ms + 999) / 1000;
    for (uint32_t j = 0; j < s->count; j++) {
        struct party *p = &s->p[j];
        if (j == s->me || p->agreed)
            continue;
        char who[128];
        mpyc_party_name(s, j, who, sizeof who);
        if (!p->up)
            mpyc_fail(m, s, KNIT_E_TIMEOUT, "%s could not be reached within %u "
                 "s: %s", who, secs, p->reason[0] ? p->reason : "no answer");
        else
            mpyc_fail(m, s, KNIT_E_TIMEOUT, "%s did not join session %s within "
                 "%u s%s%s", who, s->name, secs, p->reason[0] ? ": " : "",
                 p->reason);
        return;
    }
}

static void tell_listening(struct knit_mpyc_sessions *m, struct session *s)
{
    s->own_listening = true;
    mpyc_progress(s, s->me, "listening");
    /* Only the parties before us dial us. */
    for (uint32_t j = 0; j < s->me; j++) {
        s->p[j].retry_at = 0;
        mpyc_send_hello(m, s, j);
    }
}

/* While the command runs: asks party j again whether it still runs the
 * session, and gives it up when its daemon has not answered for
 * KNIT_MPYC_SILENT_MS (a node that died answers nothing, and its session
 * would last until the idle timeout). */
static void check_party(struct knit_mpyc_sessions *m, struct session *s,
                        uint32_t j, uint64_t now)
{
    if (now - s->p[j].answered_at >= KNIT_MPYC_SILENT_MS * 1000ull) {
        char who[128];
        mpyc_party_name(s, j, who, sizeof who);
        mpyc_fail(m, s, KNIT_E_TIMEOUT, "%s has not answered for %u s: its "
                  "node is gone or cut off", who, KNIT_MPYC_SILENT_MS / 1000);
        return;
    }
    mpyc_send_hello(m, s, j);
}

static void on_timer(uv_timer_t *timer)
{
    struct knit_mpyc_sessions *m = timer->data;
    uint64_t now = mpyc_now_us(m);
    if (m->teardown_due) {
        m->teardown_due = false;
        for (int i = 0; i < KNIT_MPYC_MAX_SESSIONS; i++)
            if (m->s[i] && m->s[i]->failed)
                teardown(m, m->s[i]);
    }
    for (int i = 0; i < KNIT_MPYC_MAX_SESSIONS; i++) {
        struct session *s = m->s[i];
        if (!s || s->failed)
            continue;
        if (!s->ready && now >= s->deadline) {
            timed_out(m, s);
            continue;
        }
        for (uint32_t j = 0; j < s->count && !s->failed; j++) {
            struct party *p = &s->p[j];
            if (p->retry_at && now >= p->retry_at) {
                p->retry_at = 0;
                mpyc_send_hello(m, s, j);
            }
        }
        if (s->ready && now >= s->check_at) {
            for (uint32_t j = 0; j < s->count && !s->failed; j++)
                if (j != s->me)
                    check_party(m, s, j, now);
            s->check_at = now + KNIT_MPYC_CHECK_MS * 1000ull;
        }
        if (s->ready && s->me > 0 && !s->own_listening && !s->failed &&
            now >= s->probe_at) {
            if (mpyc_port_listening(s->p[s->me].port))
                tell_listening(m, s);
            else
                s->probe_at = now + KNIT_MPYC_PROBE_MS * 1000ull;
        }
    }
    mpyc_rearm(m);
    knit_uv_driver_rearm(m->drv);
}

void mpyc_rearm(struct knit_mpyc_sessions *m)
{
    if (m->closing)
        return;
    uint64_t next = m->teardown_due ? 0 : UINT64_MAX;
    for (int i = 0; i < KNIT_MPYC_MAX_SESSIONS; i++) {
        const struct session *s = m->s[i];
        if (!s || s->failed)
            continue;
        if (!s->ready && s->deadline < next)
            next = s->deadline;
        if (s->ready && s->me > 0 && !s->own_listening && s->probe_at < next)
            next = s->probe_at;
        if (s->ready && s->check_at < next)
            next = s->check_at;
        for (uint32_t j = 0; j < s->count; j++)
            if (s->p[j].retry_at && s->p[j].retry_at < next)
                next = s->p[j].retry_at;
    }
    if (next == UINT64_MAX) {
        uv_timer_stop(&m->timer);
        return;
    }
    uint64_t now = mpyc_now_us(m);
    uv_timer_start(&m->timer, on_timer,
                   next > now ? (next - now + 999) / 1000 : 0, 0);
}

/* ---- the request ---------------------------------------------------------- */

/* The request answered with its own error text: the control server then
 * sends nothing more. */
static int refuse(struct knit_control_client *client, int code,
                  const char *fmt, ...)
{
    char text[MPYC_TEXT_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    knit_control_send_error(client, code, text);
    return KNIT_OK;
}

/* Reads the list; KNIT_OK, or the refusal already sent (*refused). */
static int read_parties(struct knit_mpyc_sessions *m,
                        struct knit_control_client *client,
                        const struct knit_msg *req, struct session *s,
                        bool *refused)
{
    struct knit_msg_iter it;
    const uint8_t *p;
    size_t len;
    int err = knit_msg_iter_init(&it, req, 2);
    *refused = true;
    while (err == KNIT_OK &&
           (err = knit_msg_next_bytes(&it, &p, &len)) == KNIT_OK) {
        uint32_t j = s->count;
        if (j >= KNIT_PARTY_MAX)
            return refuse(client, KNIT_E_TOO_BIG, "more than %d parties",
                          KNIT_PARTY_MAX);
        if (knit_peer_id_from_text(&s->p[j].id, (const char *)p, len))
            return refuse(client, KNIT_E_INVAL, "party %u: invalid peer ID",
                          j);
        for (uint32_t k = 0; k < j; k++)
            if (knit_peer_id_equal(&s->p[k].id, &s->p[j].id))
                return refuse(client, KNIT_E_DUPLICATE, "%.*s is listed "
                              "twice (parties %u and %u)", (int)len, p, k, j);
        s->count++;
    }
    if (err != KNIT_E_NOT_FOUND)
        return err;
    char own[KNIT_PEER_ID_TEXT_MAX];
    knit_peer_id_to_text(knit_node_peer_id(m->node), own, sizeof own);
    if (s->me >= s->count ||
        !knit_peer_id_equal(&s->p[s->me].id, knit_node_peer_id(m->node)))
        return refuse(client, KNIT_E_INVAL, "this node (%s) is not party %u "
                      "of the list", own, s->me);
    *refused = false;
    return KNIT_OK;
}

/* Binds the forward listeners, picks the own port (after the listeners,
 * so the kernel cannot hand it to one of them) and exposes it. */
static int set_up_ports(struct knit_mpyc_sessions *m, struct session *s,
                        char *why, size_t cap)
{
    char service[64];
    struct knit_peer_id allow[KNIT_PARTY_MAX];
    size_t allowed = 0;
    for (uint32_t j = 0; j < s->count; j++) {
        if (j == s->me)
            continue;
        allow[allowed++] = s->p[j].id;
        snprintf(service, sizeof service, "mpyc/%s/%u", s->name, j);
        int err = knit_forwarder_forward(m->fwd, &s->p[j].port, &s->p[j].id,
                                         service, false, s->client);
        if (err) {
            snprintf(why, cap, "cannot bind the local listener for party "
                     "%u: %s", j, knit_strerror(err));
            return err;
        }
    }
    int err = mpyc_pick_port(&s->p[s->me].port);
    if (err) {
        snprintf(why, cap, "cannot find a free loopback port");
        return err;
    }
    snprintf(service, sizeof service, "mpyc/%s/%u", s->name, s->me);
    err = knit_forwarder_expose(m->fwd, service, s->p[s->me].port, allow,
                                allowed, s->client);
    if (err)
        snprintf(why, cap, "cannot expose service %s: %s", service,
                 knit_strerror(err));
    return err;
}

int knit_mpyc_sessions_request(struct knit_mpyc_sessions *m,
                               struct knit_control_client *client,
                               const uint8_t *body, size_t len)
{
    struct knit_msg req;
    int err = knit_msg_decode(body, len, &knit_control_mpyc_request, &req);
    if (err)
        return err;
    size_t nlen;
    const char *name = (const char *)knit_msg_bytes(&req, 1, &nlen);
    if (!knit_party_session_valid(name, nlen))
        return refuse(client, KNIT_E_INVAL, "a session name is 1 to %d "
                      "characters of A-Z a-z 0-9 . _ -",
                      KNIT_PARTY_SESSION_MAX);
    int slot = -1;
    for (int i = 0; i < KNIT_MPYC_MAX_SESSIONS; i++) {
        if (!m->s[i]) {
            if (slot < 0)
                slot = i;
        } else if (m->s[i]->client == client) {
            return refuse(client, KNIT_E_EXISTS, "this connection runs a "
                          "session already");
        } else if (!m->s[i]->failed && strlen(m->s[i]->name) == nlen &&
                   memcmp(m->s[i]->name, name, nlen) == 0) {
            return refuse(client, KNIT_E_EXISTS, "session %.*s is running "
                          "on this node already", (int)nlen, name);
        }
    }
    if (slot < 0)
        return refuse(client, KNIT_E_LIMIT, "%d knit mpyc sessions run on "
                      "this node already", KNIT_MPYC_MAX_SESSIONS);
    uint64_t timeout_ms = knit_msg_uint(&req, 4);
    if (timeout_ms == 0)
        return refuse(client, KNIT_E_INVAL, "the timeout must be positive");
    struct session *s = calloc(1, sizeof *s);
    if (!s)
        return KNIT_E_NOMEM;
    s->owner = m;
    s->client = client;
    memcpy(s->name, name, nlen);
    s->me = (uint32_t)knit_msg_uint(&req, 3);
    s->timeout_ms = (uint32_t)timeout_ms;
    s->deadline = mpyc_now_us(m) + timeout_ms * 1000;
    bool refused;
    char why[MPYC_TEXT_MAX];
    err = read_parties(m, client, &req, s, &refused);
    if (err || refused) {
        free(s);
        return err;
    }
    struct knit_peer_id ids[KNIT_PARTY_MAX];
    for (uint32_t j = 0; j < s->count; j++)
        ids[j] = s->p[j].id;
    knit_party_digest(s->name, ids, s->count, s->digest);
    m->s[slot] = s;
    err = set_up_ports(m, s, why, sizeof why);
    for (uint32_t j = 0; err == KNIT_OK && j < s->count; j++)
        if (j != s->me && reach_party(m, s, j) != KNIT_OK) {
            err = KNIT_E_LIMIT;
            snprintf(why, sizeof why, "cannot reach party %u: too many peers "
                     "being reached", j);
        }
    if (err) {
        /* The client stays; what the session made goes now. */
        mpyc_fail(m, s, err, "%s", why);
        teardown(m, s);
    }
    mpyc_rearm(m);
    knit_uv_driver_rearm(m->drv);
    return KNIT_OK;
}

/* ---- lifetime ------------------------------------------------------------- */

void knit_mpyc_sessions_client_closed(struct knit_mpyc_sessions *m,
                                      struct knit_control_client *client)
{
    for (int i = 0; i < KNIT_MPYC_MAX_SESSIONS; i++) {
        struct session *s = m->s[i];
        if (!s || s->client != client)
            continue;
        teardown(m, s);
        free(s);
        m->s[i] = NULL;
    }
    mpyc_rearm(m);
}

int knit_mpyc_sessions_new(struct knit_mpyc_sessions **out, uv_loop_t *loop,
                           struct knit_node *node, struct knit_uv_driver *drv,
                           struct knit_daemon_reach *reach,
                           struct knit_forwarder *fwd)
{
    struct knit_mpyc_sessions *m = calloc(1, sizeof *m);
    if (!m)
        return KNIT_E_NOMEM;
    m->node = node;
    m->drv = drv;
    m->reach = reach;
    m->fwd = fwd;
    uv_timer_init(loop, &m->timer);
    m->timer.data = m;
    *out = m;
    return KNIT_OK;
}

static void on_timer_closed(uv_handle_t *handle)
{
    free(handle->data);
}

void knit_mpyc_sessions_close(struct knit_mpyc_sessions *m)
{
    if (!m || m->closing)
        return;
    for (int i = 0; i < KNIT_MPYC_MAX_SESSIONS; i++) {
        struct session *s = m->s[i];
        if (!s)
            continue;
        mpyc_fail(m, s, KNIT_E_CANCELED, "the daemon is shutting down");
        teardown(m, s);
        free(s);
        m->s[i] = NULL;
    }
    m->closing = true;
    uv_close((uv_handle_t *)&m->timer, on_timer_closed);
}
