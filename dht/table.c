#include "table.h"

#include <stdlib.h>
#include <string.h>

#include "transport/error.h"

/* Entries are unordered (a slot is reused in place); replacements are kept
 * oldest first so the most recent is the last. Both arrays grow on demand
 * up to their bound, and a bucket left with neither is freed. */
struct knit_dht_bucket {
    struct knit_dht_entry *e;
    struct knit_dht_entry *r;
    uint32_t n, cap;
    uint32_t nr, rcap;
};

/* ---- diversity groups ------------------------------------------------------ */

/* The family and the /24 or /48 packed into one integer, so counting a group
 * across the table is a comparison per entry; 0 for an unset address. */
static uint64_t group_of(const struct knit_addr *a)
{
    unsigned len = a->family == KNIT_AF_IP4   ? 3
                   : a->family == KNIT_AF_IP6 ? 6
                                              : 0;
    if (!len)
        return 0;
    uint64_t g = a->family;
    for (unsigned i = 0; i < len; i++)
        g = (g << 8) | a->ip[i];
    return g;
}

bool knit_dht_prefix_equal(const struct knit_addr *a,
                           const struct knit_addr *b)
{
    uint64_t ga = group_of(a);
    return ga != 0 && ga == group_of(b);
}

static bool usable(const struct knit_addr *a)
{
    return (a->family == KNIT_AF_IP4 || a->family == KNIT_AF_IP6) &&
           a->port != 0;
}

static uint32_t count_in_bucket(const struct knit_dht_bucket *b, uint64_t g)
{
    uint32_t c = 0;
    for (uint32_t i = 0; i < b->n; i++)
        c += group_of(&b->e[i].addr) == g;
    return c;
}

static uint32_t count_in_table(const struct knit_dht_table *t, uint64_t g)
{
    uint32_t c = 0;
    for (unsigned bi = 0; bi < KNIT_DHT_KEY_BITS; bi++)
        if (t->buckets[bi])
            c += count_in_bucket(t->buckets[bi], g);
    return c;
}

/* Would one more peer of group g push it over a limit? */
static bool newcomer_over(const struct knit_dht_table *t,
                          const struct knit_dht_bucket *b, uint64_t g)
{
    return count_in_bucket(b, g) >= t->cfg.bucket_prefix_limit ||
           count_in_table(t, g) >= t->cfg.table_prefix_limit;
}

/* The least-recently-seen entry whose group is already over a limit, or -1. */
static long lrs_over_limit(const struct knit_dht_table *t,
                           const struct knit_dht_bucket *b)
{
    long best = -1;
    for (uint32_t i = 0; i < b->n; i++) {
        if (best >= 0 && b->e[i].last_seen >= b->e[best].last_seen)
            continue;
        uint64_t g = group_of(&b->e[i].addr);
        if (count_in_bucket(b, g) > t->cfg.bucket_prefix_limit ||
            count_in_table(t, g) > t->cfg.table_prefix_limit)
            best = (long)i;
    }
    return best;
}

/* ---- buckets ----------------------------------------------------------------- */

static unsigned bucket_of(const struct knit_dht_table *t,
                          const struct knit_dht_key *key)
{
    return knit_dht_key_common_prefix(&t->self_key, key);
}

static long find_in(const struct knit_dht_entry *v, uint32_t n,
                    const struct knit_peer_id *peer)
{
    for (uint32_t i = 0; i < n; i++)
        if (knit_peer_id_equal(&v[i].id, peer))
            return (long)i;
    return -1;
}

/* Room for one more in an array of *cap, growing by doubling up to max. */
static int reserve(struct knit_dht_entry **v, uint32_t *cap, uint32_t n,
                   uint32_t max)
{
    if (n < *cap)
        return 0;
    uint32_t want = *cap ? *cap * 2 : 2;
    if (want > max)
        want = max;
    if (want <= n)
        return KNIT_E_LIMIT;
    struct knit_dht_entry *nv = realloc(*v, (size_t)want * sizeof **v);
    if (!nv)
        return KNIT_E_NOMEM;
    *v = nv;
    *cap = want;
    return 0;
}

static void free_if_empty(struct knit_dht_table *t, unsigned bi)
{
    struct knit_dht_bucket *b = t->buckets[bi];
    if (b && b->n == 0 && b->nr == 0) {
        free(b->e);
        free(b->r);
        free(b);
        t->buckets[bi] = NULL;
    }
}

static void fill_entry(struct knit_dht_entry *e,
                       const struct knit_peer_id *peer,
                       const struct knit_dht_key *key,
                       const struct knit_addr *addr, uint64_t added,
                       uint64_t last_seen, bool verified)
{
    memset(e, 0, sizeof *e);
    e->id = *peer;
    e->key = *key;
    e->addr = *addr;
    e->added = added;
    e->last_seen = last_seen;
    e->verified = verified;
}

