/* The scenario runner: the world it builds, node lives and churn, and the
 * main loop. The workload is in sim/run_workload.c.
 *
 * Address plan (all virtual; nothing here is ever sent on a real network):
 *   public node       20.0.0.0/8 and up, one IP each
 *   home NAT box      40.0.0.0/8 and up, one public IP each
 *   carrier-grade NAT 60.0.0.0/8 and up; the boxes behind one hold
 *                     100.64.0.0/10 addresses inside it (RFC 6598)
 *   hosts behind a box 192.168.1.2 and up, port SIM_PORT
 * IPs are spread over their range by an odd multiplier (a bijection), so
 * neighbouring nodes do not share a /24 and the DHT's diversity limits see
 * what they would on the Internet.
 *
 * Latency: an IP's access delay and region are hashed from the seed and
 * the IP, so the delay of a pair is access(a) + core(region a, region b) +
 * access(b), the same in both directions and for every port. Hosts behind a
 * box reach the Internet through the box's IP (plus the box's LAN hop). */
#include "sim/run.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "node/event.h"
#include "node/node.h"
#include "proto/key_cache.h"
#include "proto/record_cache.h"
#include "sim/progress.h"
#include "sim/run_internal.h"
#include "transport/error.h"

#define SECOND 1000000ull
#define NO_POS UINT32_MAX

/* ---- addresses and latency --------------------------------------------- */

static struct knit_addr plan_ip(uint8_t first_octet, uint32_t index)
{
    /* 2654435761 is odd, so index -> index * it mod 2^24 is a bijection;
     * above 2^24 the next /8 is used. */
    uint32_t spread = (uint32_t)((index & 0xffffffu) * 2654435761u) & 0xffffffu;
    struct knit_addr a = {.family = KNIT_AF_IP4, .port = SIM_PORT};
    a.ip[0] = (uint8_t)(first_octet + (index >> 24));
    a.ip[1] = (uint8_t)(spread >> 16);
    a.ip[2] = (uint8_t)(spread >> 8);
    a.ip[3] = (uint8_t)spread;
    return a;
}

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

static uint64_t uniform_in(uint64_t h, uint64_t lo, uint64_t hi)
{
    return hi > lo ? lo + h % (hi - lo + 1) : lo;
}

static uint32_t ip_key(const struct knit_addr *a)
{
    return (uint32_t)a->ip[0] << 24 | (uint32_t)a->ip[1] << 16 |
           (uint32_t)a->ip[2] << 8 | a->ip[3];
}

static uint64_t scenario_delay(void *ctx, const struct knit_addr *a,
                               const struct knit_addr *b)
{
    const struct run *r = ctx;
    const struct knit_scenario *s = r->s;
    uint64_t ha = mix64(r->s->seed ^ 0xacce55ull ^ ip_key(a));
    uint64_t hb = mix64(r->s->seed ^ 0xacce55ull ^ ip_key(b));
    uint64_t access_a = uniform_in(ha, s->access_min_us, s->access_max_us);
    uint64_t access_b = uniform_in(hb, s->access_min_us, s->access_max_us);
    uint32_t ra = (uint32_t)((ha >> 40) % s->regions);
    uint32_t rb = (uint32_t)((hb >> 40) % s->regions);
    uint64_t core = s->core_min_us;
    if (ra != rb) {
        uint32_t lo = ra < rb ? ra : rb, hi = ra < rb ? rb : ra;
        uint64_t hc = mix64(r->s->seed ^ 0xc0feull ^ ((uint64_t)lo << 32 | hi));
        core = uniform_in(hc, s->core_min_us, s->core_max_us);
    }
    return access_a + core + access_b;
}

void sim_fail(struct run *r, int error)
{
    if (r->error == 0)
        r->error = error;
}

/* ---- node lives --------------------------------------------------------- */

static const char *const sim_protocols[] = {SIM_ECHO_PROTOCOL, NULL};

static void on_node_event(void *ctx, struct knit_sim_host *host,
                          const struct knit_event *ev)
{
    struct sim_node *n = ctx;
    if (n->host != host)
        return;
    if (ev->type == KNIT_EVENT_PEER_UP)
        n->handshakes++;
    sim_workload_event(n->run, n, ev);
}

