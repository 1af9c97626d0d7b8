/* The observed-address book and the mapping classifier (see observed.h for
 * the rules). Everything lives in arrays of max_observations entries made
 * at creation; the work per call is quadratic in the number of
 * observations, which is at most KNIT_OBSERVED_LIMIT. */
#include "node/observed.h"

#include <stdlib.h>
#include <string.h>

#include "proto/record.h"
#include "transport/error.h"

struct observation {
    bool used;
    int sock;
    struct knit_addr observer;   /* the IP:port we sent to */
    struct knit_addr observed;   /* us, as it saw us */
    uint64_t first;              /* when this mapping was first reported */
    uint64_t last;               /* its latest report */
};

/* One observer IP of a socket, for the mapping classifier. */
struct ip_group {
    struct knit_addr ip;         /* port unused */
    struct knit_addr rep;        /* the mapping its first report showed */
    uint32_t reports;            /* its ports reported */
    bool consistent;             /* all of them showed rep */
    uint64_t last;
};

struct ranked {
    struct knit_observed_entry e;
    uint64_t last;
};

struct knit_observed {
    uint32_t max;
    uint64_t max_age;
    uint32_t min_observers;
    /* max entries each, in the book's own allocation: sized for the
     * ceiling, every node carried 42 KiB for the 64 it uses by default. */
    struct observation *obs;
    /* Scratch for list and mapping. */
    struct ranked *ranked;
    struct ip_group *groups;
    uint32_t *idx;
};

int knit_observed_new(struct knit_observed **out,
                      const struct knit_observed_config *cfg)
{
    if (!out)
        return KNIT_E_INVAL;
    *out = NULL;
    struct knit_observed_config c = cfg ? *cfg : (struct knit_observed_config){0};
    if (c.max_observations > KNIT_OBSERVED_LIMIT)
        return KNIT_E_INVAL;
    uint32_t max = c.max_observations ? c.max_observations
                                      : KNIT_OBSERVED_DEFAULT_MAX;
    /* Every size below is a multiple of its type's alignment, and the
     * header's (it holds pointers) of the strictest, so each array starts
     * aligned; idx, of the loosest, goes last. */
    struct knit_observed *b =
        calloc(1, sizeof *b + max * (sizeof *b->obs + sizeof *b->ranked +
                                     sizeof *b->groups + sizeof *b->idx));
    if (!b)
        return KNIT_E_NOMEM;
    b->obs = (struct observation *)(b + 1);
    b->ranked = (struct ranked *)(b->obs + max);
    b->groups = (struct ip_group *)(b->ranked + max);
    b->idx = (uint32_t *)(b->groups + max);
    b->max = max;
    b->max_age = c.max_age ? c.max_age : KNIT_OBSERVED_DEFAULT_MAX_AGE;
    b->min_observers = c.min_observers ? c.min_observers
                                       : KNIT_OBSERVED_DEFAULT_MIN_OBSERVERS;
    *out = b;
    return KNIT_OK;
}

void knit_observed_free(struct knit_observed *book)
{
    free(book);
}

/* ---- helpers ------------------------------------------------------------- */

static bool is_ip(const struct knit_addr *a)
{
    return a->family == KNIT_AF_IP4 || a->family == KNIT_AF_IP6;
}

/* What one source is: an IPv4 address, or the /64 of an IPv6 one (one host
 * gets a whole /64). An IPv4-mapped IPv6 address is its IPv4 address. */
static size_t source_key(const struct knit_addr *a, uint8_t out[9])
{
    static const uint8_t mapped[12] = {[10] = 0xff, [11] = 0xff};
    if (a->family == KNIT_AF_IP6 && memcmp(a->ip, mapped, 12) != 0) {
        out[0] = KNIT_AF_IP6;
        memcpy(out + 1, a->ip, 8);
        return 9;
    }
    out[0] = KNIT_AF_IP4;
    memcpy(out + 1, a->family == KNIT_AF_IP6 ? a->ip + 12 : a->ip, 4);
    return 5;
}

static bool same_source(const struct knit_addr *a, const struct knit_addr *b)
{
    uint8_t ka[9], kb[9];
    size_t na = source_key(a, ka), nb = source_key(b, kb);
    return na == nb && memcmp(ka, kb, na) == 0;
}

static bool is_live(const struct knit_observed *b, const struct observation *o,
                    uint64_t now)
{
    return o->used && (o->last >= now || now - o->last <= b->max_age);
}

/* Indices of the live observations (of socket sock, unless sock < 0). */
static uint32_t collect(struct knit_observed *b, int sock, uint64_t now)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < b->max; i++)
        if (is_live(b, &b->obs[i], now) && (sock < 0 || b->obs[i].sock == sock))
            b->idx[n++] = i;
    return n;
}

