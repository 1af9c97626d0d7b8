/* The scenario's workload: lookups of random peers and connection attempts
 * between random pairs, each a Poisson process at its network-wide rate,
 * from the workload's start to its end.
 *
 * A lookup: a random online node finds a random other online node's record
 * by peer ID (knit_node_find); it succeeds when the record found is the
 * target's.
 *
 * A connection attempt: the same lookup, then a session by the record
 * (knit_node_connect_record: every direct address and up to two relays at
 * once), then a stream of SIM_ECHO_PROTOCOL that sends one byte, which the
 * target echoes. Time to first byte runs from the start of the lookup to
 * the echo; time to direct path to the session coming up over a direct
 * path, or to hole punching moving it there: an attempt whose echo came
 * through a relay keeps its session up to SIM_DIRECT_WAIT_US for a punch
 * and is "direct" if one succeeds, else "relayed". The dialer disconnects
 * once it has its byte and its final path (an application done with a
 * peer). An attempt fails
 * when the lookup fails, or when there is no echo within
 * SIM_CONNECT_TIMEOUT_US of the start, or the target leaves first.
 *
 * Ops under way live in one pool, linked per dialer; a node that leaves
 * abandons its own (they are counted, not sampled: a lookup cut short by
 * its own node's departure says nothing about the network). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "node/event.h"
#include "node/node.h"
#include "proto/multiaddr.h"
#include "proto/record.h"
#include "sim/run_internal.h"
#include "transport/error.h"

#define MAX_OPS (1u << 24)

int sim_ops_init(struct run *r, uint32_t cap)
{
    r->op = calloc(cap, sizeof *r->op);
    if (!r->op)
        return KNIT_E_NOMEM;
    r->op_cap = cap;
    for (uint32_t i = 0; i < cap; i++)
        r->op[i].next = i + 1 < cap ? i + 1 : SIM_NO_OP;
    r->op_free = cap;          /* ops free (all of them) */
    r->op_free_head = 0;
    return KNIT_OK;
}

static uint32_t op_alloc(struct run *r)
{
    if (r->op_free_head == SIM_NO_OP) {
        if (r->op_cap >= MAX_OPS)
            return SIM_NO_OP;
        uint32_t cap = r->op_cap * 2;
        struct sim_op *grown = realloc(r->op, (size_t)cap * sizeof *grown);
        if (!grown)
            return SIM_NO_OP;
        memset(grown + r->op_cap, 0, (size_t)(cap - r->op_cap) * sizeof *grown);
        for (uint32_t i = r->op_cap; i < cap; i++)
            grown[i].next = i + 1 < cap ? i + 1 : SIM_NO_OP;
        r->op = grown;
        r->op_free_head = r->op_cap;
        r->op_free += cap - r->op_cap;
        r->op_cap = cap;
    }
    uint32_t i = r->op_free_head;
    r->op_free_head = r->op[i].next;
    r->op_free--;
    return i;
}

static void op_link(struct run *r, uint32_t i)
{
    struct sim_node *d = &r->nodes[r->op[i].dialer];
    r->op[i].next = d->ops;
    d->ops = i;
}

/* Unlinks op i from its dialer's list, cancels its timer and frees it. */
static void op_release(struct run *r, uint32_t i)
{
    struct sim_op *op = &r->op[i];
    struct sim_node *d = &r->nodes[op->dialer];
    for (uint32_t *p = &d->ops; *p != SIM_NO_OP; p = &r->op[*p].next) {
        if (*p == i) {
            *p = op->next;
            break;
        }
    }
    if (op->timer)
        knit_sim_cancel(r->engine, op->timer);
    memset(op, 0, sizeof *op);
    op->next = r->op_free_head;
    r->op_free_head = i;
    r->op_free++;
}

static void record_connect(struct run *r, uint32_t i, uint8_t outcome,
                           uint8_t fail, uint64_t first_byte_us)
{
    struct sim_op *op = &r->op[i];
    struct knit_sim_connect_sample s = {
        .at_us = op->started,
        .dialer_class = r->nodes[op->dialer].class_index,
        .target_class = r->nodes[op->target].class_index,
        .outcome = outcome,
        .fail = fail,
        .first_byte_us = first_byte_us,
        .direct_us = op->state >= SIM_OP_ECHOING ? op->direct_us
                                                 : KNIT_SIM_NO_TIME,
    };
    int err = knit_sim_metrics_connect(r->metrics, &s);
    if (err)
        sim_fail(r, err);
}