static uint64_t draw(struct knit_rng *rng, const struct knit_scn_dist *d)
{
    double u = knit_rng_unit(rng);
    double v;
    switch (d->kind) {
    case KNIT_SCN_DIST_FIXED:
        return d->scale_us;
    case KNIT_SCN_DIST_EXP:
        v = -log1p(-u) * (double)d->scale_us;
        break;
    case KNIT_SCN_DIST_WEIBULL:
        v = pow(-log1p(-u), 1.0 / d->shape) * (double)d->scale_us;
        break;
    default:
        return UINT64_MAX;
    }
    /* At least a second, at most 10^6 hours: a node never flaps in the same
     * instant, and the sum with now cannot overflow. */
    if (!(v >= 1e6))
        return SECOND;
    if (v > 3.6e15)
        return 3600000000000000ull;
    return (uint64_t)v;
}

static void on_leave(void *ctx, uint64_t index);
static void on_join(void *ctx, uint64_t index);

void sim_node_start(struct run *r, uint32_t index)
{
    struct sim_node *n = &r->nodes[index];
    if (n->host || r->error)
        return;
    uint64_t now = knit_sim_now(r->engine);
    struct knit_sim_host_config hc = {
        .addr = n->addr,
        .seed = r->s->seed * 1000003ull + index,
        .boot = n->boots,
        .protocols = sim_protocols,
        .dht_mode = n->class_index == 0 ? KNIT_DHT_MODE_SERVER
                                        : KNIT_DHT_MODE_CLIENT,
        .advertise = true,
        /* No simulated node is flooded: a small table (1 KiB, not the
         * daemon's 64 KiB) keeps 100 000 nodes in memory. */
        .handshake_ratelimit_slots = SIM_RATELIMIT_SLOTS,
        .key_cache = r->key_cache,
        .record_cache = r->record_cache,
    };
    int err = knit_sim_net_add_host_behind(r->net, &hc, n->box, on_node_event,
                                           n, &n->host);
    if (err) {
        n->host = NULL;
        sim_fail(r, err);
        return;
    }
    if (n->boots == 0)
        n->id = *knit_sim_host_id(n->host);
    n->boots++;
    n->online_since = now;
    n->online_pos = r->online_count;
    r->online[r->online_count++] = index;
    if (r->online_count > r->report->peak_hosts)
        r->report->peak_hosts = r->online_count;
    if (r->s->uplink_bps)
        knit_sim_net_set_uplink(r->net, n->host, r->s->uplink_bps,
                                r->s->queue_bytes);

    /* Join through the bootstrap set (the others, for a bootstrap node). */
    struct knit_bootstrap_peer peers[64];
    size_t count = 0;
    for (uint32_t i = 0; i < r->boot_count; i++)
        if (i != index)
            peers[count++] = r->boot[i];
    struct knit_node *node = knit_sim_host_node(n->host);
    if (count)
        knit_node_bootstrap(node, peers, count, now);
    knit_sim_host_rearm(n->host);

    if (!n->bootstrap && r->s->lifetime.kind != KNIT_SCN_DIST_NONE)
        knit_sim_schedule(r->engine, now + draw(&r->churn_rng, &r->s->lifetime),
                          on_leave, r, index);
}

/* Adds the host's counters to the node's totals before the host goes. */
static void collect(struct run *r, struct sim_node *n)
{
    struct knit_sim_net_host_stats st;
    if (knit_sim_net_host_stats(r->net, n->host, &st) == KNIT_OK) {
        n->tx_packets += st.tx_packets;
        n->tx_bytes += st.tx_bytes;
        n->rx_packets += st.rx_packets;
        n->rx_bytes += st.rx_bytes;
    }
    /* The core's relay totals since it started, which go with it too
     * (like the net's counters, read once per core: when it leaves or at
     * the end). */
    struct knit_node_traversal tr;
    knit_node_traversal_status(knit_sim_host_node(n->host),
                               knit_sim_now(r->engine), &tr);
    n->relay_circuits += tr.circuits_relayed_total;
    n->relay_bytes += tr.bytes_relayed_total;
    n->online_us += knit_sim_now(r->engine) - n->online_since;
}

