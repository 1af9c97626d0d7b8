/* The forwarder's tables: exposed services, local listeners, and the
 * bridged connections (node/forward_bridge.c), plus the node's events
 * handed to whichever bridge they concern. */
#include "forward.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forward_internal.h"
#include "transport/error.h"

static uint64_t now_of(const struct knit_forwarder *f)
{
    return knit_uv_driver_now(f->drv);
}

const struct expose *fwd_find_expose(const struct knit_forwarder *f,
                                     const char *service)
{
    for (size_t i = 0; i < KNIT_FORWARD_MAX_EXPOSES; i++)
        if (f->exposes[i].used && strcmp(f->exposes[i].service, service) == 0)
            return &f->exposes[i];
    return NULL;
}

bool fwd_expose_allows(const struct expose *e, const struct knit_peer_id *peer)
{
    if (e->allow_count == 0)
        return true;
    for (size_t i = 0; i < e->allow_count; i++)
        if (knit_peer_id_equal(&e->allow[i], peer))
            return true;
    return false;
}

/* ---- handshake deadlines ------------------------------------------------------ */

static void on_tick(uv_timer_t *timer)
{
    struct knit_forwarder *f = timer->data;
    uint64_t now = now_of(f);
    bool any = false;
    for (size_t i = 0; i < KNIT_FORWARD_MAX_CONNECTIONS; i++) {
        struct bridge *b = f->bridges[i];
        if (!b)
            continue;
        fwd_bridge_check_deadline(b, now);
        if (f->bridges[i] == b && b->deadline && b->phase != B_BRIDGING)
            any = true;
    }
    if (!any) {
        uv_timer_stop(&f->timer);
        f->timer_running = false;
    }
}

void fwd_need_timer(struct knit_forwarder *f)
{
    if (f->timer_running || f->closing)
        return;
    f->timer_running = true;
    uv_timer_start(&f->timer, on_tick, 1000, 1000);
}

/* ---- life ----------------------------------------------------------------------- */

int knit_forwarder_new(struct knit_forwarder **out, uv_loop_t *loop,
                       struct knit_node *node, struct knit_uv_driver *drv,
                       struct knit_daemon_reach *reach)
{
    if (!out || !loop || !node || !drv || !reach)
        return KNIT_E_INVAL;
    struct knit_forwarder *f = calloc(1, sizeof *f);
    if (!f)
        return KNIT_E_NOMEM;
    f->loop = loop;
    f->node = node;
    f->drv = drv;
    f->reach = reach;
    f->log_level = KNIT_LOG_INFO;
    uv_timer_init(loop, &f->timer);
    f->timer.data = f;
    *out = f;
    return KNIT_OK;
}

void knit_forwarder_set_log_level(struct knit_forwarder *f,
                                  enum knit_log_level level)
{
    f->log_level = level;
}