/* ---- adding -------------------------------------------------------------- */

static struct observation *slot_for(struct knit_observed *b, int sock,
                                    const struct knit_addr *observer,
                                    uint64_t now)
{
    struct observation *oldest_of_source = NULL, *free_slot = NULL,
                       *oldest = NULL;
    uint32_t from_source = 0;
    for (uint32_t i = 0; i < b->max; i++) {
        struct observation *o = &b->obs[i];
        if (o->used && o->sock == sock && knit_addr_equal(&o->observer, observer))
            return o;
        if (!is_live(b, o, now)) {
            if (!free_slot)
                free_slot = o;
            continue;
        }
        if (same_source(&o->observer, observer)) {
            from_source++;
            if (!oldest_of_source || o->last < oldest_of_source->last)
                oldest_of_source = o;
        }
        if (!oldest || o->last < oldest->last)
            oldest = o;
    }
    if (from_source >= KNIT_OBSERVED_MAX_PER_SOURCE)
        return oldest_of_source;
    return free_slot ? free_slot : oldest;
}

int knit_observed_add(struct knit_observed *book, int sock,
                      const struct knit_addr *observer,
                      const struct knit_addr *observed, uint64_t now)
{
    if (!book || sock < 0 || !observer || !observed || !is_ip(observer) ||
        !is_ip(observed) || observer->port == 0 || observed->port == 0 ||
        knit_addr_is_unspecified(observed))
        return KNIT_E_INVAL;
    struct observation *o = slot_for(book, sock, observer, now);
    bool same_mapping = o->used && is_live(book, o, now) && o->sock == sock &&
                        knit_addr_equal(&o->observer, observer) &&
                        knit_addr_equal(&o->observed, observed);
    if (!same_mapping) {
        /* A new mapping (or the old one expired and came back): it appeared
         * now, which is what the sequential-port check orders by. */
        o->first = now;
    }
    o->used = true;
    o->sock = sock;
    o->observer = *observer;
    o->observed = *observed;
    o->last = now;
    return KNIT_OK;
}

/* ---- listing ------------------------------------------------------------- */

/* True when b ranks before a. */
static bool ranks_before(const struct ranked *b, const struct ranked *a)
{
    if (b->e.trusted != a->e.trusted)
        return b->e.trusted;
    if (b->e.confidence != a->e.confidence)
        return b->e.confidence > a->e.confidence;
    if (b->e.observers != a->e.observers)
        return b->e.observers > a->e.observers;
    return b->last > a->last;
}

/* Distinct sources of a given scope (global or not) among the live
 * observations. */
static uint32_t sources_in_scope(const struct knit_observed *b, uint32_t n,
                                 bool global)
{
    uint32_t count = 0;
    for (uint32_t i = 0; i < n; i++) {
        const struct observation *o = &b->obs[b->idx[i]];
        if (knit_addr_is_global(&o->observed) != global)
            continue;
        bool seen = false;
        for (uint32_t j = 0; j < i && !seen; j++) {
            const struct observation *p = &b->obs[b->idx[j]];
            seen = knit_addr_is_global(&p->observed) == global &&
                   same_source(&p->observer, &o->observer);
        }
        count += !seen;
    }
    return count;
}

/* Some socket that reported addr also reported another IP of its scope. */
static bool contradicted(const struct knit_observed *b, uint32_t n,
                         const struct knit_addr *addr)
{
    bool global = knit_addr_is_global(addr);
    for (uint32_t i = 0; i < n; i++) {
        const struct observation *o = &b->obs[b->idx[i]];
        if (!knit_addr_equal(&o->observed, addr))
            continue;
        for (uint32_t j = 0; j < n; j++) {
            const struct observation *p = &b->obs[b->idx[j]];
            if (p->sock == o->sock &&
                knit_addr_is_global(&p->observed) == global &&
                !knit_addr_same_ip(&p->observed, addr))
                return true;
        }
    }
    return false;
}

/* Fills b->ranked with the distinct observed addresses and their source
 * counts; returns how many. */
static uint32_t gather(struct knit_observed *b, uint32_t n)
{
    uint32_t count = 0;
    for (uint32_t i = 0; i < n; i++) {
        const struct observation *o = &b->obs[b->idx[i]];
        struct ranked *r = NULL;
        for (uint32_t k = 0; k < count && !r; k++)
            if (knit_addr_equal(&b->ranked[k].e.addr, &o->observed))
                r = &b->ranked[k];
        if (!r) {
            r = &b->ranked[count++];
            memset(r, 0, sizeof *r);
            r->e.addr = o->observed;
        }
        if (o->last > r->last)
            r->last = o->last;
        bool seen = false;
        for (uint32_t j = 0; j < i && !seen; j++) {
            const struct observation *p = &b->obs[b->idx[j]];
            seen = knit_addr_equal(&p->observed, &o->observed) &&
                   same_source(&p->observer, &o->observer);
        }
        r->e.observers += !seen;
    }
    return count;
}