void sim_node_stop(struct run *r, uint32_t index, bool for_good)
{
    struct sim_node *n = &r->nodes[index];
    if (!n->host)
        return;
    sim_workload_node_leaving(r, index);
    collect(r, n);
    knit_sim_net_remove_host(r->net, n->host);
    n->host = NULL;
    uint32_t last = r->online[--r->online_count];
    r->online[n->online_pos] = last;
    r->nodes[last].online_pos = n->online_pos;
    n->online_pos = NO_POS;
    if (!for_good && r->s->offline.kind != KNIT_SCN_DIST_NONE) {
        uint64_t now = knit_sim_now(r->engine);
        knit_sim_schedule(r->engine, now + draw(&r->churn_rng, &r->s->offline),
                          on_join, r, index);
    }
}

static void on_leave(void *ctx, uint64_t index)
{
    struct run *r = ctx;
    sim_node_stop(r, (uint32_t)index, false);
}

static void on_join(void *ctx, uint64_t index)
{
    sim_node_start(ctx, (uint32_t)index);
}

/* ---- building the world ------------------------------------------------ */

/* Which class each node is: the bootstrap nodes first (public), the rest
 * shuffled with the run's seed. */
static int assign_classes(struct run *r, struct knit_rng *rng)
{
    const struct knit_scenario *s = r->s;
    uint32_t n = r->node_count;
    uint32_t pub = knit_scenario_public_nodes(s);
    uint32_t counts[KNIT_SCN_MAX_NATS];
    knit_scenario_nat_counts(s, counts);
    uint32_t at = 0;
    for (uint32_t i = 0; i < pub; i++)
        r->nodes[at++].class_index = 0;
    for (size_t t = 0; t < s->nat_count; t++)
        for (uint32_t i = 0; i < counts[t]; i++)
            r->nodes[at++].class_index = (uint8_t)(1 + t);
    if (at != n)
        return KNIT_E_INVAL;
    for (uint32_t i = n - 1; i > s->bootstrap; i--) {
        uint32_t j = s->bootstrap +
                     (uint32_t)knit_rng_below(rng, i - s->bootstrap + 1);
        uint8_t c = r->nodes[i].class_index;
        r->nodes[i].class_index = r->nodes[j].class_index;
        r->nodes[j].class_index = c;
    }
    for (uint32_t i = 0; i < s->bootstrap; i++)
        r->nodes[i].bootstrap = true;
    return KNIT_OK;
}

static int add_box(struct run *r, const struct knit_scn_nat_type *t,
                   struct knit_addr ip, struct knit_sim_natbox *outer,
                   bool carrier_grade, struct knit_sim_natbox **out)
{
    struct knit_sim_nat_config nc = {
        .public_ip = ip,
        .mapping = carrier_grade ? KNIT_MAPPING_ENDPOINT_INDEPENDENT
                                 : t->mapping,
        .filtering = carrier_grade ? KNIT_FILTERING_ENDPOINT_INDEPENDENT
                                   : t->filtering,
        .allocation = carrier_grade ? KNIT_SIM_PORT_RANDOM : t->allocation,
        .mapping_timeout_us = t->timeout_us,
        .hairpin = carrier_grade ? true : t->hairpin,
        .seed = mix64(r->s->seed ^ ip_key(&ip) ^ (carrier_grade ? 1u : 0u)),
    };
    ip.port = 0;
    nc.public_ip = ip;
    int err = knit_sim_natbox_new(out, r->net, r->engine, &nc, outer, 0);
    if (err == KNIT_OK)
        r->boxes[r->box_count++] = *out;
    return err;
}

/* Gives every node its address, and every NATed one its box: per NAT type,
 * consecutive members (in node order) share a box, hosts_per_box at a time,
 * and consecutive boxes share a carrier-grade NAT, cgn at a time. */