void fwd_warn(const struct knit_forwarder *f, const char *fmt, ...)
{
    if (f->log_level < KNIT_LOG_WARN)
        return;
    va_list ap;
    va_start(ap, fmt);
    fputs("knit: [warn] ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
}

static void on_listener_closed(uv_handle_t *handle)
{
    free(handle->data);
}

static void release_listener(struct listener *l)
{
    if (l->h) {
        l->h->l = NULL;
        uv_close((uv_handle_t *)&l->h->tcp, on_listener_closed);
    }
    memset(l, 0, sizeof *l);
}

static void on_forwarder_closed(uv_handle_t *handle)
{
    free(handle->data);
}

void knit_forwarder_close(struct knit_forwarder *f)
{
    if (!f || f->closing)
        return;
    for (size_t i = 0; i < KNIT_FORWARD_MAX_CONNECTIONS; i++)
        if (f->bridges[i])
            fwd_bridge_close(f->bridges[i], true);
    for (size_t i = 0; i < KNIT_FORWARD_MAX_LISTENERS; i++)
        if (f->listeners[i].used)
            release_listener(&f->listeners[i]);
    f->closing = true;
    /* Bridges and listener handles free themselves as they close and
     * never look at the forwarder then. */
    uv_close((uv_handle_t *)&f->timer, on_forwarder_closed);
}

/* ---- exposes ---------------------------------------------------------------------- */

static bool valid_name(const char *service)
{
    return service &&
           knit_service_name_valid(service,
                                   strnlen(service,
                                           KNIT_SERVICE_NAME_MAX + 1));
}

int knit_forwarder_expose(struct knit_forwarder *f, const char *service,
                          uint16_t port, const struct knit_peer_id *allow,
                          size_t allow_count, const void *owner)
{
    if (!f || f->closing || !valid_name(service) || port == 0 ||
        allow_count > KNIT_FORWARD_MAX_ALLOW || (allow_count && !allow))
        return KNIT_E_INVAL;
    if (fwd_find_expose(f, service))
        return KNIT_E_EXISTS;
    for (size_t i = 0; i < KNIT_FORWARD_MAX_EXPOSES; i++) {
        struct expose *e = &f->exposes[i];
        if (e->used)
            continue;
        e->used = true;
        snprintf(e->service, sizeof e->service, "%s", service);
        e->port = port;
        e->owner = owner;
        e->allow_count = allow_count;
        if (allow_count)
            memcpy(e->allow, allow, allow_count * sizeof *allow);
        return KNIT_OK;
    }
    return KNIT_E_LIMIT;
}

int knit_forwarder_unexpose(struct knit_forwarder *f, const char *service)
{
    if (!f || !service)
        return KNIT_E_INVAL;
    struct expose *e = (struct expose *)fwd_find_expose(f, service);
    if (!e)
        return KNIT_E_NOT_FOUND;
    memset(e, 0, sizeof *e);
    return KNIT_OK;
}

/* ---- listeners -------------------------------------------------------------------- */

static struct listener *find_listener(struct knit_forwarder *f, uint16_t port)
{
    for (size_t i = 0; i < KNIT_FORWARD_MAX_LISTENERS; i++)
        if (f->listeners[i].used && f->listeners[i].port == port)
            return &f->listeners[i];
    return NULL;
}

static void on_connection(uv_stream_t *server, int status)
{
    struct listen_handle *h = server->data;
    if (status < 0 || !h->l || h->f->closing)
        return;
    fwd_bridge_accept(h->f, h->l);
}

static int map_listen_error(int err)
{
    return err == UV_EADDRINUSE || err == UV_EACCES ? KNIT_E_ADDR_IN_USE
                                                    : KNIT_E_IO;
}

static int start_listening(struct listener *l)
{
    int err = uv_listen((uv_stream_t *)&l->h->tcp, FWD_LISTEN_BACKLOG,
                        on_connection);
    if (err)
        return map_listen_error(err);
    l->listening = true;
    return KNIT_OK;
}

/* Binds 127.0.0.1:*port. libuv reports a port in use at listen time, not
 * at bind; a socket that did not bind has port 0, so the bound port tells
 * whether the bind took. */
static int bind_loopback(struct listen_handle *h, uint16_t *port)
{
    struct sockaddr_in sa;
    uv_ip4_addr("127.0.0.1", *port, &sa);
    int err = uv_tcp_bind(&h->tcp, (const struct sockaddr *)&sa, 0);
    if (err)
        return map_listen_error(err);
    struct sockaddr_storage got;
    int len = sizeof got;
    err = uv_tcp_getsockname(&h->tcp, (struct sockaddr *)&got, &len);
    if (err || got.ss_family != AF_INET)
        return KNIT_E_IO;
    uint16_t bound = ntohs(((struct sockaddr_in *)&got)->sin_port);
    if (bound == 0 || (*port && bound != *port))
        return KNIT_E_ADDR_IN_USE;
    *port = bound;
    return KNIT_OK;
}

int knit_forwarder_forward(struct knit_forwarder *f, uint16_t *port,
                           const struct knit_peer_id *peer,
                           const char *service, bool listen_now,
                           const void *owner)
{
    if (!f || f->closing || !port || !peer || !valid_name(service) ||
        knit_peer_id_equal(peer, knit_node_peer_id(f->node)))
        return KNIT_E_INVAL;
    if (*port && find_listener(f, *port))
        return KNIT_E_ADDR_IN_USE;
    struct listener *l = NULL;
    for (size_t i = 0; i < KNIT_FORWARD_MAX_LISTENERS && !l; i++)
        if (!f->listeners[i].used)
            l = &f->listeners[i];
    if (!l)
        return KNIT_E_LIMIT;
    struct listen_handle *h = calloc(1, sizeof *h);
    if (!h)
        return KNIT_E_NOMEM;
    if (uv_tcp_init(f->loop, &h->tcp) != 0) {
        free(h);
        return KNIT_E_IO;
    }
    h->tcp.data = h;
    h->f = f;
    l->used = true;
    l->h = h;
    h->l = l;
    uint16_t want = *port;
    int err = bind_loopback(h, &want);
    if (err == KNIT_OK && listen_now) {
        l->port = want;   /* for start_listening's errors */
        err = start_listening(l);
    }
    if (err) {
        release_listener(l);
        return err;
    }
    l->port = want;
    l->peer = *peer;
    l->owner = owner;
    snprintf(l->service, sizeof l->service, "%s", service);
    *port = want;
    return KNIT_OK;
}

int knit_forwarder_start_listening(struct knit_forwarder *f, uint16_t port)
{
    if (!f || f->closing)
        return KNIT_E_INVAL;
    struct listener *l = find_listener(f, port);
    if (!l)
        return KNIT_E_NOT_FOUND;
    return l->listening ? KNIT_OK : start_listening(l);
}

int knit_forwarder_unforward(struct knit_forwarder *f, uint16_t port)
{
    if (!f)
        return KNIT_E_INVAL;
    struct listener *l = find_listener(f, port);
    if (!l)
        return KNIT_E_NOT_FOUND;
    release_listener(l);
    return KNIT_OK;
}

void knit_forwarder_drop_owner(struct knit_forwarder *f, const void *owner)
{
    /* NULL owns what the CLI made: that stays until removed by name. */
    if (!f || !owner)
        return;
    for (size_t i = 0; i < KNIT_FORWARD_MAX_EXPOSES; i++)
        if (f->exposes[i].used && f->exposes[i].owner == owner)
            memset(&f->exposes[i], 0, sizeof f->exposes[i]);
    for (size_t i = 0; i < KNIT_FORWARD_MAX_LISTENERS; i++)
        if (f->listeners[i].used && f->listeners[i].owner == owner)
            release_listener(&f->listeners[i]);
    for (size_t i = 0; i < KNIT_FORWARD_MAX_CONNECTIONS; i++)
        if (f->bridges[i] && f->bridges[i]->owner == owner)
            fwd_bridge_close(f->bridges[i], true);
}

/* ---- listing ------------------------------------------------------------------------ */

static uint32_t count_bridges(const struct knit_forwarder *f, bool outgoing,
                              uint16_t port, const char *service)
{
    uint32_t n = 0;
    for (size_t i = 0; i < KNIT_FORWARD_MAX_CONNECTIONS; i++) {
        const struct bridge *b = f->bridges[i];
        if (!b || b->outgoing != outgoing)
            continue;
        if (outgoing ? b->listen_port == port
                     : (b->phase == B_CONNECTING || b->phase == B_BRIDGING) &&
                           strcmp(b->service, service) == 0)
            n++;
    }
    return n;
}

size_t knit_forwarder_list_exposes(const struct knit_forwarder *f,
                                   struct knit_forward_expose_info *out,
                                   size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; f && i < KNIT_FORWARD_MAX_EXPOSES && n < cap; i++) {
        const struct expose *e = &f->exposes[i];
        if (!e->used)
            continue;
        struct knit_forward_expose_info *o = &out[n++];
        memset(o, 0, sizeof *o);
        snprintf(o->service, sizeof o->service, "%s", e->service);
        o->port = e->port;
        o->allow_count = e->allow_count;
        o->allow = e->allow;
        o->connections = count_bridges(f, false, 0, e->service);
    }
    return n;
}

