/* summary.json (sim/metrics.h): the run's figures in one small file.
 *
 * Keys, in this order (docs/simulator.md). Times are milliseconds with three
 * decimals, shares fractions with six, percentiles nearest rank; a figure
 * over no samples is null.
 *   run: seed, nodes, public_nodes, sim_end_ms, workload_start_ms, events,
 *        net_sent, net_delivered, net_lost, net_blackholed, nat_dropped
 *   lookups: count, ok, success_rate (ok / count),
 *        hops {median, mean, max}             successful lookups
 *        latency_ms {p50, p90, p99, max, mean} successful lookups
 *        queries {mean, max}                  all lookups
 *   connects: count, direct, relayed, failed,
 *        connected_share ((direct + relayed) / count),
 *        fail {not_found, no_session, no_data, went_away},
 *        first_byte_ms {p50, p90, p99, max}   attempts that got a byte
 *        direct_ms {p50, p90, p99, max}       attempts that went direct
 *   nat_matrix: [{dialer, target, attempts, direct, relayed, failed,
 *        connected_share, first_byte_ms_p50, direct_ms_p50}], every pair of
 *        classes, dialer-major (as nat_matrix.csv)
 *   traffic: tx_packets_per_node, tx_bytes_per_node, rx_packets_per_node,
 *        rx_bytes_per_node, handshakes_per_node, table_size_per_node, each
 *        {p50, p90, p99, max, mean} over the nodes (mean rounded to whole)
 *   relays: relay_nodes (nodes that relayed a circuit), circuits, bytes
 *        (totals over all nodes), bytes_p50, bytes_max (over the relay
 *        nodes; 0 when none)
 *   classes: [{index, name, nodes, lookups_targeted, lookups_ok}] */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "sim/metrics_internal.h"
#include "transport/error.h"

static void put_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static void put_share(FILE *f, uint64_t part, uint64_t whole)
{
    if (whole == 0)
        fputs("null", f);
    else
        knit_sim_put_micro(f, knit_sim_round_ratio(part, whole, 1000000));
}

/* A sorted array's percentiles as {"p50": ..., "p90": ..., "p99": ...,
 * "max": ...}, as milliseconds (ms) or plain integers; null over none. */
static void put_percentiles(FILE *f, const uint64_t *v, size_t n, bool ms,
                            bool mean)
{
    static const char *const key[] = {"p50", "p90", "p99"};
    static const uint64_t num[] = {50, 90, 99};
    fputc('{', f);
    for (size_t i = 0; i < 4; i++) {
        uint64_t at = KNIT_SIM_NO_TIME;
        if (n)
            at = i < 3 ? v[knit_sim_rank_index(n, num[i], 100)] : v[n - 1];
        fprintf(f, "%s\"%s\": ", i ? ", " : "", i < 3 ? key[i] : "max");
        if (!n)
            fputs("null", f);
        else if (ms)
            knit_sim_put_ms(f, at, "null");
        else
            fprintf(f, "%" PRIu64, at);
    }
    if (mean) {
        struct knit_sim_mean a;
        knit_sim_mean_init(&a, n);
        for (size_t i = 0; i < n; i++)
            knit_sim_mean_add(&a, v[i]);
        fputs(", \"mean\": ", f);
        if (!n)
            fputs("null", f);
        else if (ms)
            knit_sim_put_ms(f, knit_sim_mean_get(&a), "null");
        else
            fprintf(f, "%" PRIu64, knit_sim_mean_get(&a));
    }
    fputc('}', f);
}

static void put_run(const struct knit_sim_run_info *r, FILE *f)
{
    fprintf(f,
            "  \"run\": {\n"
            "    \"seed\": %" PRIu64 ",\n"
            "    \"nodes\": %" PRIu32 ",\n"
            "    \"public_nodes\": %" PRIu32 ",\n"
            "    \"sim_end_ms\": ",
            r->seed, r->nodes, r->public_nodes);
    knit_sim_put_ms(f, r->sim_end_us, "null");
    fputs(",\n    \"workload_start_ms\": ", f);
    knit_sim_put_ms(f, r->workload_start_us, "null");
    fprintf(f,
            ",\n"
            "    \"events\": %" PRIu64 ",\n"
            "    \"net_sent\": %" PRIu64 ",\n"
            "    \"net_delivered\": %" PRIu64 ",\n"
            "    \"net_lost\": %" PRIu64 ",\n"
            "    \"net_blackholed\": %" PRIu64 ",\n"
            "    \"nat_dropped\": %" PRIu64 "\n"
            "  },\n",
            r->events, r->net_sent, r->net_delivered, r->net_lost,
            r->net_blackholed, r->nat_dropped);
}

