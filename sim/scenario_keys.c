/* Scenario files: each key's values (sim/scenario_internal.h). The rules
 * chosen for each value, and why, are listed at the top of sim/scenario.c. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "proto/record.h"
#include "sim/nat.h"
#include "sim/scenario_internal.h"
#include "transport/error.h"

#define SECOND 1000000ull
#define MAX_LATENCY_US (10 * SECOND)
#define MAX_BOOTSTRAP 64
#define MAX_REGIONS 64
#define MAX_HOSTS_PER_BOX 254
#define MAX_CGN 65535
#define MAX_WEIBULL_SHAPE 100.0

int knit_scn_fail(struct knit_scn_parser *p, unsigned line, const char *key,
                  const char *fmt, ...)
{
    size_t off = 0;
    if (key) {
        int n = snprintf(p->msg, sizeof p->msg, "%s: ", key);
        off = n > 0 && (size_t)n < sizeof p->msg ? (size_t)n : 0;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->msg + off, sizeof p->msg - off, fmt, ap);
    va_end(ap);
    p->err_line = line;
    return KNIT_E_INVAL;
}

/* Exactly want values after the key. */
static int want(struct knit_scn_parser *p, const struct knit_scn_key *k,
                const struct knit_scn_tok *a, size_t n, size_t want_n)
{
    if (n < want_n)
        return knit_scn_fail(p, p->line, k->name,
                             "missing value (usage: %s %s)", k->name, k->usage);
    if (n > want_n) {
        char show[KNIT_SCN_SHOW_MAX];
        knit_scn_tok_show(a[want_n], show, sizeof show);
        return knit_scn_fail(p, p->line, k->name,
                             "extra value %s (usage: %s %s)", show, k->name,
                             k->usage);
    }
    return KNIT_OK;
}

static int one_uint(struct knit_scn_parser *p, const struct knit_scn_key *k,
                    const struct knit_scn_tok *a, size_t n, uint64_t min,
                    uint64_t max, uint64_t *out)
{
    char why[KNIT_SCN_WHY_MAX];
    int err = want(p, k, a, n, 1);
    if (err == KNIT_OK && knit_scn_uint(a[0], min, max, out, why, sizeof why))
        err = knit_scn_fail(p, p->line, k->name, "%s", why);
    return err;
}

static int one_share(struct knit_scn_parser *p, const struct knit_scn_key *k,
                     const struct knit_scn_tok *a, size_t n, double *out)
{
    char why[KNIT_SCN_WHY_MAX];
    int err = want(p, k, a, n, 1);
    if (err == KNIT_OK && knit_scn_share(a[0], out, why, sizeof why))
        err = knit_scn_fail(p, p->line, k->name, "%s", why);
    return err;
}

static int one_duration(struct knit_scn_parser *p, const struct knit_scn_key *k,
                        const struct knit_scn_tok *a, size_t n, uint64_t max,
                        uint64_t *out)
{
    char why[KNIT_SCN_WHY_MAX];
    int err = want(p, k, a, n, 1);
    if (err == KNIT_OK && knit_scn_duration(a[0], max, out, why, sizeof why))
        err = knit_scn_fail(p, p->line, k->name, "%s", why);
    return err;
}

/* ---- keys ---------------------------------------------------------------- */

static int apply_nodes(struct knit_scn_parser *p, const struct knit_scn_key *k,
                       const struct knit_scn_tok *a, size_t n)
{
    uint64_t v;
    int err = one_uint(p, k, a, n, 1, KNIT_SCN_MAX_NODES, &v);
    if (err == KNIT_OK)
        p->s->nodes = (uint32_t)v;
    return err;
}

static int apply_public(struct knit_scn_parser *p, const struct knit_scn_key *k,
                        const struct knit_scn_tok *a, size_t n)
{
    return one_share(p, k, a, n, &p->s->public_share);
}

static int apply_bootstrap(struct knit_scn_parser *p,
                           const struct knit_scn_key *k,
                           const struct knit_scn_tok *a, size_t n)
{
    uint64_t v;
    int err = one_uint(p, k, a, n, 1, MAX_BOOTSTRAP, &v);
    if (err == KNIT_OK)
        p->s->bootstrap = (uint32_t)v;
    return err;
}

