/* Reaching a peer by ID: one target per peer someone waits for, shared by
 * all its waits. A target is looking (a DHT find under way), dialling (its
 * record was dialled, waiting for PEER_UP or PEER_DOWN) or resting (the
 * last try failed; the next one starts at retry_at). Waits end at PEER_UP
 * (success), at their own deadline (KNIT_E_TIMEOUT with the last failure)
 * or at close (KNIT_E_CANCELED). A target nobody waits for is dropped; a
 * late FOUND for it matches no handle and is ignored. */
#include "daemon_reach.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "transport/error.h"

#define RETRY_US 2000000ull

enum target_state { T_FREE = 0, T_LOOKING, T_DIALLING, T_RESTING };

struct target {
    enum target_state state;
    struct knit_peer_id peer;
    uint64_t find_handle;
    uint64_t retry_at;                  /* T_RESTING */
    char reason[KNIT_DAEMON_REACH_REASON_MAX];   /* the last failure */
};

struct wait {
    bool used;
    struct knit_peer_id peer;
    knit_daemon_reach_cb cb;
    void *ctx;
    uint64_t deadline;
};

struct knit_daemon_reach {
    uv_timer_t timer;
    struct knit_node *node;
    struct knit_uv_driver *drv;
    bool closing;
    struct target targets[KNIT_DAEMON_REACH_MAX];
    struct wait waits[KNIT_DAEMON_REACH_MAX];
};

static uint64_t now_us(const struct knit_daemon_reach *r)
{
    return knit_uv_driver_now(r->drv);
}

static struct target *find_target(struct knit_daemon_reach *r,
                                  const struct knit_peer_id *peer)
{
    for (size_t i = 0; i < KNIT_DAEMON_REACH_MAX; i++)
        if (r->targets[i].state != T_FREE &&
            knit_peer_id_equal(&r->targets[i].peer, peer))
            return &r->targets[i];
    return NULL;
}

static bool has_waits(const struct knit_daemon_reach *r,
                      const struct knit_peer_id *peer)
{
    for (size_t i = 0; i < KNIT_DAEMON_REACH_MAX; i++)
        if (r->waits[i].used && knit_peer_id_equal(&r->waits[i].peer, peer))
            return true;
    return false;
}

/* Drops the targets nobody waits for any more. */
static void drop_orphans(struct knit_daemon_reach *r)
{
    for (size_t i = 0; i < KNIT_DAEMON_REACH_MAX; i++)
        if (r->targets[i].state != T_FREE &&
            !has_waits(r, &r->targets[i].peer))
            memset(&r->targets[i], 0, sizeof r->targets[i]);
}

/* Answers every wait for peer with err, one at a time: each slot is freed
 * before its callback runs, which may well start or cancel other waits. */
static void answer_peer(struct knit_daemon_reach *r,
                        const struct knit_peer_id *peer, int err,
                        const char *reason)
{
    struct knit_peer_id id = *peer;   /* peer may point into a target */
    char text[KNIT_DAEMON_REACH_REASON_MAX];
    snprintf(text, sizeof text, "%s", reason ? reason : "");
    for (size_t i = 0; i < KNIT_DAEMON_REACH_MAX; i++) {
        struct wait *w = &r->waits[i];
        if (!w->used || !knit_peer_id_equal(&w->peer, &id))
            continue;
        knit_daemon_reach_cb cb = w->cb;
        void *ctx = w->ctx;
        memset(w, 0, sizeof *w);
        cb(ctx, &id, err, text);
    }
    drop_orphans(r);
}

static void rest(struct target *t, uint64_t now, const char *reason)
{
    t->state = T_RESTING;
    t->retry_at = now + RETRY_US;
    snprintf(t->reason, sizeof t->reason, "%s", reason);
}

