/* Scenario files (sim/scenario.h): lines, keys, the checks across keys,
 * loading, and the split of the nodes into public ones and NAT types. Each
 * key's values are read by sim/scenario_keys.c, single values (numbers,
 * units) by sim/scenario_values.c.
 *
 * Rules the header leaves open, decided here:
 * - Lines end with "\n" or "\r\n"; the last one may lack its newline. A
 *   line is at most KNIT_SCN_MAX_LINE bytes, its ending not counted. A NUL
 *   byte, or any other control character but tab (a lone "\r" included),
 *   is refused anywhere, comments included; bytes over 0x7f are fine in
 *   comments (UTF-8) and fail as unknown keys or bad values elsewhere.
 * - '#' starts a comment wherever it stands; no value contains one.
 *   Spaces and tabs separate tokens.
 * - "latency access" and "latency core" are two keys, each allowed once.
 * - The first problem wins: the lines in order, then the checks across keys
 *   in the order of finish(). A check across keys names the last line
 *   setting one of the keys involved (a key left at its default has no
 *   line), since that is where the conflict becomes visible.
 * - The NAT shares must sum to 1 within 1e-6; that error is on line 0, as
 *   the header says, no single nat line being at fault. Shares of 0 are
 *   allowed (the type gets no nodes), and so are nat lines when public is
 *   1 (they get no nodes, but their shares must still sum to 1).
 * - bootstrap must be at most round(nodes * public), the public nodes the
 *   file asks for; the "at least bootstrap" in knit_scenario_public_nodes
 *   only guards structs built by hand.
 * - Latencies (access, core, jitter) are at most 10 s each, so a path
 *   (access + core + access + jitter) stays far under the net's 1 min cap.
 * - join may be 0 (every node starts at time 0); warmup >= join; duration
 *   > 0 and warmup + duration must fit in uint64 microseconds.
 * - lookups and connects are each at most 100 000/s, and each may expect
 *   at most 10 000 000 events over the duration (rate * duration), which
 *   bounds a run's work and its metrics.
 * - nat options: timeout > 0 (0 would silently mean the NAT's own
 *   default), hosts 1..254 (a /24 behind each box), cgn 0..65535 (boxes
 *   sharing one CGN address's ports). ports defaults to preserve, the
 *   common home-router behaviour.
 * - churn and offline: fixed, exp and weibull durations > 0, Weibull shape
 *   in (0, 100]. "offline off" means a node that leaves never returns;
 *   with "churn off" the offline setting is kept but unused.
 * - bandwidth: RATE 1kbit..100gbit (powers of 1000) and QUEUE 1500b..1024mb
 *   (powers of 1024; at least one full-size datagram), or off.
 * - Parsing allocates nothing; knit_scenario_load allocates one buffer for
 *   the file and frees it before returning. */
#include "sim/scenario.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/scenario_internal.h"
#include "transport/error.h"

#define SECOND 1000000ull
#define MAX_WORKLOAD_EVENTS 10000000.0
#define SHARE_TOLERANCE 1e-6
/* More than any key takes ("nat" with every option is 10): a longer line
 * fails on an extra value among the ones kept. */
#define MAX_TOKENS 16