static int put_lookups(const struct knit_sim_metrics *m, FILE *f)
{
    uint64_t *lat, *hops;
    size_t ok, ok2;
    int rc = knit_sim_sorted_ok_latencies(m, &lat, &ok);
    if (rc)
        return rc;
    rc = knit_sim_sorted_ok_hops(m, &hops, &ok2);
    if (rc) {
        free(lat);
        return rc;
    }
    fprintf(f, "  \"lookups\": {\n    \"count\": %zu,\n    \"ok\": %zu,\n"
               "    \"success_rate\": ", m->lookups, ok);
    put_share(f, ok, m->lookups);

    /* hops: mean to three decimals, from hops * 1000 (hops < 2^16) */
    fputs(",\n    \"hops\": {\"median\": ", f);
    struct knit_sim_mean mean;
    knit_sim_mean_init(&mean, ok);
    for (size_t i = 0; i < ok; i++)
        knit_sim_mean_add(&mean, hops[i] * 1000);
    if (ok) {
        fprintf(f, "%" PRIu64 ", \"mean\": ",
                hops[knit_sim_rank_index(ok, 1, 2)]);
        knit_sim_put_ms(f, knit_sim_mean_get(&mean), "null");
        fprintf(f, ", \"max\": %" PRIu64 "}", hops[ok - 1]);
    } else {
        fputs("null, \"mean\": null, \"max\": null}", f);
    }

    fputs(",\n    \"latency_ms\": ", f);
    put_percentiles(f, lat, ok, true, true);

    uint32_t qmax = 0;
    knit_sim_mean_init(&mean, m->lookups);
    for (size_t i = 0; i < m->lookups; i++) {
        knit_sim_mean_add(&mean, (uint64_t)m->lookup[i].queries * 1000);
        if (m->lookup[i].queries > qmax)
            qmax = m->lookup[i].queries;
    }
    fputs(",\n    \"queries\": {\"mean\": ", f);
    if (m->lookups) {
        knit_sim_put_ms(f, knit_sim_mean_get(&mean), "null");
        fprintf(f, ", \"max\": %" PRIu32 "}\n  },\n", qmax);
    } else {
        fputs("null, \"max\": null}\n  },\n", f);
    }
    free(lat);
    free(hops);
    return KNIT_OK;
}

/* The connection attempts' first-byte (direct: direct-session) times that
 * exist, sorted. */
static int sorted_connect_times(const struct knit_sim_metrics *m, bool direct,
                                uint64_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (m->connects == 0)
        return KNIT_OK;
    uint64_t *v = malloc(m->connects * sizeof *v);
    if (!v)
        return KNIT_E_NOMEM;
    size_t k = 0;
    for (size_t i = 0; i < m->connects; i++) {
        uint64_t us = direct ? m->connect[i].direct_us
                             : m->connect[i].first_byte_us;
        if (us != KNIT_SIM_NO_TIME)
            v[k++] = us;
    }
    qsort(v, k, sizeof *v, knit_sim_cmp_u64);
    *out = v;
    *n = k;
    return KNIT_OK;
}

static int put_connects(const struct knit_sim_metrics *m, FILE *f)
{
    uint64_t outcome[3] = {0}, fail[5] = {0};
    for (size_t i = 0; i < m->connects; i++) {
        outcome[m->connect[i].outcome]++;
        fail[m->connect[i].fail]++;
    }
    fprintf(f,
            "  \"connects\": {\n"
            "    \"count\": %zu,\n"
            "    \"direct\": %" PRIu64 ",\n"
            "    \"relayed\": %" PRIu64 ",\n"
            "    \"failed\": %" PRIu64 ",\n"
            "    \"connected_share\": ",
            m->connects, outcome[KNIT_SIM_OUTCOME_DIRECT],
            outcome[KNIT_SIM_OUTCOME_RELAYED],
            outcome[KNIT_SIM_OUTCOME_FAILED]);
    put_share(f, m->connects - outcome[KNIT_SIM_OUTCOME_FAILED], m->connects);
    fprintf(f,
            ",\n    \"fail\": {\"not_found\": %" PRIu64 ", \"no_session\": %"
            PRIu64 ", \"no_data\": %" PRIu64 ", \"went_away\": %" PRIu64 "}",
            fail[KNIT_SIM_FAIL_NOT_FOUND], fail[KNIT_SIM_FAIL_NO_SESSION],
            fail[KNIT_SIM_FAIL_NO_DATA], fail[KNIT_SIM_FAIL_WENT_AWAY]);
    for (int direct = 0; direct <= 1; direct++) {
        uint64_t *v;
        size_t n;
        int rc = sorted_connect_times(m, direct, &v, &n);
        if (rc)
            return rc;
        fprintf(f, ",\n    \"%s\": ", direct ? "direct_ms" : "first_byte_ms");
        put_percentiles(f, v, n, true, false);
        free(v);
    }
    fputs("\n  },\n", f);
    return KNIT_OK;
}

