/* Writing the metrics folder (sim/metrics.h): the folder itself and the CSV
 * files. summary.json is sim/metrics_json.c.
 *
 * Every number is an integer or a fixed-point figure formatted from integers
 * (sim/metrics_internal.h), rows come in an order fixed by the samples, so
 * the same samples give byte-identical files. */
#include "sim/metrics.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sim/metrics_internal.h"
#include "transport/error.h"

#define PATH_CAP 4096

static const char *const OUTCOME_NAME[] = {"direct", "relayed", "failed"};
static const char *const FAIL_NAME[] = {"none", "not_found", "no_session",
                                        "no_data", "went_away"};

static void set_err(char *err, size_t errlen, const char *path,
                    const char *why)
{
    if (err && errlen)
        snprintf(err, errlen, "%s: %s", path, why);
}

/* ---- lookups.csv, lookup_latency_cdf.csv, lookup_hops.csv ---------------- */

static int write_lookups(const struct knit_sim_metrics *m, FILE *f)
{
    fputs(KNIT_SIM_CSV_LOOKUPS "\n", f);
    for (size_t i = 0; i < m->lookups; i++) {
        const struct knit_sim_lookup_sample *s = &m->lookup[i];
        knit_sim_put_ms(f, s->at_us, "");
        fputc(',', f);
        knit_sim_put_ms(f, s->latency_us, "");
        fprintf(f, ",%d,%u,%" PRIu32 ",%s\n", s->ok ? 1 : 0,
                (unsigned)s->hops, s->queries,
                m->class_name[s->target_class]);
    }
    return KNIT_OK;
}

/* One row per distinct latency with the share of successful lookups at or
 * below it; over KNIT_SIM_CDF_EXACT_MAX lookups, the latency at each
 * 1/KNIT_SIM_CDF_QUANTILES quantile (nearest rank) instead, a latency
 * repeated by consecutive quantiles written once with the highest. */
static int write_latency_cdf(const struct knit_sim_metrics *m, FILE *f)
{
    uint64_t *v;
    size_t n;
    int rc = knit_sim_sorted_ok_latencies(m, &v, &n);
    if (rc)
        return rc;
    fputs(KNIT_SIM_CSV_LATENCY_CDF "\n", f);
    if (n <= KNIT_SIM_CDF_EXACT_MAX) {
        for (size_t i = 0; i < n; i++) {
            if (i + 1 < n && v[i + 1] == v[i])
                continue;
            knit_sim_put_ms(f, v[i], "");
            fputc(',', f);
            knit_sim_put_micro(f, knit_sim_round_ratio(i + 1, n, 1000000));
            fputc('\n', f);
        }
    } else {
        for (uint64_t q = 1; q <= KNIT_SIM_CDF_QUANTILES; q++) {
            uint64_t at = v[knit_sim_rank_index(n, q, KNIT_SIM_CDF_QUANTILES)];
            if (q < KNIT_SIM_CDF_QUANTILES &&
                v[knit_sim_rank_index(n, q + 1, KNIT_SIM_CDF_QUANTILES)] == at)
                continue;
            knit_sim_put_ms(f, at, "");
            fputc(',', f);
            knit_sim_put_micro(
                f, knit_sim_round_ratio(q, KNIT_SIM_CDF_QUANTILES, 1000000));
            fputc('\n', f);
        }
    }
    free(v);
    return KNIT_OK;
}

/* Every hop count from 0 to the largest seen, zeros included, so the
 * histogram has no holes. Successful lookups only. */
static int write_hops(const struct knit_sim_metrics *m, FILE *f)
{
    fputs(KNIT_SIM_CSV_HOPS "\n", f);
    uint16_t max = 0;
    size_t ok = 0;
    for (size_t i = 0; i < m->lookups; i++)
        if (m->lookup[i].ok) {
            ok++;
            if (m->lookup[i].hops > max)
                max = m->lookup[i].hops;
        }
    if (ok == 0)
        return KNIT_OK;
    uint64_t *count = calloc((size_t)max + 1, sizeof *count);
    if (!count)
        return KNIT_E_NOMEM;
    for (size_t i = 0; i < m->lookups; i++)
        if (m->lookup[i].ok)
            count[m->lookup[i].hops]++;
    for (size_t h = 0; h <= max; h++)
        fprintf(f, "%zu,%" PRIu64 "\n", h, count[h]);
    free(count);
    return KNIT_OK;
}