static int parse_tokens(struct knit_scn_parser *p,
                        const struct knit_scn_tok *tok, size_t ntok)
{
    char show[KNIT_SCN_SHOW_MAX];
    const struct knit_scn_key *k = NULL;
    size_t skip = 1;
    if (knit_scn_tok_is(tok[0], "latency")) {
        if (ntok < 2)
            return knit_scn_fail(p, p->line, "latency",
                                 "missing access or core (usage: latency "
                                 "access|core MIN MAX)");
        if (knit_scn_tok_is(tok[1], "access")) {
            k = &knit_scn_keys[KNIT_SCN_K_ACCESS];
        } else if (knit_scn_tok_is(tok[1], "core")) {
            k = &knit_scn_keys[KNIT_SCN_K_CORE];
        } else {
            knit_scn_tok_show(tok[1], show, sizeof show);
            return knit_scn_fail(p, p->line, "latency",
                                 "%s is not access or core", show);
        }
        skip = 2;
    } else {
        for (size_t i = 0; i < KNIT_SCN_K_COUNT && !k; i++)
            if (knit_scn_tok_is(tok[0], knit_scn_keys[i].name))
                k = &knit_scn_keys[i];
    }
    if (!k) {
        knit_scn_tok_show(tok[0], show, sizeof show);
        return knit_scn_fail(p, p->line, show, "unknown key");
    }
    if (k->id != KNIT_SCN_K_NAT && p->seen[k->id])
        return knit_scn_fail(p, p->line, k->name, "repeated (first on line %u)",
                             p->seen[k->id]);
    int err = k->apply(p, k, tok + skip, ntok - skip);
    if (err == KNIT_OK)
        p->seen[k->id] = p->line;
    return err;
}

static int parse_line(struct knit_scn_parser *p, const char *s, size_t len)
{
    if (len > KNIT_SCN_MAX_LINE)
        return knit_scn_fail(p, p->line, NULL, "longer than %d bytes",
                             KNIT_SCN_MAX_LINE);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == 0)
            return knit_scn_fail(p, p->line, NULL, "NUL byte at column %zu",
                                 i + 1);
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return knit_scn_fail(p, p->line, NULL,
                                 "control character 0x%02x at column %zu", c,
                                 i + 1);
    }
    const char *hash = memchr(s, '#', len);
    if (hash)
        len = (size_t)(hash - s);
    struct knit_scn_tok tok[MAX_TOKENS];
    size_t ntok = 0, i = 0;
    while (i < len && ntok < MAX_TOKENS) {
        while (i < len && (s[i] == ' ' || s[i] == '\t'))
            i++;
        if (i == len)
            break;
        size_t start = i;
        while (i < len && s[i] != ' ' && s[i] != '\t')
            i++;
        tok[ntok++] = (struct knit_scn_tok){s + start, i - start};
    }
    return ntok ? parse_tokens(p, tok, ntok) : KNIT_OK;
}

/* The last line among the keys given that the file sets. */
static unsigned latest(const struct knit_scn_parser *p,
                       const enum knit_scn_key_id *ids, size_t n)
{
    unsigned line = 0;
    for (size_t i = 0; i < n; i++)
        if (p->seen[ids[i]] > line)
            line = p->seen[ids[i]];
    return line;
}
#define LATEST(p, ...)                                                    \
    latest((p), (const enum knit_scn_key_id[]){__VA_ARGS__},              \
           sizeof((const enum knit_scn_key_id[]){__VA_ARGS__}) /         \
               sizeof(enum knit_scn_key_id))

static uint32_t requested_public(const struct knit_scenario *s)
{
    return (uint32_t)floor((double)s->nodes * s->public_share + 0.5);
}

static int check_workload(struct knit_scn_parser *p, enum knit_scn_key_id key,
                          double rate)
{
    const struct knit_scenario *s = p->s;
    double events = rate * ((double)s->duration_us / (double)SECOND);
    if (events <= MAX_WORKLOAD_EVENTS)
        return KNIT_OK;
    char d[32];
    knit_scn_format_duration(s->duration_us, d, sizeof d);
    return knit_scn_fail(p, LATEST(p, key, KNIT_SCN_K_DURATION),
                         knit_scn_keys[key].name,
                         "%g/s for %s is %.0f events, over %.0f", rate, d,
                         events, MAX_WORKLOAD_EVENTS);
}