static void drop_replacement(struct knit_dht_bucket *b, uint32_t i)
{
    memmove(&b->r[i], &b->r[i + 1], (size_t)(b->nr - i - 1) * sizeof *b->r);
    b->nr--;
}

/* Puts peer at the recent end of the cache, dropping the oldest when full. */
static int remember_replacement(const struct knit_dht_table *t,
                                struct knit_dht_bucket *b,
                                const struct knit_peer_id *peer,
                                const struct knit_dht_key *key,
                                const struct knit_addr *addr, uint64_t now)
{
    struct knit_dht_entry e;
    long at = find_in(b->r, b->nr, peer);
    if (at >= 0) {
        e = b->r[at];
        e.addr = *addr;
        e.last_seen = now;
        drop_replacement(b, (uint32_t)at);
    } else {
        fill_entry(&e, peer, key, addr, now, now, true);
        if (b->nr == t->cfg.replacements)
            drop_replacement(b, 0);
        /* After the drop above there is always room under the bound. */
        int err = reserve(&b->r, &b->rcap, b->nr, t->cfg.replacements);
        if (err)
            return err;
    }
    b->r[b->nr++] = e;
    return 0;
}

/* Empties slot i: the most recent replacement within the diversity limits
 * takes it, or the last entry moves in. */
static void vacate(struct knit_dht_table *t, struct knit_dht_bucket *b,
                   uint32_t i)
{
    b->e[i] = b->e[b->n - 1];
    b->n--;
    t->size--;
    for (uint32_t j = b->nr; j-- > 0;) {
        if (newcomer_over(t, b, group_of(&b->r[j].addr)))
            continue;
        /* A slot was just freed, so the array has room. */
        b->e[b->n++] = b->r[j];
        t->size++;
        drop_replacement(b, j);
        return;
    }
}

/* ---- the table --------------------------------------------------------------- */

void knit_dht_table_init(struct knit_dht_table *t,
                         const struct knit_peer_id *self,
                         const struct knit_dht_table_config *cfg)
{
    memset(t, 0, sizeof *t);
    if (cfg)
        t->cfg = *cfg;
    if (!t->cfg.k)
        t->cfg.k = KNIT_DHT_K;
    if (!t->cfg.replacements)
        t->cfg.replacements = 8;
    if (!t->cfg.bucket_prefix_limit)
        t->cfg.bucket_prefix_limit = 2;
    if (!t->cfg.table_prefix_limit)
        t->cfg.table_prefix_limit = 8;
    if (!t->cfg.max_failures)
        t->cfg.max_failures = 3;
    /* failures is a uint8_t. */
    if (t->cfg.max_failures > UINT8_MAX)
        t->cfg.max_failures = UINT8_MAX;
    t->self = *self;
    knit_dht_key_of_peer(&t->self_key, self);
}

void knit_dht_table_free(struct knit_dht_table *t)
{
    for (unsigned bi = 0; bi < KNIT_DHT_KEY_BITS; bi++) {
        struct knit_dht_bucket *b = t->buckets[bi];
        if (!b)
            continue;
        free(b->e);
        free(b->r);
        free(b);
        t->buckets[bi] = NULL;
    }
    t->size = 0;
}

/* Marks for a check the least-recently-seen entry not already under one,
 * while fewer are under check than replacements wait: each failed check
 * frees a slot for one replacement, so more pings would be wasted. */
static void pick_check(struct knit_dht_bucket *b, bool *need_check,
                       struct knit_dht_entry *check)
{
    uint32_t checking = 0;
    long lrs = -1;
    for (uint32_t i = 0; i < b->n; i++) {
        if (b->e[i].checking)
            checking++;
        else if (lrs < 0 || b->e[i].last_seen < b->e[lrs].last_seen)
            lrs = (long)i;
    }
    if (lrs < 0 || checking >= b->nr)
        return;
    b->e[lrs].checking = true;
    *check = b->e[lrs];
    *need_check = true;
}

/* Whether peer at addr may have a place in the table at all (not us, a
 * dialable address), and if so its key and bucket. */
static bool placeable(const struct knit_dht_table *t,
                      const struct knit_peer_id *peer,
                      const struct knit_addr *addr, struct knit_dht_key *key,
                      unsigned *bi)
{
    if (!peer || !addr || !usable(addr) || knit_peer_id_equal(peer, &t->self))
        return false;
    knit_dht_key_of_peer(key, peer);
    *bi = bucket_of(t, key);
    return *bi < KNIT_DHT_KEY_BITS;
}

