/* The record store: real signed records put, replaced by higher sequence
 * numbers and refused for every reason store.h lists (size, signature,
 * tampering, issue time, staleness, per-sender and total limits), expiry
 * and its refresh on put. After every refusal the store must be exactly as
 * it was. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dht/rpc.h"
#include "dht/store.h"
#include "proto/record.h"
#include "transport/error.h"

#define ISSUED UINT64_C(1700000000)
#define NOW UINT64_C(5000000)
#define TTL UINT64_C(1000000)
#define OWNERS 6

struct env {
    uint8_t b[KNIT_RECORD_MAX_BYTES];
    size_t len;
};

struct fixture {
    struct knit_identity owner[OWNERS];
    struct knit_peer_id s1, s2;       /* senders */
    struct knit_dht_store store;
};

static void make_ident(struct knit_identity *ident, uint8_t fill)
{
    uint8_t seed[KNIT_SEED_LEN];
    for (size_t i = 0; i < sizeof seed; i++)
        seed[i] = (uint8_t)(fill + i);
    assert_int_equal(knit_identity_from_seed(ident, seed), 0);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    for (uint8_t i = 0; i < OWNERS; i++)
        make_ident(&f->owner[i], (uint8_t)(0x20 * i + 1));
    memset(f->s1.pubkey, 0xa1, sizeof f->s1.pubkey);
    memset(f->s2.pubkey, 0xb2, sizeof f->s2.pubkey);
    struct knit_dht_store_config cfg = {
        .max_records = 4, .max_per_sender = 2, .ttl_us = TTL,
        .max_age_s = 3600, .max_skew_s = 60,
    };
    knit_dht_store_init(&f->store, &cfg);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    knit_dht_store_free(&f->store);
    for (size_t i = 0; i < OWNERS; i++)
        knit_identity_wipe(&f->owner[i]);
    free(f);
    return 0;
}

/* A record of ident's with one address (its last byte = seq, so records
 * of different seq differ in more than the number). */
static void sign(struct env *e, const struct knit_identity *ident,
                 uint64_t seq, uint64_t issued)
{
    struct knit_peer_record rec;
    memset(&rec, 0, sizeof rec);
    rec.peer = ident->id;
    rec.seq = seq;
    rec.issued = issued;
    struct knit_addr a;
    uint8_t ip[4] = { 203, 0, 113, (uint8_t)seq };
    assert_int_equal(knit_addr_set(&a, ip, 4, 4001), 0);
    assert_int_equal(knit_multiaddr_from_socket(&rec.addrs[0], &a, NULL), 0);
    rec.addr_count = 1;
    rec.nat.reachability = KNIT_REACHABILITY_PUBLIC;
    assert_int_equal(knit_record_sign(&rec, ident, e->b, sizeof e->b,
                                      &e->len), 0);
}

static int put(struct fixture *f, const struct knit_peer_id *sender,
               const struct env *e, uint64_t now)
{
    return knit_dht_store_put(&f->store, sender, e->b, e->len, now, ISSUED,
                              NULL);
}

static const struct knit_dht_stored *get(const struct fixture *f,
                                         const struct knit_identity *owner,
                                         uint64_t now)
{
    struct knit_dht_key key;
    knit_dht_key_of_peer(&key, &owner->id);
    return knit_dht_store_get(&f->store, &key, now);
}

/* ---- snapshots: a refusal must change nothing -------------------------------- */

struct snapshot {
    size_t count;
    struct knit_dht_stored rec[8];
    uint8_t env[8][KNIT_RECORD_MAX_BYTES];
};

static struct snapshot *snap(const struct fixture *f)
{
    struct snapshot *s = test_calloc(1, sizeof *s);
    s->count = knit_dht_store_count(&f->store);
    assert_true(s->count <= 8);
    for (size_t i = 0; i < s->count; i++) {
        s->rec[i] = *knit_dht_store_at(&f->store, i);
        memcpy(s->env[i], s->rec[i].envelope, s->rec[i].len);
    }
    return s;
}