/* The checks across keys, once every line is read. */
static int finish(struct knit_scn_parser *p)
{
    const struct knit_scenario *s = p->s;
    char a[32], b[32];
    if (s->nat_count > 0) {
        double sum = 0;
        for (size_t i = 0; i < s->nat_count; i++)
            sum += s->nat[i].share;
        if (fabs(sum - 1.0) > SHARE_TOLERANCE)
            return knit_scn_fail(p, 0, "nat",
                                 "the shares of the %zu NAT types sum to "
                                 "%.9g, not 1",
                                 s->nat_count, sum);
    }
    if (s->public_share < 1.0 && s->nat_count == 0)
        return knit_scn_fail(p, p->seen[KNIT_SCN_K_PUBLIC], "public",
                             "%g leaves nodes behind NATs, but no nat line "
                             "says which",
                             s->public_share);
    uint32_t pub = requested_public(s);
    if (s->bootstrap > pub)
        return knit_scn_fail(p,
                             LATEST(p, KNIT_SCN_K_NODES, KNIT_SCN_K_PUBLIC,
                                    KNIT_SCN_K_BOOTSTRAP),
                             "bootstrap",
                             "%u bootstrap nodes, but only %u public nodes "
                             "(nodes %u, public %g)",
                             s->bootstrap, pub, s->nodes, s->public_share);
    if (s->warmup_us < s->join_us) {
        knit_scn_format_duration(s->warmup_us, a, sizeof a);
        knit_scn_format_duration(s->join_us, b, sizeof b);
        return knit_scn_fail(p, LATEST(p, KNIT_SCN_K_JOIN, KNIT_SCN_K_WARMUP),
                             "warmup", "%s is shorter than join (%s)", a, b);
    }
    if (s->duration_us > UINT64_MAX - s->warmup_us)
        return knit_scn_fail(p,
                             LATEST(p, KNIT_SCN_K_WARMUP, KNIT_SCN_K_DURATION),
                             "duration",
                             "warmup + duration overflow 2^64 - 1 us");
    int err = check_workload(p, KNIT_SCN_K_LOOKUPS, s->lookup_rate);
    if (err == KNIT_OK)
        err = check_workload(p, KNIT_SCN_K_CONNECTS, s->connect_rate);
    return err;
}

static int parse_text(const char *text, size_t len, struct knit_scenario *out,
                      struct knit_scn_parser *p)
{
    memset(p, 0, sizeof *p);
    p->s = out;
    knit_scenario_defaults(out);
    if (len > KNIT_SCN_MAX_TEXT)
        return knit_scn_fail(p, 0, NULL,
                             "text is %zu bytes, over the limit of %u", len,
                             KNIT_SCN_MAX_TEXT);
    size_t pos = 0;
    while (pos < len) {
        p->line++;
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len;
        size_t stop = end;
        if (stop > pos && text[stop - 1] == '\r')
            stop--;
        int err = parse_line(p, text + pos, stop - pos);
        if (err)
            return err;
        pos = nl ? end + 1 : len;
    }
    return finish(p);
}

/* ---- the API ------------------------------------------------------------ */

void knit_scenario_defaults(struct knit_scenario *s)
{
    memset(s, 0, sizeof *s);
    s->nodes = 100;
    s->public_share = 1.0;
    s->bootstrap = 1;
    s->seed = 1;
    s->join_us = 30 * SECOND;
    s->warmup_us = 60 * SECOND;
    s->duration_us = 300 * SECOND;
    s->access_min_us = 1000;
    s->access_max_us = 10000;
    s->core_min_us = 5000;
    s->core_max_us = 60000;
    s->regions = 4;
    s->jitter_us = 1000;
    s->loss = 0;
    s->lifetime.kind = KNIT_SCN_DIST_NONE;
    s->offline.kind = KNIT_SCN_DIST_EXP;
    s->offline.scale_us = 300 * SECOND;
    s->lookup_rate = 10;
    s->connect_rate = 0;
}

int knit_scenario_parse(const char *text, size_t len, struct knit_scenario *out,
                        char *err, size_t errlen)
{
    struct knit_scn_parser p;
    int r;
    if (!out || (!text && len > 0)) {
        memset(&p, 0, sizeof p);
        r = knit_scn_fail(&p, 0, NULL, "no text or no scenario to fill");
    } else {
        r = parse_text(text, len, out, &p);
    }
    if (err && errlen > 0) {
        if (r)
            snprintf(err, errlen, "line %u: %s", p.err_line, p.msg);
        else
            err[0] = '\0';
    }
    return r;
}