/* One try: a DHT lookup of the peer's record. */
static void start_lookup(struct knit_daemon_reach *r, struct target *t,
                         uint64_t now)
{
    int err = knit_node_find(r->node, &t->peer, now, &t->find_handle);
    if (err == KNIT_OK) {
        t->state = T_LOOKING;
        knit_uv_driver_rearm(r->drv);
        return;
    }
    char text[KNIT_DAEMON_REACH_REASON_MAX];
    snprintf(text, sizeof text, "%s",
             err == KNIT_E_NOT_FOUND
                 ? "the DHT knows no peers yet (no bootstrap peer answered)"
                 : knit_strerror(err));
    rest(t, now, text);
}

static void on_timer(uv_timer_t *timer);

static void arm(struct knit_daemon_reach *r)
{
    if (r->closing)
        return;
    uint64_t next = UINT64_MAX;
    for (size_t i = 0; i < KNIT_DAEMON_REACH_MAX; i++) {
        if (r->waits[i].used && r->waits[i].deadline < next)
            next = r->waits[i].deadline;
        if (r->targets[i].state == T_RESTING && r->targets[i].retry_at < next)
            next = r->targets[i].retry_at;
    }
    if (next == UINT64_MAX) {
        uv_timer_stop(&r->timer);
        return;
    }
    uint64_t now = now_us(r);
    uv_timer_start(&r->timer, on_timer,
                   next > now ? (next - now + 999) / 1000 : 0, 0);
}

static void on_timer(uv_timer_t *timer)
{
    struct knit_daemon_reach *r = timer->data;
    uint64_t now = now_us(r);
    for (size_t i = 0; i < KNIT_DAEMON_REACH_MAX; i++) {
        struct wait *w = &r->waits[i];
        if (!w->used || w->deadline > now)
            continue;
        struct target *t = find_target(r, &w->peer);
        char text[KNIT_DAEMON_REACH_REASON_MAX + 64];
        snprintf(text, sizeof text, "could not reach the peer in time%s%s",
                 t && t->reason[0] ? ": " : "", t ? t->reason : "");
        text[KNIT_DAEMON_REACH_REASON_MAX - 1] = '\0';
        struct knit_peer_id id = w->peer;
        knit_daemon_reach_cb cb = w->cb;
        void *ctx = w->ctx;
        memset(w, 0, sizeof *w);
        cb(ctx, &id, KNIT_E_TIMEOUT, text);
    }
    drop_orphans(r);
    for (size_t i = 0; i < KNIT_DAEMON_REACH_MAX; i++) {
        struct target *t = &r->targets[i];
        if (t->state == T_RESTING && t->retry_at <= now)
            start_lookup(r, t, now);
    }
    arm(r);
}

int knit_daemon_reach_new(struct knit_daemon_reach **out, uv_loop_t *loop,
                          struct knit_node *node, struct knit_uv_driver *drv)
{
    struct knit_daemon_reach *r = calloc(1, sizeof *r);
    if (!r)
        return KNIT_E_NOMEM;
    r->node = node;
    r->drv = drv;
    uv_timer_init(loop, &r->timer);
    r->timer.data = r;
    *out = r;
    return KNIT_OK;
}

static void on_timer_closed(uv_handle_t *handle)
{
    free(handle->data);
}

void knit_daemon_reach_close(struct knit_daemon_reach *r)
{
    if (!r || r->closing)
        return;
    r->closing = true;
    for (size_t i = 0; i < KNIT_DAEMON_REACH_MAX; i++) {
        struct wait *w = &r->waits[i];
        if (!w->used)
            continue;
        struct knit_peer_id id = w->peer;
        knit_daemon_reach_cb cb = w->cb;
        void *ctx = w->ctx;
        memset(w, 0, sizeof *w);
        cb(ctx, &id, KNIT_E_CANCELED, "the daemon is shutting down");
    }
    memset(r->targets, 0, sizeof r->targets);
    uv_close((uv_handle_t *)&r->timer, on_timer_closed);
}

