/* AutoNAT client verdicts (see reachability.h for the rules): two small
 * state machines for reachability, one per dial-back kind, and a bounded
 * history of answers for filtering. */
#include "node/reachability.h"

#include <stdlib.h>
#include <string.h>

#include "proto/record.h"
#include "transport/error.h"

/* A server as a source: the IPv4 address or the IPv6 /64. */
struct source {
    uint8_t key[9];
    uint8_t len;
};

struct machine {
    uint8_t status;                     /* enum knit_reachability */
    uint8_t confidence;
    uint8_t run_dir;                    /* direction of the current run */
    uint32_t run_len;                   /* answers counted in it */
    struct source run_src[KNIT_REACH_SETTLE];   /* its latest servers */
    uint8_t run_src_n, run_src_next;
    struct source servers[KNIT_REACH_SETTLE];   /* distinct, up to 3 */
    uint8_t server_n;
};

struct answer {
    struct source src;
    uint8_t kind;
    bool arrived;
    uint64_t at;
};

struct knit_reach {
    uint64_t max_age;
    struct machine by_kind[2];          /* kind 1, kind 2 */
    struct answer history[KNIT_REACH_HISTORY];
    uint32_t history_n, history_next;
};

int knit_reach_new(struct knit_reach **out, const struct knit_reach_config *cfg)
{
    if (!out)
        return KNIT_E_INVAL;
    *out = NULL;
    struct knit_reach *r = calloc(1, sizeof *r);
    if (!r)
        return KNIT_E_NOMEM;
    r->max_age = cfg && cfg->max_age ? cfg->max_age : KNIT_REACH_DEFAULT_MAX_AGE;
    *out = r;
    return KNIT_OK;
}

void knit_reach_free(struct knit_reach *r)
{
    free(r);
}

static struct source source_of(const struct knit_addr *a)
{
    static const uint8_t mapped[12] = {[10] = 0xff, [11] = 0xff};
    struct source s;
    memset(&s, 0, sizeof s);
    if (a->family == KNIT_AF_IP6 && memcmp(a->ip, mapped, 12) != 0) {
        s.key[0] = KNIT_AF_IP6;
        memcpy(s.key + 1, a->ip, 8);
        s.len = 9;
    } else {
        s.key[0] = KNIT_AF_IP4;
        memcpy(s.key + 1, a->family == KNIT_AF_IP6 ? a->ip + 12 : a->ip, 4);
        s.len = 5;
    }
    return s;
}

static bool same_source(const struct source *a, const struct source *b)
{
    return a->len == b->len && memcmp(a->key, b->key, a->len) == 0;
}

/* ---- the reachability state machine ----------------------------------- */

static void note_server(struct machine *m, const struct source *s)
{
    for (uint8_t i = 0; i < m->server_n; i++)
        if (same_source(&m->servers[i], s))
            return;
    if (m->server_n < KNIT_REACH_SETTLE)
        m->servers[m->server_n++] = *s;
}

static bool in_run(const struct machine *m, const struct source *s)
{
    for (uint8_t i = 0; i < m->run_src_n; i++)
        if (same_source(&m->run_src[i], s))
            return true;
    return false;
}

static void machine_answer(struct machine *m, const struct source *s,
                           uint8_t dir)
{
    note_server(m, s);
    bool distinct = m->server_n >= KNIT_REACH_SETTLE;
    if (dir != m->run_dir) {
        m->run_dir = dir;
        m->run_len = 0;
        m->run_src_n = m->run_src_next = 0;
    }
    /* With enough servers around, a server counts once per run towards a
     * new verdict (settling, or against the current one). Agreement with a
     * settled verdict always counts, as in libp2p. */
    bool toward_new = m->status == KNIT_REACHABILITY_UNKNOWN ||
                      dir != m->status;
    if (distinct && toward_new && in_run(m, s))
        return;
    m->run_src[m->run_src_next] = *s;
    m->run_src_next = (uint8_t)((m->run_src_next + 1) % KNIT_REACH_SETTLE);
    if (m->run_src_n < KNIT_REACH_SETTLE)
        m->run_src_n++;
    if (m->run_len < UINT32_MAX)
        m->run_len++;

    if (m->status == KNIT_REACHABILITY_UNKNOWN) {
        if (m->run_len >= KNIT_REACH_SETTLE) {
            m->status = dir;
            m->confidence = KNIT_REACH_SETTLE - 1;
        }
    } else if (dir == m->status) {
        if (m->confidence < KNIT_REACH_MAX_CONFIDENCE)
            m->confidence++;
    } else if (m->confidence > 0) {
        m->confidence--;
    } else {
        m->status = dir;
        m->confidence = KNIT_REACH_SETTLE - 1;
    }
}