/* Ends a connection attempt that did not get its echo. */
static void connect_failed(struct run *r, uint32_t i, uint8_t fail)
{
    struct sim_op *op = &r->op[i];
    struct sim_node *d = &r->nodes[op->dialer];
    sim_trace_end(r, i, fail == KNIT_SIM_FAIL_NO_SESSION ? "no_session"
                        : fail == KNIT_SIM_FAIL_NO_DATA  ? "no_data"
                                                         : "failed");
    record_connect(r, i, KNIT_SIM_OUTCOME_FAILED, fail, KNIT_SIM_NO_TIME);
    uint64_t now = knit_sim_now(r->engine);
    if (d->host && op->state >= SIM_OP_DIALING) {
        knit_node_disconnect(knit_sim_host_node(d->host),
                             &r->nodes[op->target].id, now);
        knit_sim_host_rearm(d->host);
    }
    op_release(r, i);
}

static void on_connect_timeout(void *ctx, uint64_t arg)
{
    struct run *r = ctx;
    uint32_t i = (uint32_t)arg;
    r->op[i].timer = 0;
    connect_failed(r, i, r->op[i].state == SIM_OP_ECHOING
                             ? KNIT_SIM_FAIL_NO_DATA
                             : KNIT_SIM_FAIL_NO_SESSION);
}

/* No punch succeeded in time: the attempt ends relayed. */
static void on_upgrade_timeout(void *ctx, uint64_t arg)
{
    struct run *r = ctx;
    uint32_t i = (uint32_t)arg;
    struct sim_op *op = &r->op[i];
    struct sim_node *d = &r->nodes[op->dialer];
    op->timer = 0;
    sim_trace_end(r, i, "relayed");
    record_connect(r, i, KNIT_SIM_OUTCOME_RELAYED, KNIT_SIM_FAIL_NONE,
                   op->first_byte_us);
    if (d->host) {
        knit_node_disconnect(knit_sim_host_node(d->host),
                             &r->nodes[op->target].id,
                             knit_sim_now(r->engine));
        knit_sim_host_rearm(d->host);
    }
    op_release(r, i);
}

/* ---- starting ops ------------------------------------------------------ */

static bool pick_pair(struct run *r, uint32_t *dialer, uint32_t *target)
{
    if (r->online_count < 2)
        return false;
    uint32_t a = (uint32_t)knit_rng_below(&r->workload_rng, r->online_count);
    uint32_t b = (uint32_t)knit_rng_below(&r->workload_rng,
                                          r->online_count - 1);
    if (b >= a)
        b++;
    *dialer = r->online[a];
    *target = r->online[b];
    return true;
}

static void start_op(struct run *r, enum sim_op_kind kind)
{
    uint32_t dialer, target;
    if (!pick_pair(r, &dialer, &target))
        return;
    uint32_t i = op_alloc(r);
    if (i == SIM_NO_OP) {
        sim_fail(r, KNIT_E_NOMEM);
        return;
    }
    struct sim_op *op = &r->op[i];
    uint64_t now = knit_sim_now(r->engine);
    *op = (struct sim_op){.kind = (uint8_t)kind, .state = SIM_OP_FINDING,
                          .dialer = dialer, .target = target,
                          .started = now, .next = SIM_NO_OP};
    op_link(r, i);
    struct sim_node *d = &r->nodes[dialer];
    int err = knit_node_find(knit_sim_host_node(d->host), &r->nodes[target].id,
                             now, &op->find_handle);
    knit_sim_host_rearm(d->host);
    if (err == KNIT_OK)
        return;
    /* No DHT server known, or too many lookups at once: a failed lookup. */
    if (kind == SIM_OP_LOOKUP) {
        struct knit_sim_lookup_sample s = {
            .at_us = now, .latency_us = 0, .ok = false,
            .target_class = r->nodes[target].class_index,
        };
        if (knit_sim_metrics_lookup(r->metrics, &s))
            sim_fail(r, KNIT_E_NOMEM);
        op_release(r, i);
    } else {
        connect_failed(r, i, KNIT_SIM_FAIL_NOT_FOUND);
    }
}

static uint64_t next_arrival(struct run *r, double rate)
{
    double u = knit_rng_unit(&r->workload_rng);
    double gap = -log1p(-u) / rate * 1e6;
    if (!(gap >= 1.0))
        gap = 1.0;
    if (gap > 3.6e12)
        gap = 3.6e12;
    return knit_sim_now(r->engine) + (uint64_t)gap;
}

static void on_lookup_tick(void *ctx, uint64_t arg)
{
    (void)arg;
    struct run *r = ctx;
    if (knit_sim_now(r->engine) >= r->workload_end || r->error)
        return;
    start_op(r, SIM_OP_LOOKUP);
    knit_sim_schedule(r->engine, next_arrival(r, r->s->lookup_rate),
                      on_lookup_tick, r, 0);
}

