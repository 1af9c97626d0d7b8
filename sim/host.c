#include "sim/host.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "transport/error.h"

/* Virtual wall clock: the simulation starts on 2026-01-01. */
#define SIM_EPOCH_US 1767225600000000ull

/* Mixed into the seed for the port generator's own stream. */
#define PORT_STREAM 0x706f7274736f636bull

/* The socket table's first size; it doubles from there up to
 * KNIT_SIM_HOST_MAX_SOCKETS. Most hosts open none or a couple. */
#define FIRST_SOCKET_TABLE 4

struct host_socket {
    bool open;
    struct knit_addr addr;   /* the host's IP, the socket's port */
};

struct knit_sim_host {
    struct knit_sim_engine *engine;
    struct knit_sim_host_config cfg;
    struct knit_rng rng;
    struct knit_rng port_rng;   /* ports for port-0 sockets */
    struct knit_node *node;
    uint64_t timer;          /* engine handle, 0 = none */
    uint64_t timer_at;
    /* Handle i+1 at sockets[i]; NULL (no room) until the first extra
     * socket opens. */
    struct host_socket *sockets;
    int socket_room;         /* entries allocated in sockets */
    bool freeing;            /* the node's closes no longer unbind */
    knit_sim_host_tap_fn tap;
    void *tap_ctx;
};

/* ---- sockets -------------------------------------------------------------------- */

/* Whether sock is an open extra socket (its slot is sockets[sock - 1]). */
static bool extra_open(const struct knit_sim_host *h, int sock)
{
    return sock >= 1 && sock <= h->socket_room && h->sockets[sock - 1].open;
}

static bool port_used_here(const struct knit_sim_host *h, uint16_t port)
{
    if (port == h->cfg.addr.port)
        return true;
    for (int i = 0; i < h->socket_room; i++)
        if (h->sockets[i].open && h->sockets[i].addr.port == port)
            return true;
    return false;
}

/* Moves the table to room entries (at least every open handle's), the
 * new ones closed. Handles stay what they were: they index the table. */
static int resize_sockets(struct knit_sim_host *h, int room)
{
    struct host_socket *t = realloc(h->sockets, (size_t)room * sizeof *t);
    if (!t)
        return KNIT_E_NOMEM;
    if (room > h->socket_room)
        memset(t + h->socket_room, 0,
               (size_t)(room - h->socket_room) * sizeof *t);
    h->sockets = t;
    h->socket_room = room;
    return KNIT_OK;
}

/* The lowest free handle, growing the table by doubling when it is full;
 * KNIT_E_LIMIT at KNIT_SIM_HOST_MAX_SOCKETS open. */
static int free_handle(struct knit_sim_host *h)
{
    for (int i = 0; i < h->socket_room; i++)
        if (!h->sockets[i].open)
            return i + 1;
    if (h->socket_room == KNIT_SIM_HOST_MAX_SOCKETS)
        return KNIT_E_LIMIT;
    int room = h->socket_room ? h->socket_room * 2 : FIRST_SOCKET_TABLE;
    if (room > KNIT_SIM_HOST_MAX_SOCKETS)
        room = KNIT_SIM_HOST_MAX_SOCKETS;
    int sock = h->socket_room + 1;
    int err = resize_sockets(h, room);
    return err ? err : sock;
}

/* Once the open handles fit in a quarter of the table, halves it as far
 * as they allow (never below its first size): a hole punch's hundreds of
 * sockets cost only while they are open. The quarter keeps a host that
 * opens and closes around a boundary from resizing every time. */
static void shrink_sockets(struct knit_sim_host *h)
{
    int top = h->socket_room;
    while (top > 0 && !h->sockets[top - 1].open)
        top--;
    int room = FIRST_SOCKET_TABLE;
    while (room < top)
        room *= 2;
    if (room * 4 <= h->socket_room)
        (void)resize_sockets(h, room);   /* on failure the table stays */
}

/* Opens socket sock on port if the host and the network both let it. */
static int claim_port(struct knit_sim_host *h, int sock, uint16_t port)
{
    if (port_used_here(h, port))
        return KNIT_E_ADDR_IN_USE;
    struct knit_addr addr = h->cfg.addr;
    addr.port = port;
    if (h->cfg.bind) {
        int err = h->cfg.bind(h->cfg.ctx, h, sock, &addr);
        if (err)
            return err;
    }
    h->sockets[sock - 1] = (struct host_socket){true, addr};
    return KNIT_OK;
}