static void expect_unchanged(const struct fixture *f, struct snapshot *s)
{
    assert_int_equal(knit_dht_store_count(&f->store), s->count);
    for (size_t i = 0; i < s->count; i++) {
        const struct knit_dht_stored *r = knit_dht_store_at(&f->store, i);
        const struct knit_dht_stored *o = &s->rec[i];
        assert_memory_equal(r->key.b, o->key.b, sizeof o->key.b);
        assert_true(knit_peer_id_equal(&r->peer, &o->peer));
        assert_true(knit_peer_id_equal(&r->sender, &o->sender));
        assert_true(r->seq == o->seq && r->issued == o->issued);
        assert_true(r->expires == o->expires);
        assert_int_equal(r->len, o->len);
        assert_ptr_equal(r->envelope, o->envelope);
        assert_memory_equal(r->envelope, s->env[i], r->len);
    }
    test_free(s);
}

/* put must return want and leave the store as it was. */
static void expect_refused(struct fixture *f,
                           const struct knit_peer_id *sender,
                           const uint8_t *b, size_t len, uint64_t now,
                           uint64_t unix_s, int want)
{
    struct snapshot *s = snap(f);
    struct knit_peer_record rec;
    memset(&rec, 0x5a, sizeof rec);
    assert_int_equal(knit_dht_store_put(&f->store, sender, b, len, now,
                                        unix_s, &rec), want);
    /* rec is written only on success. */
    assert_int_equal(rec.addr_count, 0x5a);
    expect_unchanged(f, s);
}

/* ---- tests ------------------------------------------------------------------------ */

static void test_defaults(void **state)
{
    (void)state;
    struct knit_dht_store s;
    knit_dht_store_init(&s, NULL);
    assert_int_equal(s.cfg.max_records, 4096);
    assert_int_equal(s.cfg.max_record_bytes, KNIT_RECORD_MAX_BYTES);
    assert_int_equal(s.cfg.max_per_sender, 16);
    assert_true(s.cfg.ttl_us == UINT64_C(2) * 3600 * 1000000);
    assert_true(s.cfg.max_age_s == 24 * 3600);
    assert_true(s.cfg.max_skew_s == 600);
    assert_int_equal(knit_dht_store_count(&s), 0);
    assert_true(knit_dht_store_next_expiry(&s) == UINT64_MAX);
    assert_null(knit_dht_store_at(&s, 0));
    knit_dht_store_free(&s);

    struct knit_dht_store_config cfg = {
        .max_record_bytes = KNIT_RECORD_MAX_BYTES + 1, .max_records = 7,
    };
    knit_dht_store_init(&s, &cfg);
    assert_int_equal(s.cfg.max_record_bytes, KNIT_RECORD_MAX_BYTES);
    assert_int_equal(s.cfg.max_records, 7);
    knit_dht_store_free(&s);
}

static void test_accept(void **state)
{
    struct fixture *f = *state;
    struct env e;
    sign(&e, &f->owner[0], 5, ISSUED);
    struct knit_peer_record rec;
    memset(&rec, 0, sizeof rec);
    assert_int_equal(knit_dht_store_put(&f->store, &f->s1, e.b, e.len, NOW,
                                        ISSUED, &rec), 0);
    assert_true(knit_peer_id_equal(&rec.peer, &f->owner[0].id));
    assert_true(rec.seq == 5);
    assert_int_equal(rec.addr_count, 1);

    const struct knit_dht_stored *r = get(f, &f->owner[0], NOW);
    assert_non_null(r);
    struct knit_dht_key key;
    knit_peer_id_dht_key(&f->owner[0].id, key.b);
    assert_memory_equal(r->key.b, key.b, sizeof key.b);
    assert_true(knit_peer_id_equal(&r->peer, &f->owner[0].id));
    assert_true(knit_peer_id_equal(&r->sender, &f->s1));
    assert_true(r->seq == 5 && r->issued == ISSUED);
    assert_true(r->expires == NOW + TTL);
    assert_int_equal(r->len, e.len);
    assert_memory_equal(r->envelope, e.b, e.len);
    /* The store keeps its own copy. */
    assert_ptr_not_equal(r->envelope, e.b);
    memset(e.b, 0, sizeof e.b);
    assert_int_equal(r->envelope[0], 0x83);
    assert_int_equal(knit_dht_store_count(&f->store), 1);
    assert_ptr_equal(knit_dht_store_at(&f->store, 0), r);
    assert_null(knit_dht_store_at(&f->store, 1));
    /* Nothing under another key. */
    assert_null(get(f, &f->owner[1], NOW));
}