static int apply_seed(struct knit_scn_parser *p, const struct knit_scn_key *k,
                      const struct knit_scn_tok *a, size_t n)
{
    return one_uint(p, k, a, n, 0, UINT64_MAX, &p->s->seed);
}

static int apply_time(struct knit_scn_parser *p, const struct knit_scn_key *k,
                      const struct knit_scn_tok *a, size_t n)
{
    struct knit_scenario *s = p->s;
    uint64_t *field = k->id == KNIT_SCN_K_JOIN     ? &s->join_us
                      : k->id == KNIT_SCN_K_WARMUP ? &s->warmup_us
                      : k->id == KNIT_SCN_K_JITTER ? &s->jitter_us
                                                   : &s->duration_us;
    uint64_t max = k->id == KNIT_SCN_K_JITTER ? MAX_LATENCY_US : UINT64_MAX;
    int err = one_duration(p, k, a, n, max, field);
    if (err == KNIT_OK && k->id == KNIT_SCN_K_DURATION && *field == 0)
        err = knit_scn_fail(p, p->line, k->name, "must be above 0");
    return err;
}

static int apply_latency(struct knit_scn_parser *p,
                         const struct knit_scn_key *k,
                         const struct knit_scn_tok *a, size_t n)
{
    char why[KNIT_SCN_WHY_MAX];
    uint64_t lo, hi;
    int err = want(p, k, a, n, 2);
    if (err)
        return err;
    if (knit_scn_duration(a[0], MAX_LATENCY_US, &lo, why, sizeof why) ||
        knit_scn_duration(a[1], MAX_LATENCY_US, &hi, why, sizeof why))
        return knit_scn_fail(p, p->line, k->name, "%s", why);
    if (lo > hi) {
        char lo_s[32], hi_s[32];
        knit_scn_format_duration(lo, lo_s, sizeof lo_s);
        knit_scn_format_duration(hi, hi_s, sizeof hi_s);
        return knit_scn_fail(p, p->line, k->name, "MIN %s is above MAX %s",
                             lo_s, hi_s);
    }
    if (k->id == KNIT_SCN_K_ACCESS) {
        p->s->access_min_us = lo;
        p->s->access_max_us = hi;
    } else {
        p->s->core_min_us = lo;
        p->s->core_max_us = hi;
    }
    return KNIT_OK;
}

static int apply_regions(struct knit_scn_parser *p,
                         const struct knit_scn_key *k,
                         const struct knit_scn_tok *a, size_t n)
{
    uint64_t v;
    int err = one_uint(p, k, a, n, 1, MAX_REGIONS, &v);
    if (err == KNIT_OK)
        p->s->regions = (uint32_t)v;
    return err;
}

static int apply_loss(struct knit_scn_parser *p, const struct knit_scn_key *k,
                      const struct knit_scn_tok *a, size_t n)
{
    return one_share(p, k, a, n, &p->s->loss);
}

static int apply_bandwidth(struct knit_scn_parser *p,
                           const struct knit_scn_key *k,
                           const struct knit_scn_tok *a, size_t n)
{
    char why[KNIT_SCN_WHY_MAX];
    if (n >= 1 && knit_scn_tok_is(a[0], "off")) {
        int err = want(p, k, a, n, 1);
        if (err == KNIT_OK) {
            p->s->uplink_bps = 0;
            p->s->queue_bytes = 0;
        }
        return err;
    }
    int err = want(p, k, a, n, 2);
    if (err)
        return err;
    uint64_t bps, queue;
    if (knit_scn_bitrate(a[0], &bps, why, sizeof why) ||
        knit_scn_size(a[1], &queue, why, sizeof why))
        return knit_scn_fail(p, p->line, k->name, "%s", why);
    p->s->uplink_bps = bps;
    p->s->queue_bytes = (uint32_t)queue;
    return KNIT_OK;
}

