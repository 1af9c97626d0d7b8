/* Keeping what a simulated run measured (sim/metrics.h), and the integer
 * arithmetic its figures are computed with (sim/metrics_internal.h). The
 * files are written by sim/metrics_write.c and sim/metrics_json.c. */
#include "sim/metrics.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sim/metrics_internal.h"
#include "transport/error.h"

/* ---- arithmetic ---------------------------------------------------------- */

int knit_sim_grow(void **items, size_t *cap, size_t len, size_t size)
{
    if (len < *cap)
        return KNIT_OK;
    size_t want = *cap ? *cap : 64;
    if (*cap) {
        if (*cap > SIZE_MAX / 2)
            return KNIT_E_NOMEM;
        want = *cap * 2;
    }
    if (size == 0 || want > SIZE_MAX / size)
        return KNIT_E_NOMEM;
    void *grown = realloc(*items, want * size);
    if (!grown)
        return KNIT_E_NOMEM;
    *items = grown;
    *cap = want;
    return KNIT_OK;
}

size_t knit_sim_rank_index(size_t n, uint64_t num, uint64_t den)
{
    /* ceil(n * num / den) without forming n * num: split n by den. */
    uint64_t whole = (uint64_t)n / den * num;
    uint64_t part = (uint64_t)n % den * num;   /* < den^2 <= 10^12 */
    uint64_t rank = whole + part / den + (part % den ? 1 : 0);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return (size_t)(rank - 1);
}

uint64_t knit_sim_round_ratio(uint64_t a, uint64_t b, uint64_t scale)
{
    if (b == 0)
        return 0;
    while (b > UINT64_MAX / 1000000u) {
        a >>= 1;
        b >>= 1;
    }
    uint64_t whole = a / b * scale;
    uint64_t part = a % b * scale;             /* < b * 10^6: no overflow */
    uint64_t q = part / b, r = part % b;
    return whole + q + (r >= b - r ? 1 : 0);   /* half up: 2r >= b */
}

void knit_sim_mean_init(struct knit_sim_mean *a, uint64_t n)
{
    a->n = n;
    a->q = 0;
    a->r = 0;
}

void knit_sim_mean_add(struct knit_sim_mean *a, uint64_t v)
{
    if (a->n == 0)
        return;
    a->q += v / a->n;
    uint64_t rest = v % a->n;
    /* r + rest < 2n, compared without forming it */
    if (rest >= a->n - a->r) {
        a->q++;
        a->r = rest - (a->n - a->r);
    } else {
        a->r += rest;
    }
}

uint64_t knit_sim_mean_get(const struct knit_sim_mean *a)
{
    if (a->n == 0)
        return 0;
    return a->q + (a->r >= a->n - a->r ? 1 : 0);
}

int knit_sim_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

void knit_sim_put_ms(FILE *f, uint64_t us, const char *none)
{
    if (us == KNIT_SIM_NO_TIME)
        fputs(none, f);
    else
        fprintf(f, "%" PRIu64 ".%03" PRIu64, us / 1000, us % 1000);
}

void knit_sim_put_micro(FILE *f, uint64_t v)
{
    fprintf(f, "%" PRIu64 ".%06" PRIu64, v / 1000000, v % 1000000);
}

/* ---- the object ---------------------------------------------------------- */

