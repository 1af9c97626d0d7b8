/* The two-to-four-host world of the session scenarios; see sim_pair.h. */
#include "tests/support/sim_pair.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/handshake.h"
#include "transport/error.h"

static const char *const served[] = {SIM_PROTO, NULL};

/* A datagram on a link: the source address the network stamped, then the
 * payload. */
struct wire_header {
    struct knit_addr src;
};

uint64_t sim_now(const struct sim_world *w)
{
    return knit_sim_now(w->engine);
}

struct knit_node *sim_node(struct sim_world *w, int i)
{
    return w->host[i] ? knit_sim_host_node(w->host[i]) : NULL;
}

struct knit_addr sim_addr(uint8_t a, uint8_t b, uint8_t c, uint8_t d,
                          uint16_t port)
{
    const uint8_t ip[4] = {a, b, c, d};
    struct knit_addr out;
    knit_addr_set(&out, ip, 4, port);
    return out;
}

static int index_of_host(const struct sim_world *w,
                         const struct knit_sim_host *h)
{
    for (int i = 0; i < w->cfg.hosts; i++)
        if (w->host[i] == h)
            return i;
    return -1;
}

static int index_of_peer(const struct sim_world *w,
                         const struct knit_peer_id *peer)
{
    for (int i = 0; i < w->cfg.hosts; i++)
        if (knit_peer_id_equal(&w->id[i], peer))
            return i;
    return -1;
}

/* ---- the network ------------------------------------------------------------- */

static void deliver(void *ctx, const uint8_t *pkt, size_t len)
{
    struct sim_port *port = ctx;
    struct sim_world *w = port->w;
    struct sim_log *log = &w->log[port->to];
    struct wire_header h;
    if (len < sizeof h || !w->host[port->to])
        return;   /* the host is down: the datagram is lost */
    memcpy(&h, pkt, sizeof h);
    uint64_t now = sim_now(w);
    uint64_t since = log->last_rx_at > w->gap_since ? log->last_rx_at
                                                     : w->gap_since;
    if (now - since > log->max_rx_gap)
        log->max_rx_gap = now - since;
    log->last_rx_at = now;
    log->rx++;
    knit_sim_host_deliver(w->host[port->to], &h.src, pkt + sizeof h,
                          len - sizeof h);
}

static void host_send(void *ctx, struct knit_sim_host *from_host,
                      const struct knit_addr *src, const struct knit_addr *dst,
                      const uint8_t *pkt, size_t len)
{
    (void)src;
    struct sim_world *w = ctx;
    int from = index_of_host(w, from_host);
    if (from < 0)
        return;
    w->log[from].tx++;
    /* What the network stamps, not what the host believes it is: a NAT in
     * between may have rebound. */
    struct knit_addr stamped = w->src[from];
    if (getenv("SIM_TRACE") && len && pkt[0] != KNIT_PACKET_DATA)
        printf("  %10.6f %c sends type %u (%zu bytes)\n",
               (double)sim_now(w) / SIM_SECOND, 'A' + from, pkt[0], len);
    if (w->tap && !w->tap(w, from, &stamped, dst, pkt, len))
        return;
    int to = -1;
    for (int i = 0; i < w->cfg.hosts; i++)
        if (i != from && knit_addr_equal(&w->addr[i], dst))
            to = i;
    if (to < 0 || w->cut[from][to]) {
        w->blackholed++;
        return;
    }
    uint8_t buf[4096];
    struct wire_header h = {.src = stamped};
    if (len + sizeof h > sizeof buf)
        return;
    memcpy(buf, &h, sizeof h);
    memcpy(buf + sizeof h, pkt, len);
    knit_sim_link_send(w->link[from][to], buf, len + sizeof h);
}

/* ---- the transfer ------------------------------------------------------------- */