static int place_nodes(struct run *r)
{
    const struct knit_scenario *s = r->s;
    uint32_t public_seen = 0, home_boxes = 0, cgn_boxes = 0;
    for (size_t t = 0; t < s->nat_count; t++) {
        const struct knit_scn_nat_type *type = &s->nat[t];
        struct knit_sim_natbox *box = NULL, *cgn = NULL;
        uint32_t in_box = 0, boxes_in_cgn = 0;
        for (uint32_t i = 0; i < r->node_count; i++) {
            struct sim_node *n = &r->nodes[i];
            if (n->class_index != 1 + t)
                continue;
            if (!box || in_box == type->hosts_per_box) {
                int err;
                if (type->cgn && (!cgn || boxes_in_cgn == type->cgn)) {
                    err = add_box(r, type, plan_ip(60, cgn_boxes++), NULL,
                                  true, &cgn);
                    if (err)
                        return err;
                    boxes_in_cgn = 0;
                }
                struct knit_addr ip = plan_ip(40, home_boxes++);
                if (type->cgn) {
                    /* 100.64.0.0/10, the box's number within its CGN. */
                    uint32_t k = boxes_in_cgn + 1;
                    ip.ip[0] = 100;
                    ip.ip[1] = (uint8_t)(64 + ((k >> 16) & 63));
                    ip.ip[2] = (uint8_t)(k >> 8);
                    ip.ip[3] = (uint8_t)k;
                    boxes_in_cgn++;
                }
                err = add_box(r, type, ip, type->cgn ? cgn : NULL, false, &box);
                if (err)
                    return err;
                in_box = 0;
            }
            n->box = box;
            n->addr = (struct knit_addr){.family = KNIT_AF_IP4,
                                         .ip = {192, 168, 1,
                                                (uint8_t)(2 + in_box)},
                                         .port = SIM_PORT};
            in_box++;
        }
    }
    for (uint32_t i = 0; i < r->node_count; i++)
        if (r->nodes[i].class_index == 0)
            r->nodes[i].addr = plan_ip(20, public_seen++);
    return KNIT_OK;
}

static uint32_t boxes_needed(const struct knit_scenario *s,
                             const uint32_t *counts)
{
    uint64_t total = 0;
    for (size_t t = 0; t < s->nat_count; t++) {
        uint64_t homes = (counts[t] + s->nat[t].hosts_per_box - 1) /
                         s->nat[t].hosts_per_box;
        total += homes;
        if (s->nat[t].cgn)
            total += (homes + s->nat[t].cgn - 1) / s->nat[t].cgn;
    }
    return (uint32_t)total;
}

/* Two memos of pure functions of public bytes, shared by all the nodes,
 * so that what one node has worked out another does not work out again.
 * Neither changes what any node sends or accepts (a test runs a scenario
 * with and without them and compares the output files byte for byte).
 * Placement in both is keyed from the seed, so a run stays reproducible.
 *
 * Keys: every handshake converts the peer's Ed25519 key to X25519 on both
 * sides, at the cost of a Diffie-Hellman, and the result depends on the
 * key alone: two slots per node, 64 bytes each.
 *
 * Records: a node's signed record is PUT at the k = 20 closest servers,
 * and each verified its signature, 20 verifications of the same bytes
 * (92 % of all verifications while nodes join). Shared, each distinct
 * envelope is verified once per run: four 16-byte slots per node, in
 * place of each node's own 4 KiB. */
static int new_caches(struct run *r)
{
    uint8_t key[32] = {0};
    uint64_t k = r->s->seed ^ 0x6b657963ull;
    memcpy(key, &k, sizeof k);
    uint64_t slots = (uint64_t)r->node_count * 2;
    if (slots > KNIT_KEY_CACHE_MAX_SLOTS)
        slots = KNIT_KEY_CACHE_MAX_SLOTS;
    int err = knit_key_cache_new(&r->key_cache, (uint32_t)slots, key);
    if (err)
        return err;
    k = r->s->seed ^ 0x7265636f7264ull;
    memcpy(key, &k, sizeof k);
    slots = (uint64_t)r->node_count * 4;
    if (slots > KNIT_RECORD_CACHE_MAX_SLOTS)
        slots = KNIT_RECORD_CACHE_MAX_SLOTS;
    return knit_record_cache_new(&r->record_cache, (uint32_t)slots, key);
}