size_t knit_observed_list(struct knit_observed *book, uint64_t now,
                          struct knit_observed_entry *out, size_t cap)
{
    if (!book || (!out && cap))
        return 0;
    uint32_t n = collect(book, -1, now);
    uint32_t count = gather(book, n);
    uint32_t scope_sources[2] = { sources_in_scope(book, n, false),
                                  sources_in_scope(book, n, true) };
    for (uint32_t k = 0; k < count; k++) {
        struct knit_observed_entry *e = &book->ranked[k].e;
        uint32_t all = scope_sources[knit_addr_is_global(&e->addr)];
        if (e->observers >= book->min_observers) {
            e->confidence = KNIT_CONFIDENCE_HIGH;
        } else if (all < book->min_observers && e->observers == all &&
                   !contradicted(book, n, &e->addr)) {
            e->confidence = KNIT_CONFIDENCE_LOW;
        }
        e->trusted = e->confidence != KNIT_CONFIDENCE_NONE;
    }
    /* Insertion sort: at most KNIT_OBSERVED_LIMIT entries. */
    for (uint32_t k = 1; k < count; k++) {
        struct ranked r = book->ranked[k];
        uint32_t j = k;
        for (; j > 0 && ranks_before(&r, &book->ranked[j - 1]); j--)
            book->ranked[j] = book->ranked[j - 1];
        book->ranked[j] = r;
    }
    size_t written = count < cap ? count : cap;
    for (size_t k = 0; k < written; k++)
        out[k] = book->ranked[k].e;
    return written;
}

int knit_observed_latest(const struct knit_observed *book, uint64_t now,
                         struct knit_addr *out)
{
    const struct observation *best = NULL;
    for (uint32_t i = 0; book && i < book->max; i++) {
        const struct observation *o = &book->obs[i];
        if (!is_live(book, o, now))
            continue;
        if (!best || o->last > best->last)
            best = o;
    }
    if (!best)
        return KNIT_E_NOT_FOUND;
    *out = best->observed;
    return KNIT_OK;
}

/* ---- mapping ------------------------------------------------------------- */

/* Groups the observations b->idx[0..n) by observer IP; returns how many. */
static uint32_t group_by_ip(struct knit_observed *b, uint32_t n)
{
    uint32_t count = 0;
    for (uint32_t i = 0; i < n; i++) {
        const struct observation *o = &b->obs[b->idx[i]];
        struct ip_group *g = NULL;
        for (uint32_t k = 0; k < count && !g; k++)
            if (knit_addr_same_ip(&b->groups[k].ip, &o->observer))
                g = &b->groups[k];
        if (!g) {
            g = &b->groups[count++];
            memset(g, 0, sizeof *g);
            g->ip = o->observer;
            g->rep = o->observed;
            g->consistent = true;
        } else if (!knit_addr_equal(&g->rep, &o->observed)) {
            g->consistent = false;
        }
        g->reports++;
        if (o->last > g->last)
            g->last = o->last;
    }
    return count;
}

/* Keeps only the observations from global observer IPs, if there are any. */
static uint32_t prefer_global(struct knit_observed *b, uint32_t n)
{
    uint32_t kept = 0;
    for (uint32_t i = 0; i < n; i++)
        if (knit_addr_is_global(&b->obs[b->idx[i]].observer))
            b->idx[kept++] = b->idx[i];
    if (kept > 0)
        return kept;
    return n;   /* nothing was moved when kept is 0 */
}

/* Mapped ports in the order their mappings appeared step by 1..8. Equal
 * times (reports handled in one go) are taken in port order, the one order
 * that could be sequential. */
static bool is_sequential(struct knit_observed *b, uint32_t n)
{
    if (n < 2)
        return false;
    for (uint32_t k = 1; k < n; k++) {
        uint32_t v = b->idx[k], j = k;
        for (; j > 0; j--) {
            const struct observation *p = &b->obs[b->idx[j - 1]];
            const struct observation *o = &b->obs[v];
            if (p->first < o->first ||
                (p->first == o->first && p->observed.port <= o->observed.port))
                break;
            b->idx[j] = b->idx[j - 1];
        }
        b->idx[j] = v;
    }
    for (uint32_t k = 1; k < n; k++) {
        int step = (int)b->obs[b->idx[k]].observed.port -
                   (int)b->obs[b->idx[k - 1]].observed.port;
        if (step < 1 || step > KNIT_OBSERVED_SEQUENTIAL_MAX_STEP)
            return false;
    }
    return true;
}