static void pump_sender(struct sim_world *w, struct sim_transfer *x)
{
    struct knit_node *node = sim_node(w, x->from);
    uint64_t now = sim_now(w);
    uint8_t chunk[8192];
    if (!node)
        return;
    while (x->open && x->sent < x->total) {
        size_t n = sizeof chunk;
        if (x->total - x->sent < n)
            n = (size_t)(x->total - x->sent);
        /* The bytes come from the PRNG's position, so a partial write is
         * resumed exactly where it stopped. */
        struct knit_rng saved = x->data;
        knit_rng_fill(&x->data, chunk, n);
        size_t accepted = 0;
        int err = knit_node_stream_write(node, &w->id[x->to], x->stream, chunk,
                                         n, now, &accepted);
        if (err)
            x->open_error = err;
        if (accepted < n) {
            x->data = saved;
            knit_rng_fill(&x->data, chunk, accepted);
        }
        crypto_hash_sha256_update(&x->sent_hash, chunk, accepted);
        x->sent += accepted;
        if (accepted < n)
            break;
    }
    if (x->open && x->sent == x->total && !x->finished &&
        knit_node_stream_finish(node, &w->id[x->to], x->stream, now) ==
            KNIT_OK)
        x->finished = true;
    knit_sim_host_rearm(w->host[x->from]);
}

static void open_transfer(struct sim_world *w, struct sim_transfer *x)
{
    struct knit_node *node = sim_node(w, x->from);
    if (!node || x->open)
        return;
    int err = knit_node_open_stream(node, &w->id[x->to], SIM_PROTO,
                                    sim_now(w), &x->stream);
    if (err) {
        x->open_error = err;
        return;
    }
    x->open = true;
    pump_sender(w, x);
}

static void drain_receiver(struct sim_world *w, struct sim_transfer *x)
{
    struct knit_node *node = sim_node(w, x->to);
    uint64_t now = sim_now(w);
    uint8_t buf[16384];
    for (;;) {
        size_t n;
        bool fin;
        if (knit_node_stream_read(node, &w->id[x->from], x->stream_at_to, buf,
                                  sizeof buf, &n, &fin, now) != KNIT_OK)
            break;
        crypto_hash_sha256_update(&x->recv_hash, buf, n);
        x->received += n;
        if (fin && !x->got_fin) {
            /* Done: later events (a restarted peer reuses stream ids) are
             * none of this transfer's business. */
            x->got_fin = true;
            x->active = false;
            x->done_at = now;
        }
        if (n == 0 || fin)
            break;
    }
    knit_sim_host_rearm(w->host[x->to]);
}

/* The session under a transfer went down, and its stream with it: the
 * transfer starts over, from its first byte, once a session is up again. */
static void transfer_restart(struct sim_world *w, struct sim_transfer *x,
                             int k)
{
    int from = x->from, to = x->to;
    uint64_t total = x->total;
    memset(x, 0, sizeof *x);
    x->active = true;
    x->from = from;
    x->to = to;
    x->total = total;
    x->restarts++;
    knit_rng_seed(&x->data, w->cfg.seed ^ (0xdada + (uint64_t)k));
    crypto_hash_sha256_init(&x->sent_hash);
    crypto_hash_sha256_init(&x->recv_hash);
}

static void transfer_on_event(struct sim_world *w, int host, int peer,
                              const struct knit_event *ev)
{
    for (int k = 0; k < SIM_MAX_TRANSFERS; k++) {
        struct sim_transfer *x = &w->xfer[k];
        if (!x->active)
            continue;
        if (host == x->from && peer == x->to) {
            if (ev->type == KNIT_EVENT_PEER_UP)
                open_transfer(w, x);
            else if (ev->type == KNIT_EVENT_STREAM_WRITABLE &&
                     ev->stream_id == x->stream)
                pump_sender(w, x);
            else if (ev->type == KNIT_EVENT_PEER_DOWN && !x->got_fin)
                transfer_restart(w, x, k);
        } else if (host == x->to && peer == x->from) {
            if (ev->type == KNIT_EVENT_STREAM_OPENED && !x->bound &&
                strcmp(ev->u.opened.protocol, SIM_PROTO) == 0) {
                x->bound = true;
                x->stream_at_to = ev->stream_id;
                drain_receiver(w, x);
            } else if (ev->type == KNIT_EVENT_STREAM_READABLE && x->bound &&
                       ev->stream_id == x->stream_at_to) {
                drain_receiver(w, x);
            } else if (ev->type == KNIT_EVENT_PEER_DOWN && !x->got_fin) {
                transfer_restart(w, x, k);
            }
        }
    }
}