/* io.open_socket: the new handle, or a negative error. */
static int host_open(struct knit_sim_host *h, uint8_t family, uint16_t port)
{
    if (family != KNIT_AF_IP4 && family != KNIT_AF_IP6)
        return KNIT_E_INVAL;
    /* The host has one address; a real one would have no route either. */
    if (family != h->cfg.addr.family)
        return KNIT_E_UNSUPPORTED;
    int sock = free_handle(h);
    if (sock < 0)
        return sock;
    if (port) {
        int err = claim_port(h, sock, port);
        return err ? err : sock;
    }
    /* One draw, then the next ports up: the same seed and the same ports
     * in use give the same port, and a free one is always found. */
    uint32_t span = KNIT_SIM_EPHEMERAL_MAX - KNIT_SIM_EPHEMERAL_MIN + 1;
    uint32_t start = (uint32_t)knit_rng_below(&h->port_rng, span);
    for (uint32_t i = 0; i < span; i++) {
        uint16_t p = (uint16_t)(KNIT_SIM_EPHEMERAL_MIN + (start + i) % span);
        int err = claim_port(h, sock, p);
        if (err != KNIT_E_ADDR_IN_USE)
            return err ? err : sock;
    }
    return KNIT_E_ADDR_IN_USE;
}

static void host_close(struct knit_sim_host *h, int sock)
{
    if (!extra_open(h, sock))
        return;
    struct host_socket *s = &h->sockets[sock - 1];
    s->open = false;
    if (h->cfg.unbind && !h->freeing)
        h->cfg.unbind(h->cfg.ctx, h, sock, &s->addr);
    if (!h->freeing)
        shrink_sockets(h);
}

/* ---- the node's I/O --------------------------------------------------------------- */

static int io_send(void *ctx, int sock, const struct knit_addr *to,
                   const uint8_t *pkt, size_t len)
{
    struct knit_sim_host *h = ctx;
    const struct knit_addr *src = &h->cfg.addr;
    if (sock != 0) {
        if (!extra_open(h, sock))
            return KNIT_E_INVAL;   /* closed: as the real driver says */
        src = &h->sockets[sock - 1].addr;
    }
    h->cfg.send(h->cfg.ctx, h, src, to, pkt, len);
    return KNIT_OK;
}

static int io_open_socket(void *ctx, uint8_t family, uint16_t port)
{
    return host_open(ctx, family, port);
}

static void io_close_socket(void *ctx, int sock)
{
    host_close(ctx, sock);
}

static void io_random(void *ctx, uint8_t *buf, size_t len)
{
    struct knit_sim_host *h = ctx;
    knit_rng_fill(&h->rng, buf, len);
}

static void io_event(void *ctx, const struct knit_event *ev)
{
    struct knit_sim_host *h = ctx;
    if (h->cfg.event)
        h->cfg.event(h->cfg.ctx, h, ev);
}

static void on_timer(void *ctx, uint64_t arg)
{
    (void)arg;
    struct knit_sim_host *h = ctx;
    h->timer = 0;
    knit_node_timeout(h->node, knit_sim_now(h->engine));
    knit_sim_host_rearm(h);
}

void knit_sim_host_rearm(struct knit_sim_host *h)
{
    uint64_t at = knit_node_next_deadline(h->node);
    if (h->timer && at == h->timer_at)
        return;
    if (h->timer)
        knit_sim_cancel(h->engine, h->timer);
    h->timer = 0;
    if (at == KNIT_NO_DEADLINE)
        return;
    h->timer_at = at;
    h->timer = knit_sim_schedule(h->engine, at, on_timer, h, 0);
}

int knit_sim_host_new(struct knit_sim_host **out, struct knit_sim_engine *e,
                      const struct knit_sim_host_config *cfg)
{
    if (!cfg->send)
        return KNIT_E_INVAL;
    struct knit_sim_host *h = calloc(1, sizeof *h);
    if (!h)
        return KNIT_E_NOMEM;
    h->engine = e;
    h->cfg = *cfg;
    knit_rng_seed(&h->rng, cfg->seed);
    /* Seeded apart from rng, which must draw exactly what it always did. */
    knit_rng_seed(&h->port_rng, cfg->seed ^ PORT_STREAM ^
                                    (cfg->boot * 0x9e3779b97f4a7c15ull));
    uint8_t seed[KNIT_SEED_LEN];
    knit_rng_fill(&h->rng, seed, sizeof seed);
    struct knit_identity ident;
    int err = knit_identity_from_seed(&ident, seed);
    if (err) {
        free(h);
        return err;
    }
    /* Same identity, fresh randomness: a restarted node draws new session
     * instances and indices, as a real one would, so its peers can tell a
     * restart from a rekey. */
    if (cfg->boot)
        knit_rng_seed(&h->rng, knit_rng_next(&h->rng) ^
                                   (cfg->boot * 0x9e3779b97f4a7c15ull));
    struct knit_io io;
    knit_sim_host_io(h, &io);
    uint64_t now = knit_sim_now(e);
    struct knit_node_config ncfg = {
        .identity = &ident,
        .unix_time_us = SIM_EPOCH_US + now,
        .protocols = cfg->protocols,
        .session = cfg->session,
        .handshake_load_threshold = cfg->handshake_load_threshold,
        .receive_budget = cfg->receive_budget,
        .handshake_ratelimit_slots = cfg->handshake_ratelimit_slots,
        .dht_mode = cfg->dht_mode,
        .dht = cfg->dht,
        .key_cache = cfg->key_cache,
        .record_cache = cfg->record_cache,
    };
    err = knit_node_new(&h->node, &ncfg, &io, now);
    knit_identity_wipe(&ident);
    if (err == KNIT_OK)
        err = knit_node_add_socket(h->node, 0, &cfg->addr);
    if (err == KNIT_OK && cfg->advertise)
        err = knit_node_set_addresses(h->node, &cfg->addr, 1, now);
    if (err) {
        knit_node_free(h->node);
        free(h);
        return err;
    }
    *out = h;
    return KNIT_OK;
}