static int build(struct run *r)
{
    const struct knit_scenario *s = r->s;
    r->node_count = s->nodes;
    uint32_t counts[KNIT_SCN_MAX_NATS];
    knit_scenario_nat_counts(s, counts);
    r->nodes = calloc(r->node_count, sizeof *r->nodes);
    r->online = calloc(r->node_count, sizeof *r->online);
    r->boxes = calloc(boxes_needed(s, counts) + 1, sizeof *r->boxes);
    r->boot = calloc(s->bootstrap, sizeof *r->boot);
    if (!r->nodes || !r->online || !r->boxes || !r->boot)
        return KNIT_E_NOMEM;
    int err = knit_sim_engine_new(&r->engine);
    if (err)
        return err;
    if (!r->private_caches) {
        err = new_caches(r);
        if (err)
            return err;
    }
    struct knit_sim_net_config nc = {
        .seed = s->seed,
        .min_delay_us = 0,
        .max_delay_us = 0,
        .jitter_us = s->jitter_us,
        .loss = s->loss,
        .delay_fn = scenario_delay,
        .delay_ctx = r,
    };
    err = knit_sim_net_new(&r->net, r->engine, &nc);
    if (err)
        return err;
    struct knit_rng place;
    knit_rng_seed(&place, s->seed ^ 0x91ace5ull);
    knit_rng_seed(&r->churn_rng, s->seed ^ 0xc4u);
    knit_rng_seed(&r->workload_rng, s->seed ^ 0x3011ull);
    for (uint32_t i = 0; i < r->node_count; i++) {
        r->nodes[i].run = r;
        r->nodes[i].online_pos = NO_POS;
        r->nodes[i].ops = SIM_NO_OP;
    }
    err = assign_classes(r, &place);
    if (err == KNIT_OK)
        err = place_nodes(r);
    if (err == KNIT_OK)
        err = sim_ops_init(r, 1024);
    return err;
}

/* ---- the run ------------------------------------------------------------ */

static void on_start(void *ctx, uint64_t index)
{
    sim_node_start(ctx, (uint32_t)index);
}

static void on_workload(void *ctx, uint64_t arg)
{
    (void)arg;
    sim_workload_start(ctx);
}

/* Bootstrap nodes need each other's IDs before anyone joins: their
 * identities come from their seeds, so they are made once up front. */
static int bootstrap_set(struct run *r)
{
    /* Started with an empty list, then told of each other. */
    r->boot_count = 0;
    for (uint32_t i = 0; i < r->s->bootstrap; i++) {
        sim_node_start(r, i);
        if (r->error)
            return r->error;
        r->boot[i].id = r->nodes[i].id;
        r->boot[i].addr = r->nodes[i].addr;
    }
    r->boot_count = r->s->bootstrap;
    /* Now that the list is known, the bootstrap nodes join each other. */
    uint64_t now = knit_sim_now(r->engine);
    for (uint32_t i = 0; i < r->boot_count; i++) {
        struct knit_bootstrap_peer peers[64];
        size_t count = 0;
        for (uint32_t j = 0; j < r->boot_count; j++)
            if (j != i)
                peers[count++] = r->boot[j];
        if (count) {
            knit_node_bootstrap(knit_sim_host_node(r->nodes[i].host), peers,
                                count, now);
            knit_sim_host_rearm(r->nodes[i].host);
        }
    }
    return KNIT_OK;
}

static void sample_nodes(struct run *r)
{
    for (uint32_t i = 0; i < r->node_count && !r->error; i++) {
        struct sim_node *n = &r->nodes[i];
        uint32_t table = 0;
        if (n->host) {
            collect(r, n);
            n->online_since = knit_sim_now(r->engine);
            const struct knit_dht *dht =
                knit_node_dht(knit_sim_host_node(n->host));
            if (dht && knit_node_dht_serving(knit_sim_host_node(n->host)))
                table = (uint32_t)knit_dht_table_size(knit_dht_get_table(dht));
        }
        struct knit_sim_node_sample ns = {
            .index = i, .class_index = n->class_index,
            .bootstrap = n->bootstrap, .joins = n->boots,
            .online_us = n->online_us, .tx_packets = n->tx_packets,
            .tx_bytes = n->tx_bytes, .rx_packets = n->rx_packets,
            .rx_bytes = n->rx_bytes, .handshakes = n->handshakes,
            .table_size = table, .relay_circuits = n->relay_circuits,
            .relay_bytes = n->relay_bytes,
        };
        r->report->handshakes += n->handshakes;
        int err = knit_sim_metrics_node(r->metrics, &ns);
        if (err)
            sim_fail(r, err);
    }
}

