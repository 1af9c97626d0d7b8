/* The AutoNAT server's rate limits (node/autonat_limit.h): the per-peer
 * request and DIAL_FOR buckets, the global bucket, refusals costing no
 * token, and a full table that churned peer IDs cannot turn into fresh
 * bursts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "node/autonat_limit.h"
#include "transport/error.h"

#define MS UINT64_C(1000)
#define SEC UINT64_C(1000000)
#define T0 (UINT64_C(1000) * SEC)

static struct knit_peer_id peer(uint32_t n)
{
    struct knit_peer_id id;
    memset(&id, 0, sizeof id);
    memcpy(id.pubkey, &n, sizeof n);
    id.pubkey[31] = 0x5a;
    return id;
}

static struct knit_autonat_limit *lim_new(
    const struct knit_autonat_limit_config *cfg)
{
    struct knit_autonat_limit *lim = NULL;
    assert_int_equal(knit_autonat_limit_new(&lim, cfg), 0);
    assert_non_null(lim);
    return lim;
}

/* How many of n back-to-back requests at now get through. */
static int burst(struct knit_autonat_limit *lim, uint32_t who,
                 enum knit_autonat_limit_kind kind, uint64_t now, int n)
{
    struct knit_peer_id id = peer(who);
    int ok = 0;
    for (int i = 0; i < n; i++)
        ok += knit_autonat_limit_allow(lim, &id, kind, now);
    return ok;
}

/* Per-peer tests use a global bucket too large to matter. */
static const struct knit_autonat_limit_config roomy = {
    .global_per_second = 1000000,
    .global_burst = 1000000,
};

static void test_arguments(void **state)
{
    (void)state;
    struct knit_autonat_limit *lim = NULL;
    struct knit_autonat_limit_config cfg = {
        .peers = KNIT_AUTONAT_LIMIT_MAX_PEERS + 1};
    assert_int_equal(knit_autonat_limit_new(NULL, NULL), KNIT_E_INVAL);
    assert_int_equal(knit_autonat_limit_new(&lim, &cfg), KNIT_E_INVAL);
    assert_null(lim);
    lim = lim_new(NULL);
    struct knit_peer_id id = peer(1);
    assert_false(knit_autonat_limit_allow(NULL, &id,
                                          KNIT_AUTONAT_LIMIT_REQUEST, T0));
    assert_false(knit_autonat_limit_allow(lim, NULL,
                                          KNIT_AUTONAT_LIMIT_REQUEST, T0));
    assert_false(knit_autonat_limit_allow(
        lim, &id, (enum knit_autonat_limit_kind)2, T0));
    /* The refusals took nothing: the full burst is there. */
    assert_int_equal(burst(lim, 1, KNIT_AUTONAT_LIMIT_REQUEST, T0, 10),
                     KNIT_AUTONAT_LIMIT_REQUEST_BURST);
    knit_autonat_limit_free(lim);
    knit_autonat_limit_free(NULL);
}

static void test_per_peer_requests(void **state)
{
    (void)state;
    struct knit_autonat_limit *lim = lim_new(&roomy);
    assert_int_equal(burst(lim, 1, KNIT_AUTONAT_LIMIT_REQUEST, T0, 10), 3);
    /* 1 per 10 s. */
    assert_int_equal(burst(lim, 1, KNIT_AUTONAT_LIMIT_REQUEST,
                           T0 + 10 * SEC - 1, 1), 0);
    assert_int_equal(burst(lim, 1, KNIT_AUTONAT_LIMIT_REQUEST, T0 + 10 * SEC,
                           5), 1);
    /* Another peer is not affected. */
    assert_int_equal(burst(lim, 2, KNIT_AUTONAT_LIMIT_REQUEST, T0 + 10 * SEC,
                           10), 3);
    /* Idle long enough, the whole burst is back, and no more. */
    assert_int_equal(burst(lim, 1, KNIT_AUTONAT_LIMIT_REQUEST, T0 + 500 * SEC,
                           10), 3);
    knit_autonat_limit_free(lim);
}

static void test_refused_cost_nothing(void **state)
{
    (void)state;
    struct knit_autonat_limit *lim = lim_new(&roomy);
    assert_int_equal(burst(lim, 1, KNIT_AUTONAT_LIMIT_REQUEST, T0, 3), 3);
    /* Hammering while limited does not push the next token further. */
    assert_int_equal(burst(lim, 1, KNIT_AUTONAT_LIMIT_REQUEST, T0 + 5 * SEC,
                           100), 0);
    assert_int_equal(burst(lim, 1, KNIT_AUTONAT_LIMIT_REQUEST, T0 + 10 * SEC,
                           1), 1);
    knit_autonat_limit_free(lim);
}