void knit_sim_host_free(struct knit_sim_host *h)
{
    if (!h)
        return;
    if (h->timer)
        knit_sim_cancel(h->engine, h->timer);
    h->freeing = true;
    knit_node_free(h->node);
    free(h->sockets);
    free(h);
}

struct knit_node *knit_sim_host_node(struct knit_sim_host *h)
{
    return h->node;
}

const struct knit_addr *knit_sim_host_addr(const struct knit_sim_host *h)
{
    return &h->cfg.addr;
}

const struct knit_peer_id *knit_sim_host_id(const struct knit_sim_host *h)
{
    return knit_node_peer_id(h->node);
}

void knit_sim_host_deliver(struct knit_sim_host *h,
                           const struct knit_addr *src, const uint8_t *pkt,
                           size_t len)
{
    knit_sim_host_deliver_on(h, 0, src, pkt, len);
}

void knit_sim_host_deliver_on(struct knit_sim_host *h, int sock,
                              const struct knit_addr *src, const uint8_t *pkt,
                              size_t len)
{
    if (sock != 0 && !extra_open(h, sock))
        return;
    if (h->tap)
        h->tap(h->tap_ctx, h, sock, src, pkt, len);
    knit_node_receive(h->node, knit_sim_now(h->engine), sock, src, pkt, len);
    knit_sim_host_rearm(h);
}

int knit_sim_host_open_socket(struct knit_sim_host *h, uint16_t port,
                              int *sock)
{
    if (!h || !sock)
        return KNIT_E_INVAL;
    int s = host_open(h, h->cfg.addr.family, port);
    if (s < 0)
        return s;
    int err = knit_node_add_socket(h->node, s, &h->sockets[s - 1].addr);
    if (err) {
        host_close(h, s);
        return err;
    }
    *sock = s;
    return KNIT_OK;
}

void knit_sim_host_close_socket(struct knit_sim_host *h, int sock)
{
    if (h)
        host_close(h, sock);
}

int knit_sim_host_send(struct knit_sim_host *h, int sock,
                       const struct knit_addr *to, const uint8_t *pkt,
                       size_t len)
{
    if (!h || !to || (!pkt && len > 0))
        return KNIT_E_INVAL;
    return io_send(h, sock, to, pkt, len);
}

int knit_sim_host_socket_addr(const struct knit_sim_host *h, int sock,
                              struct knit_addr *out)
{
    if (!h || !out)
        return KNIT_E_INVAL;
    if (sock == 0) {
        *out = h->cfg.addr;
        return KNIT_OK;
    }
    if (!extra_open(h, sock))
        return KNIT_E_NOT_FOUND;
    *out = h->sockets[sock - 1].addr;
    return KNIT_OK;
}

int knit_sim_host_next_socket(const struct knit_sim_host *h, int after)
{
    for (int sock = after < 0 ? 1 : after + 1; sock <= h->socket_room; sock++)
        if (h->sockets[sock - 1].open)
            return sock;
    return 0;
}

void knit_sim_host_io(struct knit_sim_host *h, struct knit_io *out)
{
    *out = (struct knit_io){
        .ctx = h, .send = io_send, .random = io_random, .event = io_event,
        .open_socket = io_open_socket, .close_socket = io_close_socket,
    };
}

void knit_sim_host_set_tap(struct knit_sim_host *h, knit_sim_host_tap_fn tap,
                           void *ctx)
{
    h->tap = tap;
    h->tap_ctx = ctx;
}