static void log_event(struct sim_log *log, const struct knit_event *ev)
{
    switch (ev->type) {
    case KNIT_EVENT_PEER_UP:
        log->up++;
        log->last_up_at = ev->now;
        break;
    case KNIT_EVENT_PEER_DOWN:
        log->down++;
        log->last_down_at = ev->now;
        log->last_down_error = ev->u.down.error;
        snprintf(log->last_down_reason, sizeof log->last_down_reason, "%s",
                 ev->u.down.reason ? ev->u.down.reason : "");
        break;
    case KNIT_EVENT_PATH_CHANGED:
        log->path_changed++;
        log->last_path_changed_at = ev->now;
        break;
    case KNIT_EVENT_STREAM_OPENED:
        log->stream_opened++;
        break;
    case KNIT_EVENT_STREAM_RESET:
        log->stream_reset++;
        log->last_reset_stream = ev->stream_id;
        log->last_reset_code = ev->u.reset.code;
        break;
    case KNIT_EVENT_STREAM_CLOSED:
        log->stream_closed++;
        break;
    default:
        break;
    }
}

/* SIM_TRACE=1 in the environment prints every node event, for debugging
 * a scenario. */
static void trace(struct sim_world *w, int host, const struct knit_event *ev)
{
    printf("  %10.6f %c ev%d", (double)sim_now(w) / SIM_SECOND, 'A' + host,
           (int)ev->type);
    if (ev->type == KNIT_EVENT_LOG)
        printf(" %s", ev->u.log.message);
    else if (ev->type == KNIT_EVENT_PEER_DOWN)
        printf(" %s (%d)", ev->u.down.reason, ev->u.down.error);
    else
        printf(" peer %d stream %llu", index_of_peer(w, ev->peer),
               (unsigned long long)ev->stream_id);
    printf("\n");
}

static void on_event(void *ctx, struct knit_sim_host *h,
                     const struct knit_event *ev)
{
    struct sim_world *w = ctx;
    int host = index_of_host(w, h);
    if (host < 0)
        return;
    struct knit_event copy = *ev;
    /* Node events carry the node's time; the engine's is the same. */
    copy.now = sim_now(w);
    log_event(&w->log[host], &copy);
    if (getenv("SIM_TRACE"))
        trace(w, host, &copy);
    int peer = ev->type == KNIT_EVENT_LOG ? -1 : index_of_peer(w, ev->peer);
    if (peer >= 0)
        transfer_on_event(w, host, peer, &copy);
    if (w->on_event)
        w->on_event(w, host, &copy);
}

void sim_transfer_start(struct sim_world *w, int k, int from, int to,
                        uint64_t total)
{
    struct sim_transfer *x = &w->xfer[k];
    x->from = from;
    x->to = to;
    x->total = total;
    transfer_restart(w, x, k);
    x->restarts = 0;
    if (knit_node_peer_is_up(sim_node(w, from), &w->id[to]))
        open_transfer(w, x);
}

bool sim_transfer_done(const struct sim_world *w, int k)
{
    return w->xfer[k].got_fin;
}

bool sim_transfer_intact(struct sim_world *w, int k)
{
    struct sim_transfer *x = &w->xfer[k];
    if (!x->got_fin || x->sent != x->total || x->received != x->total)
        return false;
    uint8_t h1[32], h2[32];
    crypto_hash_sha256_final(&x->sent_hash, h1);
    crypto_hash_sha256_final(&x->recv_hash, h2);
    return memcmp(h1, h2, sizeof h1) == 0;
}