static int apply_dist(struct knit_scn_parser *p, const struct knit_scn_key *k,
                      const struct knit_scn_tok *a, size_t n)
{
    static const struct {
        const char *word;
        enum knit_scn_dist_kind kind;
        size_t values;          /* after the word */
        const char *scale_name;
    } kinds[] = {
        {"off", KNIT_SCN_DIST_NONE, 0, NULL},
        {"fixed", KNIT_SCN_DIST_FIXED, 1, "duration"},
        {"exp", KNIT_SCN_DIST_EXP, 1, "mean"},
        {"weibull", KNIT_SCN_DIST_WEIBULL, 2, "scale"},
    };
    char why[KNIT_SCN_WHY_MAX], show[KNIT_SCN_SHOW_MAX];
    if (n == 0)
        return want(p, k, a, n, 1);
    size_t i = 0;
    while (i < sizeof kinds / sizeof kinds[0] &&
           !knit_scn_tok_is(a[0], kinds[i].word))
        i++;
    if (i == sizeof kinds / sizeof kinds[0]) {
        knit_scn_tok_show(a[0], show, sizeof show);
        return knit_scn_fail(p, p->line, k->name,
                             "%s is not weibull, exp, fixed or off", show);
    }
    int err = want(p, k, a, n, 1 + kinds[i].values);
    if (err)
        return err;
    struct knit_scn_dist d = {.kind = kinds[i].kind};
    if (d.kind == KNIT_SCN_DIST_WEIBULL &&
        knit_scn_positive(a[1], MAX_WEIBULL_SHAPE, &d.shape, why, sizeof why))
        return knit_scn_fail(p, p->line, k->name, "shape %s", why);
    if (d.kind != KNIT_SCN_DIST_NONE) {
        const struct knit_scn_tok *scale = &a[kinds[i].values];
        if (knit_scn_duration(*scale, UINT64_MAX, &d.scale_us, why,
                              sizeof why))
            return knit_scn_fail(p, p->line, k->name, "%s %s",
                                 kinds[i].scale_name, why);
        if (d.scale_us == 0)
            return knit_scn_fail(p, p->line, k->name, "%s must be above 0",
                                 kinds[i].scale_name);
    }
    *(k->id == KNIT_SCN_K_CHURN ? &p->s->lifetime : &p->s->offline) = d;
    return KNIT_OK;
}

static int apply_rate(struct knit_scn_parser *p, const struct knit_scn_key *k,
                      const struct knit_scn_tok *a, size_t n)
{
    char why[KNIT_SCN_WHY_MAX];
    double *field = k->id == KNIT_SCN_K_LOOKUPS ? &p->s->lookup_rate
                                                : &p->s->connect_rate;
    int err = want(p, k, a, n, 1);
    if (err == KNIT_OK && knit_scn_rate(a[0], field, why, sizeof why))
        err = knit_scn_fail(p, p->line, k->name, "%s", why);
    return err;
}

/* ---- nat lines ----------------------------------------------------------- */

enum nat_option {
    OPT_MAPPING,
    OPT_FILTERING,
    OPT_PORTS,
    OPT_TIMEOUT,
    OPT_HAIRPIN,
    OPT_HOSTS,
    OPT_CGN,
    OPT_COUNT
};

static const char *const nat_option_names[OPT_COUNT] = {
    "mapping", "filtering", "ports", "timeout", "hairpin", "hosts", "cgn",
};

/* value among words[0..n), or -1. */
static int choice(struct knit_scn_tok value, const char *const *words, int n)
{
    for (int i = 0; i < n; i++)
        if (knit_scn_tok_is(value, words[i]))
            return i;
    return -1;
}

static int nat_name(struct knit_scn_parser *p, struct knit_scn_tok name)
{
    char show[KNIT_SCN_SHOW_MAX];
    knit_scn_tok_show(name, show, sizeof show);
    if (name.len >= KNIT_SCN_NAME_MAX)
        return knit_scn_fail(p, p->line, "nat",
                             "name %s is longer than %d characters", show,
                             KNIT_SCN_NAME_MAX - 1);
    for (size_t i = 0; i < name.len; i++) {
        char c = name.p[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '-' || c == '_'))
            return knit_scn_fail(p, p->line, "nat",
                                 "name %s may hold only letters, digits, '-' "
                                 "and '_'",
                                 show);
    }
    /* "public" is the class of the public nodes in the metrics. */
    static const char reserved[] = "public";
    bool is_public = name.len == sizeof reserved - 1;
    for (size_t i = 0; is_public && i < name.len; i++)
        is_public = (name.p[i] | 0x20) == reserved[i];
    if (is_public)
        return knit_scn_fail(p, p->line, "nat", "name %s is reserved", show);
    for (size_t i = 0; i < p->s->nat_count; i++)
        if (knit_scn_tok_is(name, p->s->nat[i].name))
            return knit_scn_fail(p, p->line, "nat",
                                 "name %s repeated (first on line %u)", show,
                                 p->nat_line[i]);
    return KNIT_OK;
}