int knit_daemon_reach_peer(struct knit_daemon_reach *r,
                           const struct knit_peer_id *peer,
                           uint32_t timeout_ms, knit_daemon_reach_cb cb,
                           void *ctx)
{
    if (!r || !peer || !cb || r->closing)
        return KNIT_E_INVAL;
    if (knit_peer_id_equal(peer, knit_node_peer_id(r->node)))
        return KNIT_E_INVAL;
    if (knit_node_peer_is_up(r->node, peer)) {
        cb(ctx, peer, KNIT_OK, "");
        return KNIT_OK;
    }
    struct wait *w = NULL;
    for (size_t i = 0; i < KNIT_DAEMON_REACH_MAX && !w; i++)
        if (!r->waits[i].used)
            w = &r->waits[i];
    struct target *t = find_target(r, peer);
    for (size_t i = 0; i < KNIT_DAEMON_REACH_MAX && !t; i++)
        if (r->targets[i].state == T_FREE)
            t = &r->targets[i];
    /* There are as many target slots as wait slots, so a free wait always
     * finds a target. */
    if (!w || !t)
        return KNIT_E_NOMEM;
    uint64_t now = now_us(r);
    w->used = true;
    w->peer = *peer;
    w->cb = cb;
    w->ctx = ctx;
    w->deadline = now + (uint64_t)timeout_ms * 1000;
    if (t->state == T_FREE) {
        t->peer = *peer;
        start_lookup(r, t, now);
    }
    arm(r);
    return KNIT_OK;
}

void knit_daemon_reach_cancel(struct knit_daemon_reach *r, void *ctx)
{
    if (!r)
        return;
    for (size_t i = 0; i < KNIT_DAEMON_REACH_MAX; i++)
        if (r->waits[i].used && r->waits[i].ctx == ctx)
            memset(&r->waits[i], 0, sizeof r->waits[i]);
    drop_orphans(r);
    arm(r);
}

/* The lookup ended: dial the record, or rest and try again. */
static void on_found(struct knit_daemon_reach *r, struct target *t,
                     const struct knit_event *ev, uint64_t now)
{
    if (ev->u.found.error) {
        char text[KNIT_DAEMON_REACH_REASON_MAX];
        snprintf(text, sizeof text, "%s (%s)",
                 ev->u.found.error == KNIT_E_TIMEOUT
                     ? "the DHT lookup timed out"
                     : "the peer is not in the DHT",
                 knit_strerror(ev->u.found.error));
        rest(t, now, text);
        return;
    }
    /* The lookup may have brought a session up by itself. */
    if (knit_node_peer_is_up(r->node, &t->peer)) {
        answer_peer(r, &t->peer, KNIT_OK, "");
        return;
    }
    size_t dialled = 0;
    knit_node_connect_record(r->node, ev->u.found.record, now, &dialled);
    knit_uv_driver_rearm(r->drv);
    if (!dialled) {
        rest(t, now, "the peer's record has no address we can dial");
        return;
    }
    t->state = T_DIALLING;
}

void knit_daemon_reach_on_event(struct knit_daemon_reach *r,
                                const struct knit_event *ev)
{
    if (!r || r->closing || !ev->peer)
        return;
    uint64_t now = ev->now ? ev->now : now_us(r);
    struct target *t = find_target(r, ev->peer);
    if (!t)
        return;
    switch (ev->type) {
    case KNIT_EVENT_PEER_UP:
        answer_peer(r, ev->peer, KNIT_OK, "");
        break;
    case KNIT_EVENT_PEER_DOWN:
        if (t->state == T_DIALLING) {
            char text[KNIT_DAEMON_REACH_REASON_MAX];
            snprintf(text, sizeof text, "the peer did not answer: %s",
                     ev->u.down.reason ? ev->u.down.reason
                                       : knit_strerror(ev->u.down.error));
            rest(t, now, text);
        }
        break;
    case KNIT_EVENT_FOUND:
        if (t->state == T_LOOKING && ev->u.found.handle == t->find_handle)
            on_found(r, t, ev, now);
        break;
    default:
        break;
    }
    arm(r);
}