static void test_higher_seq_wins(void **state)
{
    struct fixture *f = *state;
    struct env e5, e6, e4;
    sign(&e5, &f->owner[0], 5, ISSUED);
    sign(&e6, &f->owner[0], 6, ISSUED);
    sign(&e4, &f->owner[0], 4, ISSUED);
    assert_int_equal(put(f, &f->s1, &e5, NOW), 0);

    /* The same record again, and an older one: nothing changes. */
    expect_refused(f, &f->s1, e5.b, e5.len, NOW + 10, ISSUED, KNIT_E_STALE);
    expect_refused(f, &f->s2, e5.b, e5.len, NOW + 10, ISSUED, KNIT_E_STALE);
    expect_refused(f, &f->s1, e4.b, e4.len, NOW + 10, ISSUED, KNIT_E_STALE);

    /* A newer one from someone else replaces it, in place. */
    assert_int_equal(put(f, &f->s2, &e6, NOW + 20), 0);
    assert_int_equal(knit_dht_store_count(&f->store), 1);
    const struct knit_dht_stored *r = get(f, &f->owner[0], NOW + 20);
    assert_non_null(r);
    assert_true(r->seq == 6);
    assert_true(knit_peer_id_equal(&r->sender, &f->s2));
    assert_memory_equal(r->envelope, e6.b, e6.len);
    /* ...and its expiry starts again. */
    assert_true(r->expires == NOW + 20 + TTL);
    assert_true(knit_dht_store_next_expiry(&f->store) == NOW + 20 + TTL);
    assert_non_null(get(f, &f->owner[0], NOW + TTL + 19));
    expect_refused(f, &f->s1, e5.b, e5.len, NOW + 30, ISSUED, KNIT_E_STALE);
}

static void test_bad_records(void **state)
{
    struct fixture *f = *state;
    struct env keep, e;
    sign(&keep, &f->owner[1], 1, ISSUED);
    assert_int_equal(put(f, &f->s1, &keep, NOW), 0);
    sign(&e, &f->owner[0], 9, ISSUED);

    /* The signature's last byte. */
    e.b[e.len - 1] ^= 0x01;
    expect_refused(f, &f->s1, e.b, e.len, NOW, ISSUED, KNIT_E_SIGNATURE);
    e.b[e.len - 1] ^= 0x01;

    /* The address inside the payload: 203.0.113.9 becomes .8. */
    static const uint8_t ip[] = { 203, 0, 113, 9 };
    uint8_t *at = NULL;
    for (size_t i = 0; i + sizeof ip <= e.len && !at; i++)
        if (memcmp(e.b + i, ip, sizeof ip) == 0)
            at = e.b + i;
    assert_non_null(at);
    at[3] = 8;
    expect_refused(f, &f->s1, e.b, e.len, NOW, ISSUED, KNIT_E_SIGNATURE);
    at[3] = 9;

    /* Every byte flipped in turn: none gets in. */
    for (size_t i = 0; i < e.len; i++) {
        e.b[i] ^= 0x40;
        struct snapshot *s = snap(f);
        int err = put(f, &f->s1, &e, NOW);
        assert_true(err < 0);
        assert_int_equal(knit_dht_status_of_error(err) == KNIT_DHT_OK, false);
        expect_unchanged(f, s);
        e.b[i] ^= 0x40;
    }

    /* Cut short, empty, with a byte after it. */
    expect_refused(f, &f->s1, e.b, e.len - 1, NOW, ISSUED, KNIT_E_TRUNCATED);
    expect_refused(f, &f->s1, e.b, 0, NOW, ISSUED, KNIT_E_TRUNCATED);
    e.b[e.len] = 0;
    expect_refused(f, &f->s1, e.b, e.len + 1, NOW, ISSUED, KNIT_E_TRAILING);

    /* The untouched record still goes in. */
    assert_int_equal(put(f, &f->s1, &e, NOW), 0);
    assert_int_equal(knit_dht_store_count(&f->store), 2);
}

