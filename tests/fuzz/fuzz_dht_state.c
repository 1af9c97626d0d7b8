/* Fuzzes the dht.state reader. Every input is read with a sink that keeps
 * the items; whatever the outcome, the items delivered must be exactly
 * those of the input cut where the read stopped. Items that were read are
 * written out again and must read back the same, and writing those bytes
 * once more must give the same bytes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dht/state.h"
#include "transport/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x) do { if (!(x)) __builtin_trap(); } while (0)

/* Inputs past this are skipped: the limits are exercised by the unit
 * test, and a bound keeps the item arrays below small. */
#define MAX_INPUT (64 * 1024)

struct item {
    struct knit_dht_state_peer peer;   /* peers */
    const uint8_t *env;                /* records: NULL for a peer */
    size_t len;
};

struct items {
    struct item it[KNIT_DHT_STATE_MAX_PEERS + KNIT_DHT_STATE_MAX_RECORDS];
    size_t n, peers, records;
};

static struct items first, second, prefix;

static int on_peer(void *ctx, const struct knit_dht_state_peer *p)
{
    struct items *s = ctx;
    CHECK(s->peers < KNIT_DHT_STATE_MAX_PEERS);
    CHECK(p->addr.family == KNIT_AF_IP4 || p->addr.family == KNIT_AF_IP6);
    s->it[s->n++] = (struct item){.peer = *p};
    s->peers++;
    return 0;
}

static int on_record(void *ctx, const uint8_t *env, size_t len)
{
    struct items *s = ctx;
    CHECK(s->records < KNIT_DHT_STATE_MAX_RECORDS);
    CHECK(env != NULL && len > 0);
    s->it[s->n++] = (struct item){.env = env, .len = len};
    s->records++;
    return 0;
}

static int read_into(struct items *s, const uint8_t *in, size_t len,
                     uint64_t *saved_at, size_t *off)
{
    s->n = s->peers = s->records = 0;
    struct knit_dht_state_sink sink = {s, on_peer, on_record};
    return knit_dht_state_read(in, len, &sink, saved_at, off);
}

static void same_items(const struct items *a, const struct items *b)
{
    CHECK(a->n == b->n && a->peers == b->peers && a->records == b->records);
    for (size_t i = 0; i < a->n; i++) {
        const struct item *x = &a->it[i], *y = &b->it[i];
        CHECK((x->env == NULL) == (y->env == NULL));
        if (x->env) {
            CHECK(x->len == y->len && memcmp(x->env, y->env, x->len) == 0);
        } else {
            CHECK(knit_peer_id_equal(&x->peer.id, &y->peer.id));
            CHECK(knit_addr_equal(&x->peer.addr, &y->peer.addr));
            CHECK(x->peer.last_seen_unix == y->peer.last_seen_unix);
        }
    }
}

static void write_items(struct knit_dht_state_writer *w, uint64_t saved_at,
                        const struct items *s)
{
    CHECK(knit_dht_state_writer_init(w, saved_at) == 0);
    for (size_t i = 0; i < s->n; i++) {
        const struct item *x = &s->it[i];
        if (x->env)
            CHECK(knit_dht_state_add_record(w, x->env, x->len) == 0);
        else
            CHECK(knit_dht_state_add_peer(w, &x->peer) == 0);
    }
    CHECK(w->err == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_INPUT)
        return 0;
    uint64_t saved_at;
    size_t off;
    int err = read_into(&first, data, size, &saved_at, &off);
    CHECK(off <= size);
    if (err) {
        CHECK(err < 0);
        CHECK(err != KNIT_E_AGAIN && err != KNIT_E_INVAL);
        /* Everything before the bad frame reads cleanly on its own (unless
         * nothing, not even the header, came before it). */
        size_t off2;
        uint64_t saved2;
        int err2 = read_into(&prefix, data, off, &saved2, &off2);
        if (off == 0) {
            CHECK(err2 == KNIT_E_MISSING && first.n == 0);
        } else {
            CHECK(err2 == 0 && off2 == off && saved2 == saved_at);
            same_items(&first, &prefix);
        }
        return 0;
    }
    CHECK(off == size);

    struct knit_dht_state_writer w1, w2;
    write_items(&w1, saved_at, &first);
    uint64_t saved_back;
    CHECK(read_into(&second, w1.buf, w1.len, &saved_back, &off) == 0);
    CHECK(off == w1.len && saved_back == saved_at);
    same_items(&first, &second);
    /* The writer packs every value in its shortest form: the input can
     * only have been as long or longer. */
    CHECK(w1.len <= size);

    write_items(&w2, saved_back, &second);
    CHECK(w2.len == w1.len && memcmp(w1.buf, w2.buf, w1.len) == 0);
    knit_dht_state_writer_free(&w2);
    knit_dht_state_writer_free(&w1);
    return 0;
}