static uint64_t nat_drops(struct run *r)
{
    uint64_t total = 0;
    for (uint32_t i = 0; i < r->box_count; i++) {
        struct knit_sim_nat_stats st;
        knit_sim_nat_get_stats(knit_sim_natbox_nat(r->boxes[i]), &st);
        total += st.dropped_filtered + st.dropped_no_mapping +
                 st.dropped_no_port;
    }
    return total;
}

static void drive(struct run *r, const struct knit_sim_run_options *opts)
{
    uint64_t end = r->workload_end + SIM_DRAIN_US;
    struct knit_sim_progress progress;
    knit_sim_progress_start(&progress, opts ? opts->progress : NULL, end,
                            opts && opts->progress);
    uint64_t now = 0;
    while (now < end && !r->error) {
        /* A virtual second at a time, so the bar moves and the drain can
         * stop as soon as nothing is left under way. */
        now += SECOND;
        knit_sim_run_until(r->engine, now, UINT64_MAX);
        knit_sim_progress_update(&progress, now,
                                 knit_sim_events_run(r->engine));
        if (now >= r->workload_end && r->op_cap && r->op_free == r->op_cap)
            break;
    }
    knit_sim_progress_finish(&progress);
}

static void teardown(struct run *r)
{
    knit_sim_net_free(r->net);
    for (uint32_t i = 0; i < r->box_count; i++)
        knit_sim_natbox_free(r->boxes[i]);
    knit_sim_engine_free(r->engine);
    knit_key_cache_free(r->key_cache);
    knit_record_cache_free(r->record_cache);
    free(r->boxes);
    free(r->nodes);
    free(r->online);
    free(r->boot);
    free(r->op);
}

int knit_sim_run(const struct knit_scenario *s,
                 const struct knit_sim_run_options *opts,
                 struct knit_sim_metrics **metrics,
                 struct knit_sim_run_report *report, char *err,
                 size_t errlen)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct knit_sim_run_report local_report;
    struct run r = {.s = s, .report = report ? report : &local_report,
                    .private_caches = opts && opts->private_caches};
    memset(r.report, 0, sizeof *r.report);
    const char *classes[KNIT_SIM_MAX_CLASSES] = {"public"};
    for (size_t t = 0; t < s->nat_count; t++)
        classes[1 + t] = s->nat[t].name;
    int rc = knit_sim_metrics_new(&r.metrics, classes, 1 + s->nat_count);
    if (rc == KNIT_OK)
        rc = build(&r);
    if (rc == KNIT_OK)
        rc = bootstrap_set(&r);
    if (rc == KNIT_OK) {
        /* The others start one after another over the join time. */
        uint32_t rest = r.node_count - r.boot_count;
        for (uint32_t k = 0; k < rest; k++) {
            uint64_t at = rest > 1 ? s->join_us * k / (rest - 1) : 0;
            knit_sim_schedule(r.engine, at, on_start, &r, r.boot_count + k);
        }
        r.workload_start = s->warmup_us;
        r.workload_end = s->warmup_us + s->duration_us;
        knit_sim_schedule(r.engine, r.workload_start, on_workload, &r, 0);
        drive(&r, opts);
        sim_workload_abandon_all(&r);
        sample_nodes(&r);
        rc = r.error;
    }
    if (rc == KNIT_OK) {
        struct knit_sim_net_stats ns;
        knit_sim_net_get_stats(r.net, &ns);
        struct knit_sim_run_info info = {
            .seed = s->seed, .nodes = r.node_count,
            .public_nodes = knit_scenario_public_nodes(s),
            .sim_end_us = knit_sim_now(r.engine),
            .workload_start_us = r.workload_start,
            .events = knit_sim_events_run(r.engine),
            .net_sent = ns.sent, .net_delivered = ns.delivered,
            .net_lost = ns.lost, .net_blackholed = ns.blackholed,
            .nat_dropped = nat_drops(&r),
        };
        knit_sim_metrics_set_run(r.metrics, &info);
        r.report->events = info.events;
    }
    if (rc && err)
        snprintf(err, errlen, "simulation failed: %s", knit_strerror(rc));
    teardown(&r);
    if (rc) {
        knit_sim_metrics_free(r.metrics);
        r.metrics = NULL;
    }
    *metrics = r.metrics;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    r.report->wall_s = (double)(t1.tv_sec - t0.tv_sec) +
                       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    return rc;
}