static void test_too_big(void **state)
{
    struct fixture *f = *state;
    struct env e;
    sign(&e, &f->owner[0], 1, ISSUED);
    static uint8_t huge[KNIT_RECORD_MAX_BYTES + 1];
    memcpy(huge, e.b, e.len);
    expect_refused(f, &f->s1, huge, sizeof huge, NOW, ISSUED,
                   KNIT_E_TOO_BIG);

    /* A store with a lower limit: one byte short of this record. */
    struct knit_dht_store small;
    struct knit_dht_store_config cfg = { .max_record_bytes =
                                             (uint32_t)e.len - 1 };
    knit_dht_store_init(&small, &cfg);
    assert_int_equal(knit_dht_store_put(&small, &f->s1, e.b, e.len, NOW,
                                        ISSUED, NULL), KNIT_E_TOO_BIG);
    assert_int_equal(knit_dht_store_count(&small), 0);
    small.cfg.max_record_bytes = (uint32_t)e.len;
    assert_int_equal(knit_dht_store_put(&small, &f->s1, e.b, e.len, NOW,
                                        ISSUED, NULL), 0);
    knit_dht_store_free(&small);
}

static void test_issue_time(void **state)
{
    struct fixture *f = *state;
    struct env e;
    sign(&e, &f->owner[0], 1, ISSUED);
    /* max_age_s 3600, max_skew_s 60 */
    expect_refused(f, &f->s1, e.b, e.len, NOW, ISSUED + 3601,
                   KNIT_E_EXPIRED);
    expect_refused(f, &f->s1, e.b, e.len, NOW, ISSUED - 61, KNIT_E_EXPIRED);
    expect_refused(f, &f->s1, e.b, e.len, NOW, 0, KNIT_E_EXPIRED);
    expect_refused(f, &f->s1, e.b, e.len, NOW, UINT64_MAX, KNIT_E_EXPIRED);
    assert_int_equal(knit_dht_store_put(&f->store, &f->s1, e.b, e.len, NOW,
                                        ISSUED + 3600, NULL), 0);
    sign(&e, &f->owner[0], 2, ISSUED);
    assert_int_equal(knit_dht_store_put(&f->store, &f->s1, e.b, e.len, NOW,
                                        ISSUED - 60, NULL), 0);
    /* The age is checked before staleness: an old replay is EXPIRED. */
    expect_refused(f, &f->s1, e.b, e.len, NOW, ISSUED + 4000,
                   KNIT_E_EXPIRED);
}

static void test_per_sender_limit(void **state)
{
    struct fixture *f = *state;
    struct env e[OWNERS], newer;
    for (uint8_t i = 0; i < OWNERS; i++)
        sign(&e[i], &f->owner[i], 1, ISSUED);
    f->store.cfg.max_records = 100;

    /* max_per_sender is 2. */
    assert_int_equal(put(f, &f->s1, &e[0], NOW), 0);
    assert_int_equal(put(f, &f->s1, &e[1], NOW), 0);
    expect_refused(f, &f->s1, e[2].b, e[2].len, NOW, ISSUED, KNIT_E_LIMIT);
    assert_int_equal(put(f, &f->s2, &e[2], NOW), 0);

    /* Replacing a record it already holds does not count twice. */
    sign(&newer, &f->owner[0], 2, ISSUED);
    assert_int_equal(put(f, &f->s1, &newer, NOW), 0);
    expect_refused(f, &f->s1, e[3].b, e[3].len, NOW, ISSUED, KNIT_E_LIMIT);

    /* Neither does taking over one of s2's: s1 is at its limit. */
    sign(&newer, &f->owner[2], 2, ISSUED);
    expect_refused(f, &f->s1, newer.b, newer.len, NOW, ISSUED,
                   KNIT_E_LIMIT);

    /* s2 takes owner 0's record over: s1 has room again, s2 is full. */
    sign(&newer, &f->owner[0], 3, ISSUED);
    assert_int_equal(put(f, &f->s2, &newer, NOW), 0);
    assert_true(knit_peer_id_equal(&get(f, &f->owner[0], NOW)->sender,
                                   &f->s2));
    expect_refused(f, &f->s2, e[4].b, e[4].len, NOW, ISSUED, KNIT_E_LIMIT);
    assert_int_equal(put(f, &f->s1, &e[3], NOW), 0);
    assert_int_equal(knit_dht_store_count(&f->store), 4);

    /* Records past their time count for nobody. */
    assert_int_equal(put(f, &f->s1, &e[4], NOW + TTL), 0);
}