static void test_dial_for(void **state)
{
    (void)state;
    struct knit_autonat_limit *lim = lim_new(&roomy);
    assert_int_equal(burst(lim, 1, KNIT_AUTONAT_LIMIT_DIAL_FOR, T0, 10), 3);
    assert_int_equal(burst(lim, 1, KNIT_AUTONAT_LIMIT_DIAL_FOR,
                           T0 + 2 * SEC - 1, 1), 0);
    assert_int_equal(burst(lim, 1, KNIT_AUTONAT_LIMIT_DIAL_FOR, T0 + 2 * SEC,
                           5), 1);
    /* Its own bucket: the same peer's requests are untouched. */
    assert_int_equal(burst(lim, 1, KNIT_AUTONAT_LIMIT_REQUEST, T0 + 2 * SEC,
                           10), 3);
    knit_autonat_limit_free(lim);
}

static void test_global(void **state)
{
    (void)state;
    struct knit_autonat_limit *lim = lim_new(NULL);   /* 20/s, burst 40 */
    int ok = 0;
    for (uint32_t p = 1; p <= 60; p++)
        ok += burst(lim, p, KNIT_AUTONAT_LIMIT_REQUEST, T0, 1);
    assert_int_equal(ok, KNIT_AUTONAT_LIMIT_GLOBAL_BURST);
    /* DIAL_FOR shares the global bucket. */
    assert_int_equal(burst(lim, 99, KNIT_AUTONAT_LIMIT_DIAL_FOR, T0, 1), 0);
    /* One more every 50 ms. */
    assert_int_equal(burst(lim, 61, KNIT_AUTONAT_LIMIT_REQUEST,
                           T0 + 50 * MS - 1, 1), 0);
    assert_int_equal(burst(lim, 61, KNIT_AUTONAT_LIMIT_REQUEST, T0 + 50 * MS,
                           3), 1);
    /* Peer 50, refused by the global limit only, kept its whole burst. */
    assert_int_equal(burst(lim, 50, KNIT_AUTONAT_LIMIT_REQUEST, T0 + 5 * SEC,
                           10), 3);
    knit_autonat_limit_free(lim);
}

static void test_churn_mints_no_bursts(void **state)
{
    (void)state;
    struct knit_autonat_limit_config cfg = roomy;
    cfg.peers = 4;
    struct knit_autonat_limit *lim = lim_new(&cfg);
    /* 100 fresh peer IDs within a second: only the table's four buckets'
     * worth gets through, not 100 bursts. */
    int ok = 0;
    for (uint32_t p = 1; p <= 100; p++)
        ok += burst(lim, p, KNIT_AUTONAT_LIMIT_REQUEST, T0 + p * MS, 3);
    assert_int_equal(ok, 4 * KNIT_AUTONAT_LIMIT_REQUEST_BURST);
    /* Once the buckets have refilled on their own, newcomers are served. */
    assert_int_equal(burst(lim, 200, KNIT_AUTONAT_LIMIT_REQUEST,
                           T0 + 31 * SEC, 10), 3);
    knit_autonat_limit_free(lim);

    /* A peer pushed out of the table does not come back with a full
     * burst while the table is busy. */
    lim = lim_new(&cfg);
    for (uint32_t p = 1; p <= 4; p++)
        assert_int_equal(burst(lim, p, KNIT_AUTONAT_LIMIT_REQUEST, T0, 3), 3);
    assert_int_equal(burst(lim, 5, KNIT_AUTONAT_LIMIT_REQUEST, T0 + SEC, 3),
                     0);   /* takes over peer 1's spent bucket */
    assert_int_equal(burst(lim, 1, KNIT_AUTONAT_LIMIT_REQUEST, T0 + 2 * SEC,
                           3), 0);
    knit_autonat_limit_free(lim);

    /* A free or refilled entry is a fresh bucket: nothing to inherit. */
    lim = lim_new(&cfg);
    for (uint32_t p = 1; p <= 4; p++)
        assert_int_equal(burst(lim, p, KNIT_AUTONAT_LIMIT_REQUEST, T0, 1), 1);
    assert_int_equal(burst(lim, 5, KNIT_AUTONAT_LIMIT_REQUEST, T0 + 11 * SEC,
                           3), 3);
    knit_autonat_limit_free(lim);

    /* A refilled entry is taken before an older one still in debt: peer 3
     * gets peer 2's full bucket, peer 1 (spent at T0) keeps its own, which
     * has refilled one request in 12 s. */
    cfg.peers = 2;
    lim = lim_new(&cfg);
    assert_int_equal(burst(lim, 1, KNIT_AUTONAT_LIMIT_REQUEST, T0, 3), 3);
    assert_int_equal(burst(lim, 2, KNIT_AUTONAT_LIMIT_REQUEST, T0 + SEC, 1),
                     1);
    assert_int_equal(burst(lim, 3, KNIT_AUTONAT_LIMIT_REQUEST, T0 + 12 * SEC,
                           3), 3);
    assert_int_equal(burst(lim, 1, KNIT_AUTONAT_LIMIT_REQUEST, T0 + 12 * SEC,
                           3), 1);
    knit_autonat_limit_free(lim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arguments),
        cmocka_unit_test(test_per_peer_requests),
        cmocka_unit_test(test_refused_cost_nothing),
        cmocka_unit_test(test_dial_for),
        cmocka_unit_test(test_global),
        cmocka_unit_test(test_churn_mints_no_bursts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