static int nat_option(struct knit_scn_parser *p, enum nat_option opt,
                      struct knit_scn_tok value, struct knit_scn_nat_type *t)
{
    static const char *const mappings[] = {"eim", "adm", "apdm"};
    static const char *const filterings[] = {"eif", "adf", "apdf"};
    static const char *const ports[] = {"preserve", "sequential", "random"};
    static const char *const on_off[] = {"off", "on"};
    char why[KNIT_SCN_WHY_MAX], show[KNIT_SCN_SHOW_MAX];
    const char *name = nat_option_names[opt];
    knit_scn_tok_show(value, show, sizeof show);
    uint64_t v;
    int c;
    switch (opt) {
    case OPT_MAPPING:
        if ((c = choice(value, mappings, 3)) < 0)
            return knit_scn_fail(p, p->line, "nat",
                                 "mapping: %s is not eim, adm or apdm", show);
        t->mapping = (uint8_t)(KNIT_MAPPING_ENDPOINT_INDEPENDENT + c);
        return KNIT_OK;
    case OPT_FILTERING:
        if ((c = choice(value, filterings, 3)) < 0)
            return knit_scn_fail(p, p->line, "nat",
                                 "filtering: %s is not eif, adf or apdf", show);
        t->filtering = (uint8_t)(KNIT_FILTERING_ENDPOINT_INDEPENDENT + c);
        return KNIT_OK;
    case OPT_PORTS:
        if ((c = choice(value, ports, 3)) < 0)
            return knit_scn_fail(p, p->line, "nat",
                                 "ports: %s is not preserve, sequential or "
                                 "random",
                                 show);
        t->allocation = (uint8_t)(c == 0   ? KNIT_SIM_PORT_PRESERVING
                                  : c == 1 ? KNIT_SIM_PORT_SEQUENTIAL
                                           : KNIT_SIM_PORT_RANDOM);
        return KNIT_OK;
    case OPT_HAIRPIN:
        if ((c = choice(value, on_off, 2)) < 0)
            return knit_scn_fail(p, p->line, "nat",
                                 "hairpin: %s is not on or off", show);
        t->hairpin = c == 1;
        return KNIT_OK;
    case OPT_TIMEOUT:
        if (knit_scn_duration(value, UINT64_MAX, &t->timeout_us, why,
                              sizeof why))
            return knit_scn_fail(p, p->line, "nat", "timeout: %s", why);
        if (t->timeout_us == 0)
            return knit_scn_fail(p, p->line, "nat", "timeout: must be above 0");
        return KNIT_OK;
    case OPT_HOSTS:
    case OPT_CGN:
        if (knit_scn_uint(value, opt == OPT_HOSTS ? 1 : 0,
                          opt == OPT_HOSTS ? MAX_HOSTS_PER_BOX : MAX_CGN, &v,
                          why, sizeof why))
            return knit_scn_fail(p, p->line, "nat", "%s: %s", name, why);
        *(opt == OPT_HOSTS ? &t->hosts_per_box : &t->cgn) = (uint32_t)v;
        return KNIT_OK;
    case OPT_COUNT:
        break;
    }
    return KNIT_E_INVAL;
}