static void on_connect_tick(void *ctx, uint64_t arg)
{
    (void)arg;
    struct run *r = ctx;
    if (knit_sim_now(r->engine) >= r->workload_end || r->error)
        return;
    start_op(r, SIM_OP_CONNECT);
    knit_sim_schedule(r->engine, next_arrival(r, r->s->connect_rate),
                      on_connect_tick, r, 0);
}

void sim_workload_start(struct run *r)
{
    if (r->s->lookup_rate > 0)
        knit_sim_schedule(r->engine, next_arrival(r, r->s->lookup_rate),
                          on_lookup_tick, r, 0);
    if (r->s->connect_rate > 0)
        knit_sim_schedule(r->engine, next_arrival(r, r->s->connect_rate),
                          on_connect_tick, r, 0);
}

/* ---- events at the dialer and the target ------------------------------- */

static uint32_t find_op(struct run *r, const struct sim_node *n,
                        uint8_t state, const struct knit_event *ev)
{
    for (uint32_t i = n->ops; i != SIM_NO_OP; i = r->op[i].next) {
        const struct sim_op *op = &r->op[i];
        if (op->state != state)
            continue;
        if (state == SIM_OP_FINDING && op->find_handle == ev->u.found.handle)
            return i;
        if (state != SIM_OP_FINDING &&
            knit_peer_id_equal(ev->peer, &r->nodes[op->target].id) &&
            (state == SIM_OP_DIALING || state == SIM_OP_UPGRADING ||
             op->stream_id == ev->stream_id))
            return i;
    }
    return SIM_NO_OP;
}

static void send_probe(struct run *r, struct sim_node *d, uint32_t i)
{
    struct sim_op *op = &r->op[i];
    struct knit_node *node = knit_sim_host_node(d->host);
    uint64_t now = knit_sim_now(r->engine);
    const struct knit_peer_id *peer = &r->nodes[op->target].id;
    op->direct_us = now - op->started;
    op->state = SIM_OP_ECHOING;
    uint8_t byte = 0x6b;
    size_t accepted = 0;
    if (knit_node_open_stream(node, peer, SIM_ECHO_PROTOCOL, now,
                              &op->stream_id) != KNIT_OK ||
        knit_node_stream_write(node, peer, op->stream_id, &byte, 1, now,
                               &accepted) != KNIT_OK ||
        accepted != 1 ||
        knit_node_stream_finish(node, peer, op->stream_id, now) != KNIT_OK)
        connect_failed(r, i, KNIT_SIM_FAIL_NO_DATA);
}

static void found(struct run *r, struct sim_node *d, uint32_t i,
                  const struct knit_event *ev)
{
    struct sim_op *op = &r->op[i];
    const struct knit_peer_record *rec = ev->u.found.record;
    bool ok = ev->u.found.error == KNIT_OK && rec &&
              knit_peer_id_equal(&rec->peer, &r->nodes[op->target].id);
    if (op->kind == SIM_OP_LOOKUP) {
        struct knit_sim_lookup_sample s = {
            .at_us = op->started,
            .latency_us = ev->u.found.elapsed_us,
            .queries = ev->u.found.queries,
            .hops = ev->u.found.hops,
            .ok = ok,
            .target_class = r->nodes[op->target].class_index,
        };
        if (knit_sim_metrics_lookup(r->metrics, &s))
            sim_fail(r, KNIT_E_NOMEM);
        op_release(r, i);
        return;
    }
    sim_trace_found(r, i, ok ? rec : NULL);
    if (!ok || rec->addr_count == 0) {
        connect_failed(r, i, KNIT_SIM_FAIL_NOT_FOUND);
        return;
    }
    uint64_t now = knit_sim_now(r->engine);
    struct knit_node *node = knit_sim_host_node(d->host);
    op->state = SIM_OP_DIALING;
    op->timer = knit_sim_schedule(r->engine,
                                  op->started + SIM_CONNECT_TIMEOUT_US,
                                  on_connect_timeout, r, i);
    const struct knit_peer_id *peer = &r->nodes[op->target].id;
    size_t attempts;
    if (knit_node_connect_record(node, rec, now, &attempts) != KNIT_OK) {
        connect_failed(r, i, KNIT_SIM_FAIL_NO_SESSION);
        return;
    }
    if (knit_node_peer_is_up(node, peer))
        send_probe(r, d, i);
}