/* ---- connects.csv, nat_matrix.csv ---------------------------------------- */

static int write_connects(const struct knit_sim_metrics *m, FILE *f)
{
    fputs(KNIT_SIM_CSV_CONNECTS "\n", f);
    for (size_t i = 0; i < m->connects; i++) {
        const struct knit_sim_connect_sample *s = &m->connect[i];
        knit_sim_put_ms(f, s->at_us, "");
        fprintf(f, ",%s,%s,%s,%s,", m->class_name[s->dialer_class],
                m->class_name[s->target_class], OUTCOME_NAME[s->outcome],
                FAIL_NAME[s->fail]);
        knit_sim_put_ms(f, s->first_byte_us, "");
        fputc(',', f);
        knit_sim_put_ms(f, s->direct_us, "");
        fputc('\n', f);
    }
    return KNIT_OK;
}

/* Every (dialer, target) pair, dialer-major, pairs without attempts too so
 * a plot gets the whole grid. connected_share = (direct + relayed) /
 * attempts, empty without attempts (like a time that does not exist). */
static int write_nat_matrix(const struct knit_sim_metrics *m, FILE *f)
{
    struct knit_sim_cell cell[KNIT_SIM_CELLS];
    int rc = knit_sim_matrix(m, cell);
    if (rc)
        return rc;
    fputs(KNIT_SIM_CSV_NAT_MATRIX "\n", f);
    for (size_t d = 0; d < m->classes; d++)
        for (size_t t = 0; t < m->classes; t++) {
            const struct knit_sim_cell *c = &cell[d * m->classes + t];
            fprintf(f,
                    "%zu,%zu,%s,%s,%" PRIu64 ",%" PRIu64 ",%" PRIu64
                    ",%" PRIu64 ",",
                    d, t, m->class_name[d], m->class_name[t], c->attempts,
                    c->direct, c->relayed, c->failed);
            if (c->attempts)
                knit_sim_put_micro(
                    f, knit_sim_round_ratio(c->direct + c->relayed,
                                            c->attempts, 1000000));
            fputc(',', f);
            knit_sim_put_ms(f, c->first_byte_p50_us, "");
            fputc(',', f);
            knit_sim_put_ms(f, c->direct_p50_us, "");
            fputc('\n', f);
        }
    return KNIT_OK;
}

/* ---- nodes.csv ----------------------------------------------------------- */

/* Orders pointers into the node array by node index, then by position in
 * the array (the order they were reported), so the order is total. */
static int cmp_node_ptr(const void *a, const void *b)
{
    const struct knit_sim_node_sample *x =
        *(const struct knit_sim_node_sample *const *)a;
    const struct knit_sim_node_sample *y =
        *(const struct knit_sim_node_sample *const *)b;
    if (x->index != y->index)
        return (x->index > y->index) - (x->index < y->index);
    return (x > y) - (x < y);
}

static int write_nodes(const struct knit_sim_metrics *m, FILE *f)
{
    const struct knit_sim_node_sample **order = NULL;
    if (m->nodes) {
        order = malloc(m->nodes * sizeof *order);
        if (!order)
            return KNIT_E_NOMEM;
        for (size_t i = 0; i < m->nodes; i++)
            order[i] = &m->node[i];
        qsort(order, m->nodes, sizeof *order, cmp_node_ptr);
    }
    fputs(KNIT_SIM_CSV_NODES "\n", f);
    for (size_t i = 0; i < m->nodes; i++) {
        const struct knit_sim_node_sample *s = order[i];
        fprintf(f, "%" PRIu32 ",%s,%d,%" PRIu32 ",", s->index,
                m->class_name[s->class_index], s->bootstrap ? 1 : 0,
                s->joins);
        knit_sim_put_ms(f, s->online_us, "");
        fprintf(f,
                ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64
                ",%" PRIu32 ",%" PRIu64 ",%" PRIu64 "\n",
                s->tx_packets, s->tx_bytes, s->rx_packets, s->rx_bytes,
                s->handshakes, s->table_size, s->relay_circuits,
                s->relay_bytes);
    }
    free(order);
    return KNIT_OK;
}