/* Bucket bi, allocated on first use; NULL when out of memory. */
static struct knit_dht_bucket *bucket_get(struct knit_dht_table *t,
                                          unsigned bi)
{
    if (!t->buckets[bi])
        t->buckets[bi] = calloc(1, sizeof *t->buckets[bi]);
    return t->buckets[bi];
}

int knit_dht_table_update(struct knit_dht_table *t,
                          const struct knit_peer_id *peer,
                          const struct knit_addr *addr, uint64_t now,
                          bool *need_check, struct knit_dht_entry *check)
{
    if (need_check)
        *need_check = false;
    struct knit_dht_key key;
    unsigned bi;
    if (!placeable(t, peer, addr, &key, &bi))
        return KNIT_DHT_REFUSED;

    struct knit_dht_bucket *b = t->buckets[bi];
    long at = b ? find_in(b->e, b->n, peer) : -1;
    if (at >= 0) {
        struct knit_dht_entry *e = &b->e[at];
        e->addr = *addr;
        e->last_seen = now;
        e->failures = 0;
        e->checking = false;
        e->verified = true;
        return KNIT_DHT_REFRESHED;
    }
    if (!(b = bucket_get(t, bi)))
        return KNIT_E_NOMEM;

    long in_cache = find_in(b->r, b->nr, peer);
    if (b->n < t->cfg.k) {
        int err = reserve(&b->e, &b->cap, b->n, t->cfg.k);
        if (err) {
            free_if_empty(t, bi);
            return KNIT_E_NOMEM;
        }
        uint64_t added = in_cache >= 0 ? b->r[in_cache].added : now;
        fill_entry(&b->e[b->n++], peer, &key, addr, added, now, true);
        t->size++;
        if (in_cache >= 0)
            drop_replacement(b, (uint32_t)in_cache);
        return KNIT_DHT_ADDED;
    }

    /* The bucket is full: only here do peers compete, so only here do the
     * diversity limits apply. */
    if (newcomer_over(t, b, group_of(addr)))
        return KNIT_DHT_REFUSED;
    long victim = lrs_over_limit(t, b);
    if (victim >= 0) {
        uint64_t added = in_cache >= 0 ? b->r[in_cache].added : now;
        fill_entry(&b->e[victim], peer, &key, addr, added, now, true);
        if (in_cache >= 0)
            drop_replacement(b, (uint32_t)in_cache);
        return KNIT_DHT_DISPLACED;
    }
    int err = remember_replacement(t, b, peer, &key, addr, now);
    if (err)
        return err;
    if (need_check && check)
        pick_check(b, need_check, check);
    return KNIT_DHT_WAITING;
}

int knit_dht_table_restore(struct knit_dht_table *t,
                           const struct knit_peer_id *peer,
                           const struct knit_addr *addr, uint64_t last_seen)
{
    struct knit_dht_key key;
    unsigned bi;
    if (!placeable(t, peer, addr, &key, &bi))
        return KNIT_E_INVAL;
    struct knit_dht_bucket *b = t->buckets[bi];
    if (b && find_in(b->e, b->n, peer) >= 0)
        return KNIT_E_EXISTS;
    if (b && b->n >= t->cfg.k)
        return KNIT_E_LIMIT;
    if (!(b = bucket_get(t, bi)))
        return KNIT_E_NOMEM;
    if (reserve(&b->e, &b->cap, b->n, t->cfg.k)) {
        free_if_empty(t, bi);
        return KNIT_E_NOMEM;
    }
    fill_entry(&b->e[b->n++], peer, &key, addr, last_seen, last_seen, false);
    t->size++;
    long in_cache = find_in(b->r, b->nr, peer);
    if (in_cache >= 0)
        drop_replacement(b, (uint32_t)in_cache);
    return KNIT_OK;
}

static struct knit_dht_bucket *bucket_of_peer(const struct knit_dht_table *t,
                                              const struct knit_peer_id *peer,
                                              unsigned *bi)
{
    struct knit_dht_key key;
    knit_dht_key_of_peer(&key, peer);
    *bi = bucket_of(t, &key);
    return *bi < KNIT_DHT_KEY_BITS ? t->buckets[*bi] : NULL;
}

bool knit_dht_table_failed(struct knit_dht_table *t,
                           const struct knit_peer_id *peer)
{
    unsigned bi;
    struct knit_dht_bucket *b = peer ? bucket_of_peer(t, peer, &bi) : NULL;
    if (!b)
        return false;
    long at = find_in(b->e, b->n, peer);
    if (at >= 0) {
        struct knit_dht_entry *e = &b->e[at];
        if (e->failures < UINT8_MAX)
            e->failures++;
        if (!e->checking && e->verified &&
            e->failures < t->cfg.max_failures)
            return false;
        vacate(t, b, (uint32_t)at);
        free_if_empty(t, bi);
        return true;
    }
    at = find_in(b->r, b->nr, peer);
    if (at < 0)
        return false;
    drop_replacement(b, (uint32_t)at);
    free_if_empty(t, bi);
    return true;
}