__attribute__((format(printf, 3, 4))) static void
report(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

int knit_scenario_load(const char *path, struct knit_scenario *out, char *err,
                       size_t errlen)
{
    if (!path || !out) {
        report(err, errlen, "%s: no path or no scenario to fill",
               path ? path : "(null)");
        return KNIT_E_INVAL;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        report(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return KNIT_E_IO;
    }
    /* One byte more than allowed tells a file at the limit from a longer
     * one without reading the rest. */
    char *buf = malloc(KNIT_SCN_MAX_TEXT + 1);
    if (!buf) {
        fclose(f);
        report(err, errlen, "%s: out of memory", path);
        return KNIT_E_NOMEM;
    }
    size_t n = fread(buf, 1, KNIT_SCN_MAX_TEXT + 1, f);
    int read_errno = errno;
    bool failed = ferror(f) != 0;
    fclose(f);
    int r;
    if (failed) {
        report(err, errlen, "%s: cannot read: %s", path, strerror(read_errno));
        r = KNIT_E_IO;
    } else if (n > KNIT_SCN_MAX_TEXT) {
        report(err, errlen, "%s: longer than %u bytes", path,
               KNIT_SCN_MAX_TEXT);
        r = KNIT_E_INVAL;
    } else {
        struct knit_scn_parser p;
        r = parse_text(buf, n, out, &p);
        if (r)
            report(err, errlen, "%s:%u: %s", path, p.err_line, p.msg);
        else
            report(err, errlen, "%s", "");
    }
    free(buf);
    return r;
}

uint32_t knit_scenario_public_nodes(const struct knit_scenario *s)
{
    double share = s->public_share;
    if (!(share >= 0))
        share = 0;              /* NaN or negative, in a struct by hand */
    if (share > 1)
        share = 1;
    uint32_t pub = (uint32_t)floor((double)s->nodes * share + 0.5);
    if (pub < s->bootstrap)
        pub = s->bootstrap;
    if (pub > s->nodes)
        pub = s->nodes;
    return pub;
}

void knit_scenario_nat_counts(const struct knit_scenario *s, uint32_t *counts)
{
    size_t n = s->nat_count < KNIT_SCN_MAX_NATS ? s->nat_count
                                                : KNIT_SCN_MAX_NATS;
    if (n == 0)
        return;
    uint64_t natted = s->nodes - knit_scenario_public_nodes(s);
    /* Shares as integer weights (to 1e-9), so the split is exact integer
     * arithmetic: natted * weight <= 10^6 * 10^9 fits in 64 bits. */
    uint64_t weight[KNIT_SCN_MAX_NATS], remainder[KNIT_SCN_MAX_NATS];
    bool topped[KNIT_SCN_MAX_NATS] = {false};
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        double share = s->nat[i].share;
        weight[i] = share > 0 ? (uint64_t)floor((share > 1 ? 1 : share) * 1e9 +
                                                0.5)
                              : 0;
        total += weight[i];
    }
    if (total == 0) {           /* no share at all: split evenly */
        for (size_t i = 0; i < n; i++)
            weight[i] = 1;
        total = n;
    }
    uint64_t given = 0;
    for (size_t i = 0; i < n; i++) {
        counts[i] = (uint32_t)(natted * weight[i] / total);
        remainder[i] = natted * weight[i] % total;
        given += counts[i];
    }
    /* Fewer than n nodes are left; each goes to the largest remainder not
     * yet topped up, the earlier type on a tie. */
    for (; given < natted; given++) {
        size_t best = n;
        for (size_t i = 0; i < n; i++)
            if (!topped[i] && (best == n || remainder[i] > remainder[best]))
                best = i;
        topped[best] = true;
        counts[best]++;
    }
}