static void test_total_limit(void **state)
{
    struct fixture *f = *state;
    struct env e[OWNERS], newer;
    for (uint8_t i = 0; i < OWNERS; i++)
        sign(&e[i], &f->owner[i], 1, ISSUED);
    f->store.cfg.max_per_sender = 100;

    /* max_records is 4; the first one goes in earlier, so expires first. */
    assert_int_equal(put(f, &f->s1, &e[0], NOW - 100), 0);
    for (int i = 1; i < 4; i++)
        assert_int_equal(put(f, &f->s1, &e[i], NOW), 0);
    expect_refused(f, &f->s2, e[4].b, e[4].len, NOW, ISSUED, KNIT_E_LIMIT);

    /* A newer record of a peer held still replaces when full. */
    sign(&newer, &f->owner[1], 2, ISSUED);
    assert_int_equal(put(f, &f->s2, &newer, NOW), 0);
    assert_int_equal(knit_dht_store_count(&f->store), 4);

    /* Once the first one is past its time there is room, and the dead
     * record is dropped by the put. */
    expect_refused(f, &f->s2, e[4].b, e[4].len, NOW + TTL - 101, ISSUED,
                   KNIT_E_LIMIT);
    assert_int_equal(put(f, &f->s2, &e[4], NOW + TTL - 100), 0);
    assert_int_equal(knit_dht_store_count(&f->store), 4);
    assert_null(get(f, &f->owner[0], NOW + TTL - 100));
    expect_refused(f, &f->s2, e[5].b, e[5].len, NOW + TTL - 100, ISSUED,
                   KNIT_E_LIMIT);
}

static void test_expiry(void **state)
{
    struct fixture *f = *state;
    struct env a, b;
    sign(&a, &f->owner[0], 1, ISSUED);
    sign(&b, &f->owner[1], 1, ISSUED);
    assert_true(knit_dht_store_next_expiry(&f->store) == UINT64_MAX);
    assert_int_equal(put(f, &f->s1, &a, NOW), 0);
    assert_int_equal(put(f, &f->s2, &b, NOW + 300), 0);
    assert_true(knit_dht_store_next_expiry(&f->store) == NOW + TTL);

    assert_non_null(get(f, &f->owner[0], NOW + TTL - 1));
    assert_int_equal(knit_dht_store_expire(&f->store, NOW + TTL - 1), 0);
    /* Gone at its time, before expire() is even called. */
    assert_null(get(f, &f->owner[0], NOW + TTL));
    assert_non_null(get(f, &f->owner[1], NOW + TTL));
    assert_int_equal(knit_dht_store_expire(&f->store, NOW + TTL), 1);
    assert_int_equal(knit_dht_store_count(&f->store), 1);
    assert_true(knit_dht_store_next_expiry(&f->store) == NOW + 300 + TTL);
    assert_true(knit_peer_id_equal(&knit_dht_store_at(&f->store, 0)->peer,
                                   &f->owner[1].id));

    /* The owner's next republish of the same record is taken again. */
    assert_int_equal(put(f, &f->s1, &a, NOW + TTL + 5), 0);
    assert_non_null(get(f, &f->owner[0], NOW + TTL + 5));

    assert_int_equal(knit_dht_store_expire(&f->store, UINT64_MAX), 2);
    assert_int_equal(knit_dht_store_count(&f->store), 0);
    assert_true(knit_dht_store_next_expiry(&f->store) == UINT64_MAX);
    assert_null(get(f, &f->owner[1], NOW));
}