/* The nat_matrix entries, from the same cells as nat_matrix.csv. */
static int put_matrix(const struct knit_sim_metrics *m, FILE *f)
{
    struct knit_sim_cell cell[KNIT_SIM_CELLS];
    int rc = knit_sim_matrix(m, cell);
    if (rc)
        return rc;
    fputs("  \"nat_matrix\": [", f);
    for (size_t d = 0; d < m->classes; d++)
        for (size_t t = 0; t < m->classes; t++) {
            const struct knit_sim_cell *c = &cell[d * m->classes + t];
            fputs(d || t ? ",\n    {\"dialer\": " : "\n    {\"dialer\": ", f);
            put_string(f, m->class_name[d]);
            fputs(", \"target\": ", f);
            put_string(f, m->class_name[t]);
            fprintf(f,
                    ", \"attempts\": %" PRIu64 ", \"direct\": %" PRIu64
                    ", \"relayed\": %" PRIu64 ", \"failed\": %" PRIu64
                    ", \"connected_share\": ",
                    c->attempts, c->direct, c->relayed, c->failed);
            put_share(f, c->direct + c->relayed, c->attempts);
            fputs(", \"first_byte_ms_p50\": ", f);
            knit_sim_put_ms(f, c->first_byte_p50_us, "null");
            fputs(", \"direct_ms_p50\": ", f);
            knit_sim_put_ms(f, c->direct_p50_us, "null");
            fputc('}', f);
        }
    fputs("\n  ],\n", f);
    return KNIT_OK;
}

static uint64_t node_field(const struct knit_sim_node_sample *s, int field)
{
    switch (field) {
    case 0: return s->tx_packets;
    case 1: return s->tx_bytes;
    case 2: return s->rx_packets;
    case 3: return s->rx_bytes;
    case 4: return s->handshakes;
    default: return s->table_size;
    }
}

static int put_traffic(const struct knit_sim_metrics *m, FILE *f)
{
    static const char *const key[] = {
        "tx_packets_per_node", "tx_bytes_per_node",   "rx_packets_per_node",
        "rx_bytes_per_node",   "handshakes_per_node", "table_size_per_node"};
    uint64_t *v = NULL;
    if (m->nodes && !(v = malloc(m->nodes * sizeof *v)))
        return KNIT_E_NOMEM;
    fputs("  \"traffic\": {", f);
    for (int k = 0; k < 6; k++) {
        for (size_t i = 0; i < m->nodes; i++)
            v[i] = node_field(&m->node[i], k);
        if (m->nodes)
            qsort(v, m->nodes, sizeof *v, knit_sim_cmp_u64);
        fprintf(f, "%s\n    \"%s\": ", k ? "," : "", key[k]);
        put_percentiles(f, v, m->nodes, false, true);
    }
    fputs("\n  },\n", f);
    free(v);
    return KNIT_OK;
}

/* Relay load: integers only, 0 rather than null when nothing was relayed
 * (no relay carried anything: a load of zero, not a missing figure). */
static int put_relays(const struct knit_sim_metrics *m, FILE *f)
{
    const struct knit_sim_node_sample **v;
    size_t n;
    int rc = knit_sim_relay_nodes(m, &v, &n);
    if (rc)
        return rc;
    uint64_t circuits = 0, bytes = 0, p50 = 0, max = 0;
    for (size_t i = 0; i < m->nodes; i++) {
        circuits += m->node[i].relay_circuits;
        bytes += m->node[i].relay_bytes;
    }
    if (n) {
        /* v is busiest first: the nearest-rank median of the ascending
         * order sits at n - 1 - its index. */
        max = v[0]->relay_bytes;
        p50 = v[n - 1 - knit_sim_rank_index(n, 1, 2)]->relay_bytes;
    }
    fprintf(f,
            "  \"relays\": {\n"
            "    \"relay_nodes\": %zu,\n"
            "    \"circuits\": %" PRIu64 ",\n"
            "    \"bytes\": %" PRIu64 ",\n"
            "    \"bytes_p50\": %" PRIu64 ",\n"
            "    \"bytes_max\": %" PRIu64 "\n"
            "  },\n",
            n, circuits, bytes, p50, max);
    free(v);
    return KNIT_OK;
}

static void put_classes(const struct knit_sim_metrics *m, FILE *f)
{
    fputs("  \"classes\": [", f);
    for (size_t c = 0; c < m->classes; c++) {
        uint64_t nodes = 0, lookups = 0, ok = 0;
        for (size_t i = 0; i < m->nodes; i++)
            nodes += m->node[i].class_index == c;
        for (size_t i = 0; i < m->lookups; i++)
            if (m->lookup[i].target_class == c) {
                lookups++;
                ok += m->lookup[i].ok;
            }
        fprintf(f, "%s\n    {\"index\": %zu, \"name\": ", c ? "," : "", c);
        put_string(f, m->class_name[c]);
        fprintf(f,
                ", \"nodes\": %" PRIu64 ", \"lookups_targeted\": %" PRIu64
                ", \"lookups_ok\": %" PRIu64 "}",
                nodes, lookups, ok);
    }
    fputs("\n  ]\n", f);
}

int knit_sim_write_summary(const struct knit_sim_metrics *m, FILE *f)
{
    fputs("{\n", f);
    put_run(&m->run, f);
    int rc = put_lookups(m, f);
    if (!rc)
        rc = put_connects(m, f);
    if (!rc)
        rc = put_matrix(m, f);
    if (!rc)
        rc = put_traffic(m, f);
    if (!rc)
        rc = put_relays(m, f);
    if (rc)
        return rc;
    put_classes(m, f);
    fputs("}\n", f);
    return KNIT_OK;
}