/* The target's side: echo what arrives on an echo stream, then finish. */
static void echo(struct run *r, struct sim_node *n,
                 const struct knit_event *ev)
{
    struct knit_node *node = knit_sim_host_node(n->host);
    uint64_t now = knit_sim_now(r->engine);
    uint8_t buf[256];
    size_t got = 0;
    bool fin = false;
    if (knit_node_stream_read(node, ev->peer, ev->stream_id, buf, sizeof buf,
                              &got, &fin, now) != KNIT_OK)
        return;
    size_t accepted = 0;
    if (got)
        knit_node_stream_write(node, ev->peer, ev->stream_id, buf, got, now,
                               &accepted);
    if (fin)
        knit_node_stream_finish(node, ev->peer, ev->stream_id, now);
}

static void echoed(struct run *r, struct sim_node *d, uint32_t i,
                   const struct knit_event *ev)
{
    struct knit_node *node = knit_sim_host_node(d->host);
    uint64_t now = knit_sim_now(r->engine);
    uint8_t buf[16];
    size_t got = 0;
    bool fin = false;
    if (knit_node_stream_read(node, ev->peer, ev->stream_id, buf, sizeof buf,
                              &got, &fin, now) != KNIT_OK || got == 0)
        return;
    struct sim_op *op = &r->op[i];
    if (knit_node_peer_is_relayed(node, ev->peer)) {
        /* Hole punching may still give it a direct path: wait for it. */
        op->state = SIM_OP_UPGRADING;
        op->first_byte_us = now - op->started;
        op->direct_us = KNIT_SIM_NO_TIME;
        if (op->timer)
            knit_sim_cancel(r->engine, op->timer);
        op->timer = knit_sim_schedule(r->engine, now + SIM_DIRECT_WAIT_US,
                                      on_upgrade_timeout, r, i);
        return;
    }
    record_connect(r, i, KNIT_SIM_OUTCOME_DIRECT, KNIT_SIM_FAIL_NONE,
                   now - op->started);
    knit_node_disconnect(node, ev->peer, now);
    op_release(r, i);
}

/* The session of an attempt waiting for a punch moved to a direct path. */
static void upgraded(struct run *r, struct sim_node *d, uint32_t i,
                     const struct knit_event *ev)
{
    struct knit_node *node = knit_sim_host_node(d->host);
    if (knit_node_peer_is_relayed(node, ev->peer))
        return;
    uint64_t now = knit_sim_now(r->engine);
    struct sim_op *op = &r->op[i];
    op->direct_us = now - op->started;
    record_connect(r, i, KNIT_SIM_OUTCOME_DIRECT, KNIT_SIM_FAIL_NONE,
                   op->first_byte_us);
    knit_node_disconnect(node, ev->peer, now);
    op_release(r, i);
}

void sim_workload_event(struct run *r, struct sim_node *n,
                        const struct knit_event *ev)
{
    uint32_t i;
    sim_trace_event(r, n, ev);
    switch (ev->type) {
    case KNIT_EVENT_FOUND:
        if ((i = find_op(r, n, SIM_OP_FINDING, ev)) != SIM_NO_OP)
            found(r, n, i, ev);
        break;
    case KNIT_EVENT_PEER_UP:
        if ((i = find_op(r, n, SIM_OP_DIALING, ev)) != SIM_NO_OP)
            send_probe(r, n, i);
        break;
    case KNIT_EVENT_PATH_CHANGED:
        if ((i = find_op(r, n, SIM_OP_UPGRADING, ev)) != SIM_NO_OP)
            upgraded(r, n, i, ev);
        break;
    case KNIT_EVENT_STREAM_READABLE:
        if ((i = find_op(r, n, SIM_OP_ECHOING, ev)) != SIM_NO_OP)
            echoed(r, n, i, ev);
        else
            echo(r, n, ev);
        break;
    default:
        break;
    }
}

void sim_workload_node_leaving(struct run *r, uint32_t index)
{
    struct sim_node *n = &r->nodes[index];
    while (n->ops != SIM_NO_OP) {
        uint32_t i = n->ops;
        if (r->op[i].kind == SIM_OP_LOOKUP)
            r->report->lookups_abandoned++;
        else
            r->report->connects_abandoned++;
        op_release(r, i);
    }
    /* Attempts to reach it fail now (their dialers stay). */
    for (uint32_t i = 0; i < r->op_cap; i++) {
        struct sim_op *op = &r->op[i];
        if (op->state != SIM_OP_FREE && op->kind == SIM_OP_CONNECT &&
            op->target == index)
            connect_failed(r, i, KNIT_SIM_FAIL_WENT_AWAY);
    }
}

void sim_workload_abandon_all(struct run *r)
{
    for (uint32_t i = 0; i < r->op_cap; i++) {
        if (r->op[i].state == SIM_OP_FREE)
            continue;
        if (r->op[i].kind == SIM_OP_LOOKUP)
            r->report->lookups_abandoned++;
        else
            r->report->connects_abandoned++;
        op_release(r, i);
    }
}