static bool valid_class_name(const char *name)
{
    size_t len = strnlen(name, KNIT_SIM_CLASS_NAME_MAX);
    if (len == 0 || len >= KNIT_SIM_CLASS_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (name[i] < 0x21 || name[i] > 0x7e || name[i] == ',' ||
            name[i] == '"')
            return false;   /* would need quoting in CSV and gnuplot */
    return true;
}

int knit_sim_metrics_new(struct knit_sim_metrics **out,
                         const char *const *classes, size_t n)
{
    if (!out)
        return KNIT_E_INVAL;
    *out = NULL;
    if (!classes || n == 0 || n > KNIT_SIM_MAX_CLASSES)
        return KNIT_E_INVAL;
    for (size_t i = 0; i < n; i++) {
        if (!classes[i] || !valid_class_name(classes[i]))
            return KNIT_E_INVAL;
        for (size_t j = 0; j < i; j++)
            if (strcmp(classes[i], classes[j]) == 0)
                return KNIT_E_INVAL;
    }
    struct knit_sim_metrics *m = calloc(1, sizeof *m);
    if (!m)
        return KNIT_E_NOMEM;
    for (size_t i = 0; i < n; i++)
        strcpy(m->class_name[i], classes[i]);   /* length checked above */
    m->classes = n;
    *out = m;
    return KNIT_OK;
}

void knit_sim_metrics_free(struct knit_sim_metrics *m)
{
    if (!m)
        return;
    free(m->lookup);
    free(m->connect);
    free(m->node);
    free(m);
}

int knit_sim_metrics_lookup(struct knit_sim_metrics *m,
                            const struct knit_sim_lookup_sample *s)
{
    if (!m || !s || s->target_class >= m->classes)
        return KNIT_E_INVAL;
    int rc = knit_sim_grow((void **)&m->lookup, &m->lookup_cap, m->lookups,
                           sizeof *m->lookup);
    if (rc)
        return rc;
    m->lookup[m->lookups++] = *s;
    return KNIT_OK;
}

int knit_sim_metrics_connect(struct knit_sim_metrics *m,
                             const struct knit_sim_connect_sample *s)
{
    if (!m || !s || s->dialer_class >= m->classes ||
        s->target_class >= m->classes ||
        s->outcome > KNIT_SIM_OUTCOME_FAILED ||
        s->fail > KNIT_SIM_FAIL_WENT_AWAY)
        return KNIT_E_INVAL;
    int rc = knit_sim_grow((void **)&m->connect, &m->connect_cap,
                           m->connects, sizeof *m->connect);
    if (rc)
        return rc;
    m->connect[m->connects++] = *s;
    return KNIT_OK;
}

int knit_sim_metrics_node(struct knit_sim_metrics *m,
                          const struct knit_sim_node_sample *s)
{
    if (!m || !s || s->class_index >= m->classes)
        return KNIT_E_INVAL;
    int rc = knit_sim_grow((void **)&m->node, &m->node_cap, m->nodes,
                           sizeof *m->node);
    if (rc)
        return rc;
    m->node[m->nodes++] = *s;
    return KNIT_OK;
}

void knit_sim_metrics_set_run(struct knit_sim_metrics *m,
                              const struct knit_sim_run_info *info)
{
    if (m && info)
        m->run = *info;
}

/* ---- figures ------------------------------------------------------------- */

static int sorted_ok(const struct knit_sim_metrics *m, bool hops,
                     uint64_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    size_t ok = 0;
    for (size_t i = 0; i < m->lookups; i++)
        ok += m->lookup[i].ok;
    if (ok == 0)
        return KNIT_OK;
    uint64_t *v = malloc(ok * sizeof *v);   /* ok <= lookups: fits */
    if (!v)
        return KNIT_E_NOMEM;
    size_t k = 0;
    for (size_t i = 0; i < m->lookups; i++)
        if (m->lookup[i].ok)
            v[k++] = hops ? m->lookup[i].hops : m->lookup[i].latency_us;
    qsort(v, k, sizeof *v, knit_sim_cmp_u64);
    *out = v;
    *n = k;
    return KNIT_OK;
}

int knit_sim_sorted_ok_latencies(const struct knit_sim_metrics *m,
                                 uint64_t **out, size_t *n)
{
    return sorted_ok(m, false, out, n);
}

int knit_sim_sorted_ok_hops(const struct knit_sim_metrics *m, uint64_t **out,
                            size_t *n)
{
    return sorted_ok(m, true, out, n);
}

/* p is taken to four decimals (99.9 is exactly 999000 / 10^6). Out of
 * memory, like no successful lookup, gives KNIT_SIM_NO_TIME. */
uint64_t knit_sim_metrics_lookup_percentile(const struct knit_sim_metrics *m,
                                            double p)
{
    if (!m || isnan(p))
        return KNIT_SIM_NO_TIME;
    if (p < 0)
        p = 0;
    if (p > 100)
        p = 100;
    uint64_t num = (uint64_t)llround(p * 10000.0);
    uint64_t *v;
    size_t n;
    if (knit_sim_sorted_ok_latencies(m, &v, &n) != KNIT_OK || n == 0)
        return KNIT_SIM_NO_TIME;
    uint64_t at = num ? v[knit_sim_rank_index(n, num, 1000000)] : v[0];
    free(v);
    return at;
}

uint32_t knit_sim_metrics_median_hops(const struct knit_sim_metrics *m)
{
    if (!m)
        return 0;
    uint64_t *v;
    size_t n;
    if (knit_sim_sorted_ok_hops(m, &v, &n) != KNIT_OK || n == 0)
        return 0;
    uint32_t median = (uint32_t)v[knit_sim_rank_index(n, 1, 2)];
    free(v);
    return median;
}

size_t knit_sim_metrics_lookups(const struct knit_sim_metrics *m, size_t *ok)
{
    size_t good = 0;
    if (m)
        for (size_t i = 0; i < m->lookups; i++)
            good += m->lookup[i].ok;
    if (ok)
        *ok = good;
    return m ? m->lookups : 0;
}

/* ---- the NAT matrix ------------------------------------------------------ */

/* A (cell, time) pair: sorting them groups each cell's times, ascending. */
struct cell_time {
    uint64_t us;
    uint32_t cell;
};

static int cmp_cell_time(const void *a, const void *b)
{
    const struct cell_time *x = a, *y = b;
    if (x->cell != y->cell)
        return (x->cell > y->cell) - (x->cell < y->cell);
    return (x->us > y->us) - (x->us < y->us);
}

/* Sets each cell's median first-byte (direct: direct-session) time. */
static int cell_medians(const struct knit_sim_metrics *m, bool direct,
                        struct knit_sim_cell *cell)
{
    if (m->connects == 0)
        return KNIT_OK;
    struct cell_time *t = malloc(m->connects * sizeof *t);
    if (!t)
        return KNIT_E_NOMEM;
    size_t n = 0;
    for (size_t i = 0; i < m->connects; i++) {
        const struct knit_sim_connect_sample *s = &m->connect[i];
        uint64_t us = direct ? s->direct_us : s->first_byte_us;
        if (us == KNIT_SIM_NO_TIME)
            continue;
        t[n].us = us;
        t[n].cell = (uint32_t)(s->dialer_class * m->classes + s->target_class);
        n++;
    }
    qsort(t, n, sizeof *t, cmp_cell_time);
    for (size_t lo = 0; lo < n;) {
        size_t hi = lo;
        while (hi < n && t[hi].cell == t[lo].cell)
            hi++;
        uint64_t med = t[lo + knit_sim_rank_index(hi - lo, 1, 2)].us;
        if (direct)
            cell[t[lo].cell].direct_p50_us = med;
        else
            cell[t[lo].cell].first_byte_p50_us = med;
        lo = hi;
    }
    free(t);
    return KNIT_OK;
}

int knit_sim_matrix(const struct knit_sim_metrics *m,
                    struct knit_sim_cell cell[KNIT_SIM_CELLS])
{
    for (size_t c = 0; c < KNIT_SIM_CELLS; c++)
        cell[c] = (struct knit_sim_cell){
            .first_byte_p50_us = KNIT_SIM_NO_TIME,
            .direct_p50_us = KNIT_SIM_NO_TIME,
        };
    for (size_t i = 0; i < m->connects; i++) {
        const struct knit_sim_connect_sample *s = &m->connect[i];
        struct knit_sim_cell *c =
            &cell[s->dialer_class * m->classes + s->target_class];
        c->attempts++;
        if (s->outcome == KNIT_SIM_OUTCOME_DIRECT)
            c->direct++;
        else if (s->outcome == KNIT_SIM_OUTCOME_RELAYED)
            c->relayed++;
        else
            c->failed++;
    }
    int rc = cell_medians(m, false, cell);
    return rc ? rc : cell_medians(m, true, cell);
}

/* ---- relay load ---------------------------------------------------------- */

static int cmp_relay_ptr(const void *a, const void *b)
{
    const struct knit_sim_node_sample *x =
        *(const struct knit_sim_node_sample *const *)a;
    const struct knit_sim_node_sample *y =
        *(const struct knit_sim_node_sample *const *)b;
    if (x->relay_bytes != y->relay_bytes)
        return (x->relay_bytes < y->relay_bytes) -
               (x->relay_bytes > y->relay_bytes);
    if (x->relay_circuits != y->relay_circuits)
        return (x->relay_circuits < y->relay_circuits) -
               (x->relay_circuits > y->relay_circuits);
    if (x->index != y->index)
        return (x->index > y->index) - (x->index < y->index);
    return (x > y) - (x < y);
}

int knit_sim_relay_nodes(const struct knit_sim_metrics *m,
                         const struct knit_sim_node_sample ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    size_t count = 0;
    for (size_t i = 0; i < m->nodes; i++)
        count += m->node[i].relay_circuits > 0;
    if (count == 0)
        return KNIT_OK;
    const struct knit_sim_node_sample **v = malloc(count * sizeof *v);
    if (!v)
        return KNIT_E_NOMEM;
    size_t k = 0;
    for (size_t i = 0; i < m->nodes; i++)
        if (m->node[i].relay_circuits > 0)
            v[k++] = &m->node[i];
    qsort(v, k, sizeof *v, cmp_relay_ptr);
    *out = v;
    *n = k;
    return KNIT_OK;
}