/* ---- the world ------------------------------------------------------------------ */

static int make_host(struct sim_world *w, int i)
{
    int err = knit_sim_host_new(&w->host[i], w->engine, &w->host_cfg[i]);
    if (err == KNIT_OK)
        w->id[i] = *knit_sim_host_id(w->host[i]);
    return err;
}

int sim_world_new(struct sim_world **out, const struct sim_world_config *cfg)
{
    if (cfg->hosts < 2 || cfg->hosts > SIM_MAX_HOSTS)
        return KNIT_E_INVAL;
    struct sim_world *w = calloc(1, sizeof *w);
    if (!w)
        return KNIT_E_NOMEM;
    w->cfg = *cfg;
    int err = knit_sim_engine_new(&w->engine);
    for (int i = 0; err == KNIT_OK && i < cfg->hosts; i++) {
        w->addr[i] = w->src[i] = sim_addr(198, 51, 100, (uint8_t)(i + 1),
                                          4001);
        w->port[i].w = w;
        w->port[i].to = i;
        w->host_cfg[i] = (struct knit_sim_host_config){
            .addr = w->addr[i], .seed = cfg->seed + (uint64_t)i,
            .protocols = served, .session = cfg->session,
            .handshake_load_threshold = cfg->handshake_load_threshold,
            .receive_budget = cfg->receive_budget,
            .send = host_send, .event = on_event, .ctx = w,
        };
        err = make_host(w, i);
    }
    for (int i = 0; err == KNIT_OK && i < cfg->hosts; i++)
        for (int j = 0; err == KNIT_OK && j < cfg->hosts; j++)
            if (i != j)
                err = knit_sim_link_new(&w->link[i][j], w->engine, &cfg->link,
                                        cfg->seed * 7 + (uint64_t)(i * 4 + j),
                                        deliver, &w->port[j]);
    if (err) {
        sim_world_free(w);
        return err;
    }
    *out = w;
    return KNIT_OK;
}

void sim_world_free(struct sim_world *w)
{
    if (!w)
        return;
    for (int i = 0; i < SIM_MAX_HOSTS; i++)
        for (int j = 0; j < SIM_MAX_HOSTS; j++)
            knit_sim_link_free(w->link[i][j]);
    for (int i = 0; i < SIM_MAX_HOSTS; i++)
        knit_sim_host_free(w->host[i]);
    knit_sim_engine_free(w->engine);
    free(w);
}

int sim_connect(struct sim_world *w, int i, int j)
{
    int err = knit_node_connect(sim_node(w, i), &w->id[j], &w->addr[j],
                                sim_now(w));
    knit_sim_host_rearm(w->host[i]);
    return err;
}

bool sim_run(struct sim_world *w, uint64_t until,
             bool (*done)(struct sim_world *w))
{
    for (;;) {
        if (done && done(w))
            return true;
        if (sim_now(w) >= until)
            return !done;
        if (knit_sim_events_run(w->engine) >= SIM_EVENT_BUDGET) {
            w->over_budget = true;
            return false;
        }
        if (knit_sim_next_time(w->engine) > until) {
            knit_sim_run_until(w->engine, until, UINT64_MAX);
            continue;
        }
        knit_sim_step(w->engine);
    }
}

void sim_remove_host(struct sim_world *w, int i)
{
    knit_sim_host_free(w->host[i]);
    w->host[i] = NULL;
}

int sim_restart_host(struct sim_world *w, int i)
{
    sim_remove_host(w, i);
    w->host_cfg[i].boot++;
    w->host_cfg[i].addr = w->addr[i];
    return make_host(w, i);
}

void sim_world_reset_gaps(struct sim_world *w)
{
    w->gap_since = sim_now(w);
    for (int i = 0; i < w->cfg.hosts; i++)
        w->log[i].max_rx_gap = 0;
}
