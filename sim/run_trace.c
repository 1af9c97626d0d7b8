/* An opt-in trace of connection attempts, for finding out why one failed:
 * with KNIT_SIM_TRACE=1 in the environment, every attempt prints on stderr
 * the record its lookup returned, what the dialer and the target said
 * (their log lines, sessions up and down, path changes) while it was
 * under way, and, when it ends without a session, both ends' state.
 * Lines start with "trace <at_ms>", the attempt's at_ms in connects.csv,
 * so one attempt's story is a grep away. Off, it costs one branch. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/event.h"
#include "node/node.h"
#include "proto/multiaddr.h"
#include "proto/record.h"
#include "sim/run_internal.h"
#include "transport/io.h"

bool sim_trace_enabled(void)
{
    static int enabled = -1;
    if (enabled < 0) {
        const char *v = getenv("KNIT_SIM_TRACE");
        enabled = v && *v && strcmp(v, "0") != 0;
    }
    return enabled == 1;
}

static void line_head(const struct run *r, const struct sim_op *op)
{
    uint64_t now = knit_sim_now(r->engine);
    fprintf(stderr, "trace %" PRIu64 ".%03" PRIu64 " +%" PRIu64 "ms ",
            op->started / 1000, op->started % 1000,
            (now - op->started) / 1000);
}

static void addr_text(const struct knit_addr *a, char *out, size_t cap)
{
    if (knit_addr_format(a, out, cap) != 0)
        snprintf(out, cap, "?");
}

void sim_trace_found(struct run *r, uint32_t i,
                     const struct knit_peer_record *rec)
{
    if (!sim_trace_enabled())
        return;
    const struct sim_op *op = &r->op[i];
    const struct sim_node *d = &r->nodes[op->dialer];
    const struct sim_node *t = &r->nodes[op->target];
    char own[64];
    addr_text(&t->addr, own, sizeof own);
    line_head(r, op);
    fprintf(stderr,
            "found dialer=%u(class %u) target=%u(class %u, at %s, up %" PRIu64
            "s) record seq=%" PRIu64 " addrs=%u:",
            op->dialer, d->class_index, op->target, t->class_index, own,
            (knit_sim_now(r->engine) - t->online_since) / 1000000,
            rec ? rec->seq : 0, rec ? rec->addr_count : 0);
    for (uint8_t k = 0; rec && k < rec->addr_count; k++) {
        char ma[256];
        if (knit_multiaddr_format(&rec->addrs[k], ma, sizeof ma) != 0)
            snprintf(ma, sizeof ma, "?");
        fprintf(stderr, " %s", ma);
    }
    fputc('\n', stderr);
    /* What the target itself signed last, to tell a stale record. */
    size_t len = 0;
    const uint8_t *own_rec =
        t->host ? knit_node_record(knit_sim_host_node(t->host), &len) : NULL;
    struct knit_peer_record *cur = calloc(1, sizeof *cur);
    if (own_rec && cur && knit_record_verify(cur, own_rec, len) == 0) {
        line_head(r, op);
        fprintf(stderr, "target's own record seq=%" PRIu64
                " (found is %" PRId64 " ms older) addrs=%u:", cur->seq,
                rec ? (int64_t)(cur->seq - rec->seq) / 1000 : -1,
                cur->addr_count);
        for (uint8_t k = 0; k < cur->addr_count; k++) {
            char ma[256];
            if (knit_multiaddr_format(&cur->addrs[k], ma, sizeof ma) != 0)
                snprintf(ma, sizeof ma, "?");
            fprintf(stderr, " %s", ma);
        }
        fputc('\n', stderr);
    }
    free(cur);
}

static void session_state(const char *who, const struct sim_node *n,
                          const struct knit_peer_id *peer)
{
    if (!n->host) {
        fprintf(stderr, " %s=offline", who);
        return;
    }
    struct knit_node *node = knit_sim_host_node(n->host);
    struct knit_session_stats st;
    if (knit_node_peer_stats(node, peer, &st) != 0) {
        fprintf(stderr, " %s=no-session", who);
        return;
    }
    char path[64];
    addr_text(&st.path, path, sizeof path);
    fprintf(stderr, " %s={up=%d relayed=%d paths=%u hs=%u path=%s sock=%d}",
            who, knit_node_peer_is_up(node, peer),
            knit_node_peer_is_relayed(node, peer), st.paths, st.handshakes,
            path, st.path_sock);
}