bool knit_dht_table_remove(struct knit_dht_table *t,
                           const struct knit_peer_id *peer)
{
    unsigned bi;
    struct knit_dht_bucket *b = peer ? bucket_of_peer(t, peer, &bi) : NULL;
    if (!b)
        return false;
    long at = find_in(b->e, b->n, peer);
    if (at >= 0) {
        vacate(t, b, (uint32_t)at);
    } else {
        at = find_in(b->r, b->nr, peer);
        if (at < 0)
            return false;
        drop_replacement(b, (uint32_t)at);
    }
    free_if_empty(t, bi);
    return true;
}

const struct knit_dht_entry *
knit_dht_table_find(const struct knit_dht_table *t,
                    const struct knit_peer_id *peer)
{
    unsigned bi;
    const struct knit_dht_bucket *b = peer ? bucket_of_peer(t, peer, &bi)
                                           : NULL;
    if (!b)
        return NULL;
    long at = find_in(b->e, b->n, peer);
    return at >= 0 ? &b->e[at] : NULL;
}

/* Inserts e into out[0..*count), kept sorted, at most n long. */
static void insert_closest(const struct knit_dht_key *target,
                           const struct knit_dht_entry *e,
                           struct knit_dht_entry *out, size_t *count, size_t n)
{
    size_t i = *count;
    if (i == n) {
        if (knit_dht_key_cmp_distance(target, &e->key, &out[n - 1].key) >= 0)
            return;
        i--;
    } else {
        (*count)++;
    }
    for (; i > 0 && knit_dht_key_cmp_distance(target, &e->key,
                                              &out[i - 1].key) < 0;
         i--)
        out[i] = out[i - 1];
    out[i] = *e;
}

static void insert_bucket(const struct knit_dht_table *t, unsigned bi,
                          const struct knit_dht_key *target,
                          struct knit_dht_entry *out, size_t *count, size_t n)
{
    const struct knit_dht_bucket *b = t->buckets[bi];
    if (!b)
        return;
    for (uint32_t i = 0; i < b->n; i++)
        insert_closest(target, &b->e[i], out, count, n);
}

/* With c the bucket of the target (its common prefix with us), an entry of
 * bucket c first differs from the target after bit c, one of any deeper
 * bucket at bit c, one of bucket i < c at bit i. So bucket c is closest,
 * the deeper ones come next as one group, then c-1 down to 0, and the walk
 * stops once the output is full at the end of a group. */
size_t knit_dht_table_closest(const struct knit_dht_table *t,
                              const struct knit_dht_key *target,
                              struct knit_dht_entry *out, size_t n)
{
    if (!target || !out || n == 0)
        return 0;
    size_t count = 0;
    unsigned c = bucket_of(t, target);
    if (c < KNIT_DHT_KEY_BITS) {
        insert_bucket(t, c, target, out, &count, n);
        if (count == n)
            return count;
        for (unsigned bi = c + 1; bi < KNIT_DHT_KEY_BITS; bi++)
            insert_bucket(t, bi, target, out, &count, n);
    }
    for (unsigned bi = c; bi-- > 0 && count < n;)
        insert_bucket(t, bi, target, out, &count, n);
    return count;
}

size_t knit_dht_table_size(const struct knit_dht_table *t)
{
    return t->size;
}

size_t knit_dht_table_bucket_entries(const struct knit_dht_table *t,
                                     unsigned bucket)
{
    if (bucket >= KNIT_DHT_KEY_BITS || !t->buckets[bucket])
        return 0;
    return t->buckets[bucket]->n;
}

size_t knit_dht_table_bucket_replacements(const struct knit_dht_table *t,
                                          unsigned bucket)
{
    if (bucket >= KNIT_DHT_KEY_BITS || !t->buckets[bucket])
        return 0;
    return t->buckets[bucket]->nr;
}

const struct knit_dht_entry *
knit_dht_table_bucket_entry(const struct knit_dht_table *t, unsigned bucket,
                            size_t i)
{
    if (bucket >= KNIT_DHT_KEY_BITS || !t->buckets[bucket] ||
        i >= t->buckets[bucket]->n)
        return NULL;
    return &t->buckets[bucket]->e[i];
}

int knit_dht_table_deepest_bucket(const struct knit_dht_table *t)
{
    for (unsigned bi = KNIT_DHT_KEY_BITS; bi-- > 0;)
        if (t->buckets[bi] && t->buckets[bi]->n)
            return (int)bi;
    return -1;
}