struct tally {
    uint32_t ips;         /* observer IPs */
    uint32_t agree;       /* IPs seen on 2+ ports, all mapped alike */
    uint32_t differ;      /* IPs whose ports were mapped apart */
    uint32_t consistent;  /* IPs whose reports all agree (1 port or more) */
    uint32_t top;         /* consistent IPs sharing the commonest mapping */
    const struct knit_addr *t;   /* that mapping, NULL if none */
};

static void count_groups(const struct knit_observed *b, uint32_t ngroups,
                         struct tally *t)
{
    memset(t, 0, sizeof *t);
    t->ips = ngroups;
    uint64_t top_last = 0;
    for (uint32_t k = 0; k < ngroups; k++) {
        const struct ip_group *g = &b->groups[k];
        if (!g->consistent) {
            t->differ++;
            continue;
        }
        t->consistent++;
        if (g->reports >= 2)
            t->agree++;
        /* The leading mapping again (most groups report the same one):
         * its count and time are the leader's own, so it cannot win, and
         * the walk below would make this loop quadratic for nothing. */
        if (t->t && knit_addr_equal(&g->rep, t->t))
            continue;
        uint32_t sharing = 0;
        uint64_t last = 0;
        for (uint32_t j = 0; j < ngroups; j++) {
            const struct ip_group *h = &b->groups[j];
            if (h->consistent && knit_addr_equal(&h->rep, &g->rep)) {
                sharing++;
                if (h->last > last)
                    last = h->last;
            }
        }
        /* Ties go to the mapping reported most recently. */
        if (sharing > t->top || (sharing == t->top && last > top_last)) {
            t->top = sharing;
            t->t = &g->rep;
            top_last = last;
        }
    }
}

static void verdict(struct knit_mapping_verdict *v, uint8_t mapping,
                    uint8_t confidence)
{
    v->mapping = mapping;
    v->confidence = confidence;
}

static void classify(const struct knit_observed *b, const struct tally *t,
                     const struct knit_addr *local,
                     struct knit_mapping_verdict *v)
{
    bool local_known = !knit_addr_is_unspecified(local);
    bool majority = 2 * t->top > t->consistent;
    if (t->t)
        v->nat = local_known ? !knit_addr_same_ip(t->t, local)
                             : t->t->port != local->port;
    else
        v->nat = true;
    bool is_local = t->t && !v->nat && t->t->port == local->port;

    if (t->differ > 0 && t->differ >= t->top) {
        verdict(v, KNIT_MAPPING_ADDRESS_PORT_DEPENDENT, KNIT_CONFIDENCE_HIGH);
    } else if (is_local && majority) {
        verdict(v, KNIT_MAPPING_ENDPOINT_INDEPENDENT,
                t->top >= 2 ? KNIT_CONFIDENCE_HIGH : KNIT_CONFIDENCE_LOW);
    } else if (t->top >= 2 && majority) {
        bool sure = t->top == t->consistent || t->top >= b->min_observers;
        verdict(v, KNIT_MAPPING_ENDPOINT_INDEPENDENT,
                sure ? KNIT_CONFIDENCE_HIGH : KNIT_CONFIDENCE_LOW);
    } else if (t->consistent >= 2) {
        /* Observer IPs disagree and no mapping holds a majority. */
        if (t->agree > 0)
            verdict(v, KNIT_MAPPING_ADDRESS_DEPENDENT,
                    t->top == 1 ? KNIT_CONFIDENCE_HIGH : KNIT_CONFIDENCE_LOW);
        else
            verdict(v, KNIT_MAPPING_ADDRESS_PORT_DEPENDENT,
                    KNIT_CONFIDENCE_LOW);
    } else if (t->consistent == 1 && t->agree == 1) {
        verdict(v, KNIT_MAPPING_ENDPOINT_INDEPENDENT, KNIT_CONFIDENCE_LOW);
    } else {
        verdict(v, KNIT_MAPPING_UNKNOWN, KNIT_CONFIDENCE_NONE);
    }
}

int knit_observed_mapping(struct knit_observed *book, int sock,
                          const struct knit_addr *local, uint64_t now,
                          struct knit_mapping_verdict *out)
{
    if (!book || !local || !out || !is_ip(local))
        return KNIT_E_INVAL;
    memset(out, 0, sizeof *out);
    if (sock < 0)
        return KNIT_E_INVAL;
    uint32_t n = collect(book, sock, now);
    if (n == 0)
        return KNIT_OK;
    n = prefer_global(book, n);
    uint32_t ngroups = group_by_ip(book, n);
    struct tally t;
    count_groups(book, ngroups, &t);
    out->observers = t.ips;
    classify(book, &t, local, out);
    out->sequential = is_sequential(book, n);
    return KNIT_OK;
}