static void traversal_state(const char *who, const struct sim_node *n,
                            uint64_t now)
{
    if (!n->host)
        return;
    struct knit_node_traversal tr;
    knit_node_traversal_status(knit_sim_host_node(n->host), now, &tr);
    fprintf(stderr, " %s-reach=%u/%u relays=%zu:", who, tr.reachability,
            tr.reachability_confidence, tr.relay_count);
    for (size_t k = 0; k < tr.relay_count && k < 4; k++) {
        char ma[256];
        if (knit_multiaddr_format(&tr.relays[k], ma, sizeof ma) != 0)
            snprintf(ma, sizeof ma, "?");
        fprintf(stderr, " %s", ma);
    }
}

static void punch_state(const char *who, const struct sim_node *n,
                        const struct knit_peer_id *peer)
{
    struct knit_node_punch p;
    if (!n->host ||
        knit_node_punch_info(knit_sim_host_node(n->host), peer, &p) != 0)
        return;
    fprintf(stderr, " %s-punch={attempts=%u failures=%u successes=%u "
            "running=%d reason=%s}", who, p.attempts, p.failures,
            p.successes, p.in_progress, p.reason);
}

void sim_trace_end(struct run *r, uint32_t i, const char *how)
{
    if (!sim_trace_enabled())
        return;
    const struct sim_op *op = &r->op[i];
    const struct sim_node *d = &r->nodes[op->dialer];
    const struct sim_node *t = &r->nodes[op->target];
    line_head(r, op);
    fprintf(stderr, "end %s state=%u", how, op->state);
    session_state("dialer", d, &t->id);
    session_state("target", t, &d->id);
    traversal_state("target", t, knit_sim_now(r->engine));
    punch_state("dialer", d, &t->id);
    punch_state("target", t, &d->id);
    fputc('\n', stderr);
}

static void event_line(const struct run *r, const struct sim_op *op,
                       const char *who, const struct knit_event *ev)
{
    switch (ev->type) {
    case KNIT_EVENT_LOG:
        line_head(r, op);
        fprintf(stderr, "%s log: %s\n", who, ev->u.log.message);
        break;
    case KNIT_EVENT_PEER_UP:
    case KNIT_EVENT_PEER_DOWN:
    case KNIT_EVENT_PATH_CHANGED:
        line_head(r, op);
        fprintf(stderr, "%s %s", who,
                ev->type == KNIT_EVENT_PEER_UP     ? "peer-up"
                : ev->type == KNIT_EVENT_PEER_DOWN ? "peer-down"
                                                   : "path-changed");
        if (ev->type == KNIT_EVENT_PEER_DOWN)
            fprintf(stderr, " error=%d reason=%s", ev->u.down.error,
                    ev->u.down.reason ? ev->u.down.reason : "");
        fputc('\n', stderr);
        break;
    default:
        break;
    }
}

/* Log lines of either end, and session events between the two. */
void sim_trace_event(struct run *r, const struct sim_node *n,
                     const struct knit_event *ev)
{
    if (!sim_trace_enabled())
        return;
    if (ev->type != KNIT_EVENT_LOG && ev->type != KNIT_EVENT_PEER_UP &&
        ev->type != KNIT_EVENT_PEER_DOWN &&
        ev->type != KNIT_EVENT_PATH_CHANGED)
        return;
    uint32_t index = (uint32_t)(n - r->nodes);
    for (uint32_t i = 0; i < r->op_cap; i++) {
        const struct sim_op *op = &r->op[i];
        if (op->state == SIM_OP_FREE || op->kind != SIM_OP_CONNECT ||
            op->state == SIM_OP_FINDING)
            continue;
        bool dialer = op->dialer == index, target = op->target == index;
        if (!dialer && !target)
            continue;
        if (ev->type != KNIT_EVENT_LOG) {
            const struct knit_peer_id *other =
                &r->nodes[dialer ? op->target : op->dialer].id;
            if (!ev->peer || !knit_peer_id_equal(ev->peer, other))
                continue;
        }
        event_line(r, op, dialer ? "dialer" : "target", ev);
    }
}