int knit_reach_add(struct knit_reach *r, const struct knit_addr *server_ip,
                   uint8_t kind, bool arrived, uint64_t now)
{
    if (!r || !server_ip ||
        (server_ip->family != KNIT_AF_IP4 && server_ip->family != KNIT_AF_IP6) ||
        (kind != 1 && kind != 2))
        return KNIT_E_INVAL;
    struct source s = source_of(server_ip);
    machine_answer(&r->by_kind[kind - 1], &s,
                   arrived ? KNIT_REACHABILITY_PUBLIC
                           : KNIT_REACHABILITY_PRIVATE);
    struct answer *a = &r->history[r->history_next];
    a->src = s;
    a->kind = kind;
    a->arrived = arrived;
    a->at = now;
    r->history_next = (r->history_next + 1) % KNIT_REACH_HISTORY;
    if (r->history_n < KNIT_REACH_HISTORY)
        r->history_n++;
    return KNIT_OK;
}

/* ---- the verdict ------------------------------------------------------ */

/* Answers of one class in the live history: how many, from how many
 * servers. */
struct count {
    uint32_t answers;
    uint32_t servers;
};

static bool is_live(const struct knit_reach *r, const struct answer *a,
                    uint64_t now)
{
    return a->at >= now || now - a->at <= r->max_age;
}

/* Matches an answer: kind 0 means any kind; arrived_mask bit 0 = failed,
 * bit 1 = arrived. */
static bool matches(const struct answer *a, uint8_t kind, unsigned mask)
{
    return (kind == 0 || a->kind == kind) &&
           (mask & (a->arrived ? 2u : 1u)) != 0;
}

/* Counts the live answers matching either (kind1, mask1) or
 * (kind2, mask2), and their distinct servers. */
static struct count count_answers(const struct knit_reach *r, uint64_t now,
                                  uint8_t kind1, unsigned mask1,
                                  uint8_t kind2, unsigned mask2)
{
    struct count c = {0, 0};
    for (uint32_t i = 0; i < r->history_n; i++) {
        const struct answer *a = &r->history[i];
        if (!is_live(r, a, now) ||
            !(matches(a, kind1, mask1) || matches(a, kind2, mask2)))
            continue;
        c.answers++;
        bool seen = false;
        for (uint32_t j = 0; j < i && !seen; j++) {
            const struct answer *b = &r->history[j];
            seen = is_live(r, b, now) &&
                   (matches(b, kind1, mask1) || matches(b, kind2, mask2)) &&
                   same_source(&a->src, &b->src);
        }
        c.servers += !seen;
    }
    return c;
}

#define FAILED 1u
#define ARRIVED 2u
#define ANY 3u

static uint8_t filtering_confidence(uint32_t servers)
{
    return servers >= 2 ? 2 : 1;
}

static void filtering(const struct knit_reach *r, uint64_t now,
                      struct knit_reach_verdict *v)
{
    struct count k2_arrived = count_answers(r, now, 2, ARRIVED, 2, ARRIVED);
    struct count k2_failed = count_answers(r, now, 2, FAILED, 2, FAILED);
    struct count k1_arrived = count_answers(r, now, 1, ARRIVED, 1, ARRIVED);
    struct count k1_failed = count_answers(r, now, 1, FAILED, 1, FAILED);
    if (k2_arrived.answers > 0) {
        v->filtering = KNIT_FILTERING_ENDPOINT_INDEPENDENT;
        v->filtering_confidence = filtering_confidence(k2_arrived.servers);
    } else if (k1_arrived.answers > 0 && k2_failed.answers >= 2) {
        struct count behind = count_answers(r, now, 1, ARRIVED, 2, FAILED);
        v->filtering = KNIT_FILTERING_ADDRESS_DEPENDENT;
        v->filtering_confidence = filtering_confidence(behind.servers);
    } else if (k1_arrived.answers == 0 && k1_failed.answers >= 2) {
        v->filtering = KNIT_FILTERING_ADDRESS_PORT_DEPENDENT;
        v->filtering_confidence = filtering_confidence(k1_failed.servers);
    }
}

int knit_reach_get(const struct knit_reach *r, uint64_t now,
                   struct knit_reach_verdict *out)
{
    if (!r || !out)
        return KNIT_E_INVAL;
    memset(out, 0, sizeof *out);
    const struct machine *k1 = &r->by_kind[0], *k2 = &r->by_kind[1];
    if (k2->status != KNIT_REACHABILITY_UNKNOWN) {
        out->reachability = k2->status;
        out->confidence = k2->confidence;
    } else if (k1->status != KNIT_REACHABILITY_UNKNOWN) {
        /* A kind-1 packet also passes an address-dependent filter. */
        out->reachability = k1->status;
        out->confidence = k1->confidence < 1 ? k1->confidence : 1;
    }
    filtering(r, now, out);
    out->servers = count_answers(r, now, 0, ANY, 0, ANY).servers;
    return KNIT_OK;
}