/* ---- relays.csv ---------------------------------------------------------- */

/* One row per node that relayed a circuit, busiest first, ranked from 1
 * (knit_sim_relay_nodes gives the order). */
static int write_relays(const struct knit_sim_metrics *m, FILE *f)
{
    const struct knit_sim_node_sample **v;
    size_t n;
    int rc = knit_sim_relay_nodes(m, &v, &n);
    if (rc)
        return rc;
    fputs(KNIT_SIM_CSV_RELAYS "\n", f);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%zu,%" PRIu32 ",%s,%" PRIu64 ",%" PRIu64 "\n", i + 1,
                v[i]->index, m->class_name[v[i]->class_index],
                v[i]->relay_circuits, v[i]->relay_bytes);
    free(v);
    return KNIT_OK;
}

/* ---- the folder ---------------------------------------------------------- */

static int make_dir(const char *dir, char *err, size_t errlen)
{
    if (mkdir(dir, 0755) == 0)
        return KNIT_OK;
    int e = errno;
    struct stat st;
    if (e == EEXIST && stat(dir, &st) == 0) {
        if (S_ISDIR(st.st_mode))
            return KNIT_OK;
        set_err(err, errlen, dir, "exists and is not a folder");
        return KNIT_E_IO;
    }
    set_err(err, errlen, dir, strerror(e));
    return KNIT_E_IO;
}

static const struct {
    const char *name;
    int (*write)(const struct knit_sim_metrics *m, FILE *f);
} FILES[] = {
    {"summary.json", knit_sim_write_summary},
    {"lookups.csv", write_lookups},
    {"lookup_latency_cdf.csv", write_latency_cdf},
    {"lookup_hops.csv", write_hops},
    {"connects.csv", write_connects},
    {"nat_matrix.csv", write_nat_matrix},
    {"nodes.csv", write_nodes},
    {"relays.csv", write_relays},
};

static int write_file(const struct knit_sim_metrics *m, const char *path,
                      int (*fn)(const struct knit_sim_metrics *, FILE *),
                      char *err, size_t errlen)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        set_err(err, errlen, path, strerror(errno));
        return KNIT_E_IO;
    }
    int rc = fn(m, f);
    bool bad = ferror(f) != 0;
    errno = 0;
    if (fflush(f) != 0)
        bad = true;
    int e = errno;
    if (fclose(f) != 0) {
        if (!bad)
            e = errno;
        bad = true;
    }
    if (rc == KNIT_E_NOMEM) {
        set_err(err, errlen, path, "out of memory");
        return rc;
    }
    if (bad) {
        set_err(err, errlen, path, e ? strerror(e) : "write failed");
        return KNIT_E_IO;
    }
    return rc;
}

int knit_sim_metrics_write(const struct knit_sim_metrics *m, const char *dir,
                           char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!m || !dir || !dir[0]) {
        if (err && errlen)
            snprintf(err, errlen, "no metrics or no folder given");
        return KNIT_E_INVAL;
    }
    int rc = make_dir(dir, err, errlen);
    if (rc)
        return rc;
    for (size_t i = 0; i < sizeof FILES / sizeof FILES[0]; i++) {
        char path[PATH_CAP];
        int len = snprintf(path, sizeof path, "%s/%s", dir, FILES[i].name);
        if (len < 0 || (size_t)len >= sizeof path) {
            set_err(err, errlen, dir, "path too long");
            return KNIT_E_IO;
        }
        rc = write_file(m, path, FILES[i].write, err, errlen);
        if (rc)
            return rc;
    }
    return KNIT_OK;
}