static int apply_nat(struct knit_scn_parser *p, const struct knit_scn_key *k,
                     const struct knit_scn_tok *a, size_t n)
{
    struct knit_scenario *s = p->s;
    char why[KNIT_SCN_WHY_MAX], show[KNIT_SCN_SHOW_MAX];
    if (n < 2)
        return knit_scn_fail(p, p->line, k->name, "missing %s (usage: nat %s)",
                             n == 0 ? "name" : "share", k->usage);
    if (s->nat_count == KNIT_SCN_MAX_NATS)
        return knit_scn_fail(p, p->line, k->name, "more than %d NAT types",
                             KNIT_SCN_MAX_NATS);
    int err = nat_name(p, a[0]);
    if (err)
        return err;
    struct knit_scn_nat_type t = {
        .allocation = KNIT_SIM_PORT_PRESERVING,
        .timeout_us = 120 * SECOND,
        .hosts_per_box = 1,
    };
    memcpy(t.name, a[0].p, a[0].len);
    if (knit_scn_share(a[1], &t.share, why, sizeof why))
        return knit_scn_fail(p, p->line, k->name, "%s", why);
    bool given[OPT_COUNT] = {false};
    for (size_t i = 2; i < n; i++) {
        knit_scn_tok_show(a[i], show, sizeof show);
        const char *eq = memchr(a[i].p, '=', a[i].len);
        if (!eq || eq == a[i].p || eq == a[i].p + a[i].len - 1)
            return knit_scn_fail(p, p->line, k->name,
                                 "option %s is not NAME=VALUE", show);
        struct knit_scn_tok key = {a[i].p, (size_t)(eq - a[i].p)};
        struct knit_scn_tok value = {eq + 1, a[i].len - key.len - 1};
        int opt = choice(key, nat_option_names, OPT_COUNT);
        if (opt < 0)
            return knit_scn_fail(p, p->line, k->name,
                                 "unknown option %s (mapping, filtering, "
                                 "ports, timeout, hairpin, hosts, cgn)",
                                 show);
        if (given[opt])
            return knit_scn_fail(p, p->line, k->name, "option %s repeated",
                                 nat_option_names[opt]);
        given[opt] = true;
        err = nat_option(p, (enum nat_option)opt, value, &t);
        if (err)
            return err;
    }
    if (!given[OPT_MAPPING])
        return knit_scn_fail(p, p->line, k->name,
                             "missing mapping=eim|adm|apdm");
    if (!given[OPT_FILTERING])
        return knit_scn_fail(p, p->line, k->name,
                             "missing filtering=eif|adf|apdf");
    p->nat_line[s->nat_count] = p->line;
    s->nat[s->nat_count++] = t;
    return KNIT_OK;
}

/* ---- the key table ------------------------------------------------------ */

#define DIST_USAGE "weibull SHAPE SCALE | exp MEAN | fixed DURATION | off"

const struct knit_scn_key knit_scn_keys[KNIT_SCN_K_COUNT] = {
    {KNIT_SCN_K_NODES, "nodes", "N", apply_nodes},
    {KNIT_SCN_K_PUBLIC, "public", "SHARE", apply_public},
    {KNIT_SCN_K_BOOTSTRAP, "bootstrap", "N", apply_bootstrap},
    {KNIT_SCN_K_SEED, "seed", "N", apply_seed},
    {KNIT_SCN_K_JOIN, "join", "DURATION", apply_time},
    {KNIT_SCN_K_WARMUP, "warmup", "DURATION", apply_time},
    {KNIT_SCN_K_DURATION, "duration", "DURATION", apply_time},
    {KNIT_SCN_K_ACCESS, "latency access", "MIN MAX", apply_latency},
    {KNIT_SCN_K_CORE, "latency core", "MIN MAX", apply_latency},
    {KNIT_SCN_K_REGIONS, "regions", "N", apply_regions},
    {KNIT_SCN_K_JITTER, "jitter", "DURATION", apply_time},
    {KNIT_SCN_K_LOSS, "loss", "SHARE", apply_loss},
    {KNIT_SCN_K_BANDWIDTH, "bandwidth", "RATE QUEUE | off", apply_bandwidth},
    {KNIT_SCN_K_NAT, "nat",
     "NAME SHARE mapping=eim|adm|apdm filtering=eif|adf|apdf "
     "[ports=preserve|sequential|random] [timeout=DURATION] [hairpin=on|off] "
     "[hosts=N] [cgn=N]",
     apply_nat},
    {KNIT_SCN_K_CHURN, "churn", DIST_USAGE, apply_dist},
    {KNIT_SCN_K_OFFLINE, "offline", DIST_USAGE, apply_dist},
    {KNIT_SCN_K_LOOKUPS, "lookups", "RATE", apply_rate},
    {KNIT_SCN_K_CONNECTS, "connects", "RATE", apply_rate},
};