/* Each accepted put restarts the record's time to live. */
static void test_put_refreshes(void **state)
{
    struct fixture *f = *state;
    struct env e;
    for (uint64_t seq = 1; seq <= 5; seq++) {
        sign(&e, &f->owner[0], seq, ISSUED);
        uint64_t t = NOW + (seq - 1) * (TTL / 2);
        assert_int_equal(put(f, &f->s1, &e, t), 0);
        assert_true(knit_dht_store_next_expiry(&f->store) == t + TTL);
        assert_non_null(get(f, &f->owner[0], t + TTL - 1));
        assert_int_equal(knit_dht_store_expire(&f->store, t + TTL / 2), 0);
    }
    assert_int_equal(knit_dht_store_count(&f->store), 1);
}

/* Many records: the array grows, and every one is found. */
static void test_many(void **state)
{
    struct fixture *f = *state;
    f->store.cfg.max_records = 200;
    f->store.cfg.max_per_sender = 200;
    struct env e;
    for (uint8_t i = 0; i < 40; i++) {
        struct knit_identity id;
        make_ident(&id, (uint8_t)(i * 3 + 100));
        sign(&e, &id, 1, ISSUED);
        assert_int_equal(put(f, &f->s1, &e, NOW + i), 0);
        knit_identity_wipe(&id);
    }
    assert_int_equal(knit_dht_store_count(&f->store), 40);
    for (uint8_t i = 0; i < 40; i++) {
        struct knit_identity id;
        make_ident(&id, (uint8_t)(i * 3 + 100));
        const struct knit_dht_stored *r = get(f, &id, NOW + 40);
        assert_non_null(r);
        assert_true(r->expires == NOW + i + TTL);
        knit_identity_wipe(&id);
    }
    assert_int_equal(knit_dht_store_expire(&f->store, NOW + TTL + 20), 21);
    assert_int_equal(knit_dht_store_count(&f->store), 19);
    /* Order is kept. */
    for (size_t i = 0; i < 19; i++)
        assert_true(knit_dht_store_at(&f->store, i)->expires ==
                    NOW + 21 + i + TTL);
}

static void test_status_of_error(void **state)
{
    (void)state;
    assert_int_equal(knit_dht_status_of_error(KNIT_OK), KNIT_DHT_OK);
    assert_int_equal(knit_dht_status_of_error(KNIT_E_TOO_BIG),
                     KNIT_DHT_TOO_BIG);
    assert_int_equal(knit_dht_status_of_error(KNIT_E_STALE), KNIT_DHT_STALE);
    assert_int_equal(knit_dht_status_of_error(KNIT_E_EXPIRED),
                     KNIT_DHT_EXPIRED);
    assert_int_equal(knit_dht_status_of_error(KNIT_E_LIMIT), KNIT_DHT_LIMIT);
    static const int bad[] = { KNIT_E_SIGNATURE, KNIT_E_KEY_MISMATCH,
                               KNIT_E_TRUNCATED, KNIT_E_NONCANONICAL,
                               KNIT_E_NOMEM, KNIT_E_INVAL, KNIT_E_TIMEOUT };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(knit_dht_status_of_error(bad[i]),
                         KNIT_DHT_BAD_RECORD);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        T(test_accept),
        T(test_higher_seq_wins),
        T(test_bad_records),
        T(test_too_big),
        T(test_issue_time),
        T(test_per_sender_limit),
        T(test_total_limit),
        T(test_expiry),
        T(test_put_refreshes),
        T(test_many),
        cmocka_unit_test(test_status_of_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