size_t knit_forwarder_list_forwards(const struct knit_forwarder *f,
                                    struct knit_forward_listener_info *out,
                                    size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; f && i < KNIT_FORWARD_MAX_LISTENERS && n < cap; i++) {
        const struct listener *l = &f->listeners[i];
        if (!l->used)
            continue;
        struct knit_forward_listener_info *o = &out[n++];
        memset(o, 0, sizeof *o);
        o->port = l->port;
        o->peer = l->peer;
        snprintf(o->service, sizeof o->service, "%s", l->service);
        o->listening = l->listening;
        o->connections = count_bridges(f, true, l->port, NULL);
    }
    return n;
}

/* ---- the node's events ---------------------------------------------------------- */

void knit_forwarder_on_event(struct knit_forwarder *f,
                             const struct knit_event *ev)
{
    if (!f || f->closing || !ev->peer)
        return;
    switch (ev->type) {
    case KNIT_EVENT_STREAM_OPENED:
        if (strcmp(ev->u.opened.protocol, KNIT_FORWARD_PROTOCOL) == 0)
            fwd_bridge_incoming(f, ev->peer, ev->stream_id);
        return;
    case KNIT_EVENT_STREAM_READABLE:
    case KNIT_EVENT_STREAM_WRITABLE:
    case KNIT_EVENT_STREAM_RESET:
    case KNIT_EVENT_STREAM_CLOSED:
        for (size_t i = 0; i < KNIT_FORWARD_MAX_CONNECTIONS; i++) {
            struct bridge *b = f->bridges[i];
            if (b && b->stream_live && b->stream == ev->stream_id &&
                knit_peer_id_equal(&b->peer, ev->peer)) {
                fwd_bridge_on_event(b, ev);
                return;
            }
        }
        return;
    case KNIT_EVENT_PEER_DOWN:
        /* Every connection with that peer, except those still waiting for
         * the session (the reach retries on their behalf). */
        for (size_t i = 0; i < KNIT_FORWARD_MAX_CONNECTIONS; i++) {
            struct bridge *b = f->bridges[i];
            if (b && b->phase != B_REACHING &&
                knit_peer_id_equal(&b->peer, ev->peer))
                fwd_bridge_on_event(b, ev);
        }
        return;
    default:
        return;
    }
}
