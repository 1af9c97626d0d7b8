/* The observed-address book (node/observed.h): the trust rule in large and
 * small networks (liars outvoted, one public peer enough, contradictions,
 * scopes, IPv6 /64s), age-out, bounds and replacement, and every case of
 * the mapping classifier, with the sequential-port note. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "node/observed.h"
#include "proto/record.h"
#include "transport/error.h"

#define SEC UINT64_C(1000000)
#define MIN (60 * SEC)
#define T0 (UINT64_C(1000) * SEC)

static struct knit_addr v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d,
                           uint16_t port)
{
    struct knit_addr addr;
    const uint8_t ip[4] = {a, b, c, d};
    knit_addr_set(&addr, ip, 4, port);
    return addr;
}

/* Observer i: 198.51.100.i (a global address, one per "host"). */
static struct knit_addr obs_ip(uint8_t i, uint16_t port)
{
    return v4(198, 51, 100, i, port);
}

/* Our public address at a mapped port. */
static struct knit_addr pub(uint16_t port)
{
    return v4(203, 0, 113, 5, port);
}

static const struct knit_addr *lan_local(void)
{
    static struct knit_addr a;
    a = v4(192, 168, 1, 5, 4001);
    return &a;
}

static struct knit_observed *book_new(const struct knit_observed_config *cfg)
{
    struct knit_observed *b = NULL;
    assert_int_equal(knit_observed_new(&b, cfg), 0);
    assert_non_null(b);
    return b;
}

static void add(struct knit_observed *b, int sock, struct knit_addr observer,
                struct knit_addr observed, uint64_t now)
{
    assert_int_equal(knit_observed_add(b, sock, &observer, &observed, now), 0);
}

/* The list entry for addr; fails if absent. */
static struct knit_observed_entry find(struct knit_observed *b, uint64_t now,
                                       struct knit_addr addr)
{
    struct knit_observed_entry e[KNIT_OBSERVED_LIMIT];
    size_t n = knit_observed_list(b, now, e, KNIT_OBSERVED_LIMIT);
    for (size_t i = 0; i < n; i++)
        if (knit_addr_equal(&e[i].addr, &addr))
            return e[i];
    fail_msg("address not listed");
    return e[0];
}

static size_t count(struct knit_observed *b, uint64_t now)
{
    struct knit_observed_entry e[KNIT_OBSERVED_LIMIT];
    return knit_observed_list(b, now, e, KNIT_OBSERVED_LIMIT);
}

static struct knit_mapping_verdict mapping(struct knit_observed *b, int sock,
                                           const struct knit_addr *local,
                                           uint64_t now)
{
    struct knit_mapping_verdict v;
    memset(&v, 0xa5, sizeof v);
    assert_int_equal(knit_observed_mapping(b, sock, local, now, &v), 0);
    return v;
}

static void expect_mapping(struct knit_observed *b, int sock,
                           const struct knit_addr *local, uint8_t want,
                           uint8_t confidence, bool nat)
{
    struct knit_mapping_verdict v = mapping(b, sock, local, T0 + SEC);
    assert_int_equal(v.mapping, want);
    assert_int_equal(v.confidence, confidence);
    assert_int_equal(v.nat, nat);
}

/* ---- arguments ----------------------------------------------------------- */

static void test_arguments(void **state)
{
    (void)state;
    struct knit_observed *b = NULL;
    struct knit_observed_config cfg = {.max_observations =
                                           KNIT_OBSERVED_LIMIT + 1};
    assert_int_equal(knit_observed_new(NULL, NULL), KNIT_E_INVAL);
    assert_int_equal(knit_observed_new(&b, &cfg), KNIT_E_INVAL);
    assert_null(b);
    b = book_new(NULL);
    struct knit_addr o = obs_ip(1, 4001), me = pub(6000), bad = me;
    assert_int_equal(knit_observed_add(b, -1, &o, &me, T0), KNIT_E_INVAL);
    assert_int_equal(knit_observed_add(b, 0, NULL, &me, T0), KNIT_E_INVAL);
    assert_int_equal(knit_observed_add(NULL, 0, &o, &me, T0), KNIT_E_INVAL);
    bad.family = 0;
    assert_int_equal(knit_observed_add(b, 0, &o, &bad, T0), KNIT_E_INVAL);
    assert_int_equal(knit_observed_add(b, 0, &bad, &me, T0), KNIT_E_INVAL);
    bad = pub(0);
    assert_int_equal(knit_observed_add(b, 0, &o, &bad, T0), KNIT_E_INVAL);
    assert_int_equal(knit_observed_add(b, 0, &bad, &me, T0), KNIT_E_INVAL);
    bad = v4(0, 0, 0, 0, 6000);
    assert_int_equal(knit_observed_add(b, 0, &o, &bad, T0), KNIT_E_INVAL);
    assert_int_equal(count(b, T0), 0);

    struct knit_mapping_verdict v;
    bad.family = 0;
    assert_int_equal(knit_observed_mapping(b, 0, &bad, T0, &v), KNIT_E_INVAL);
    assert_int_equal(knit_observed_mapping(b, 0, NULL, T0, &v), KNIT_E_INVAL);
    assert_int_equal(knit_observed_mapping(b, 0, lan_local(), T0, NULL),
                     KNIT_E_INVAL);
    assert_int_equal(knit_observed_mapping(b, -1, lan_local(), T0, &v),
                     KNIT_E_INVAL);
    /* Nothing observed: unknown, no confidence, nothing claimed. */
    v = mapping(b, 0, lan_local(), T0);
    assert_int_equal(v.mapping, KNIT_MAPPING_UNKNOWN);
    assert_int_equal(v.confidence, KNIT_CONFIDENCE_NONE);
    assert_false(v.nat);
    assert_false(v.sequential);
    assert_int_equal(v.observers, 0);
    assert_int_equal(knit_observed_list(b, T0, NULL, 0), 0);
    knit_observed_free(b);
    knit_observed_free(NULL);
}

/* ---- trust --------------------------------------------------------------- */

static void test_trust_large_network(void **state)
{
    (void)state;
    struct knit_observed *b = book_new(NULL);
    /* Two liars first, then five honest observers. */
    add(b, 0, obs_ip(100, 4001), v4(192, 0, 2, 66, 6666), T0);
    add(b, 0, obs_ip(101, 4001), v4(192, 0, 2, 66, 6666), T0);
    for (uint8_t i = 1; i <= 2; i++)
        add(b, 0, obs_ip(i, 4001), pub(6000), T0);
    /* Two honest against two liars, four sources in all: no trust yet. */
    assert_false(find(b, T0, pub(6000)).trusted);
    assert_false(find(b, T0, v4(192, 0, 2, 66, 6666)).trusted);
    for (uint8_t i = 3; i <= 5; i++)
        add(b, 0, obs_ip(i, 4001), pub(6000), T0);

    struct knit_observed_entry e[4];
    size_t n = knit_observed_list(b, T0, e, 4);
    assert_int_equal(n, 2);
    struct knit_addr want = pub(6000);
    assert_true(knit_addr_equal(&e[0].addr, &want));
    assert_true(e[0].trusted);
    assert_int_equal(e[0].confidence, KNIT_CONFIDENCE_HIGH);
    assert_int_equal(e[0].observers, 5);
    assert_false(e[1].trusted);
    assert_int_equal(e[1].confidence, KNIT_CONFIDENCE_NONE);
    assert_int_equal(e[1].observers, 2);
    /* cap 1: the best only. */
    assert_int_equal(knit_observed_list(b, T0, e, 1), 1);
    assert_true(knit_addr_equal(&e[0].addr, &want));
    knit_observed_free(b);

    /* Exactly min_observers distinct IPs suffice; repeats of one do not. */
    b = book_new(NULL);
    for (uint16_t port = 1; port <= 3; port++)
        add(b, 0, obs_ip(1, port), pub(6000), T0);
    add(b, 0, obs_ip(2, 4001), pub(6000), T0);
    add(b, 0, obs_ip(3, 4001), v4(192, 0, 2, 1, 1), T0);
    assert_int_equal(find(b, T0, pub(6000)).observers, 2);
    assert_false(find(b, T0, pub(6000)).trusted);
    add(b, 0, obs_ip(4, 4001), pub(6000), T0);
    assert_int_equal(find(b, T0, pub(6000)).confidence, KNIT_CONFIDENCE_HIGH);
    knit_observed_free(b);
}

static void test_trust_small_network(void **state)
{
    (void)state;
    /* One public peer, main and alternate port, agreeing: trusted, low. */
    struct knit_observed *b = book_new(NULL);
    add(b, 0, obs_ip(1, 4001), pub(6000), T0);
    struct knit_observed_entry e = find(b, T0, pub(6000));
    assert_true(e.trusted);
    assert_int_equal(e.confidence, KNIT_CONFIDENCE_LOW);
    assert_int_equal(e.observers, 1);
    add(b, 0, obs_ip(1, 4002), pub(6000), T0);
    assert_int_equal(find(b, T0, pub(6000)).confidence, KNIT_CONFIDENCE_LOW);
    /* A second peer agreeing: still fewer than 3 sources, still low. */
    add(b, 0, obs_ip(2, 4001), pub(6000), T0);
    e = find(b, T0, pub(6000));
    assert_int_equal(e.confidence, KNIT_CONFIDENCE_LOW);
    assert_int_equal(e.observers, 2);
    /* A third: high. */
    add(b, 0, obs_ip(3, 4001), pub(6000), T0);
    assert_int_equal(find(b, T0, pub(6000)).confidence, KNIT_CONFIDENCE_HIGH);
    knit_observed_free(b);

    /* Two peers disagreeing: neither address reported by all. */
    b = book_new(NULL);
    add(b, 0, obs_ip(1, 4001), pub(6000), T0);
    add(b, 0, obs_ip(2, 4001), v4(192, 0, 2, 66, 6000), T0);
    assert_false(find(b, T0, pub(6000)).trusted);
    assert_false(find(b, T0, v4(192, 0, 2, 66, 6000)).trusted);
    knit_observed_free(b);

    /* One peer, but its two ports name two IPs for one socket: the
     * address is contradicted. On another socket it would not be. */
    b = book_new(NULL);
    add(b, 0, obs_ip(1, 4001), pub(6000), T0);
    add(b, 0, obs_ip(1, 4002), v4(192, 0, 2, 66, 6000), T0);
    assert_false(find(b, T0, pub(6000)).trusted);
    knit_observed_free(b);
    b = book_new(NULL);
    add(b, 0, obs_ip(1, 4001), pub(6000), T0);
    add(b, 1, obs_ip(1, 4002), v4(192, 0, 2, 66, 6000), T0);
    assert_true(find(b, T0, pub(6000)).trusted);
    assert_true(find(b, T0, v4(192, 0, 2, 66, 6000)).trusted);
    knit_observed_free(b);

    /* Different ports of one IP do not contradict (mapping's business). */
    b = book_new(NULL);
    add(b, 0, obs_ip(1, 4001), pub(6000), T0);
    add(b, 0, obs_ip(1, 4002), pub(6001), T0);
    assert_true(find(b, T0, pub(6000)).trusted);
    assert_true(find(b, T0, pub(6001)).trusted);
    knit_observed_free(b);

    /* A LAN peer sees our private address; it does not veto the public one
     * and each is trusted in its scope. */
    b = book_new(NULL);
    add(b, 0, v4(192, 168, 1, 10, 4001), *lan_local(), T0);
    add(b, 0, obs_ip(1, 4001), pub(6000), T0);
    assert_int_equal(find(b, T0, pub(6000)).confidence, KNIT_CONFIDENCE_LOW);
    assert_int_equal(find(b, T0, *lan_local()).confidence,
                     KNIT_CONFIDENCE_LOW);
    knit_observed_free(b);

    /* min_observers configurable: 1 makes one report high. */
    struct knit_observed_config cfg = {.min_observers = 1};
    b = book_new(&cfg);
    add(b, 0, obs_ip(1, 4001), pub(6000), T0);
    assert_int_equal(find(b, T0, pub(6000)).confidence, KNIT_CONFIDENCE_HIGH);
    knit_observed_free(b);
}

static void test_trust_ipv6_sources(void **state)
{
    (void)state;
    /* Three liars in one IPv6 /64 are one source. */
    struct knit_observed *b = book_new(NULL);
    for (uint8_t i = 1; i <= 5; i++) {
        struct knit_addr o;
        uint8_t ip[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1};
        ip[15] = i;
        knit_addr_set(&o, ip, 16, 4001);
        add(b, 0, o, v4(192, 0, 2, 66, 6666), T0);
    }
    for (uint8_t i = 1; i <= 3; i++)
        add(b, 0, obs_ip(i, 4001), pub(6000), T0);
    struct knit_observed_entry liar = find(b, T0, v4(192, 0, 2, 66, 6666));
    assert_int_equal(liar.observers, 1);
    assert_false(liar.trusted);
    assert_int_equal(find(b, T0, pub(6000)).confidence, KNIT_CONFIDENCE_HIGH);
    knit_observed_free(b);
}

/* ---- age, bounds, replacement -------------------------------------------- */

static void test_age_out(void **state)
{
    (void)state;
    struct knit_observed *b = book_new(NULL);
    for (uint8_t i = 1; i <= 3; i++)
        add(b, 0, obs_ip(i, 4001), pub(6000), T0);
    assert_int_equal(find(b, T0 + 30 * MIN, pub(6000)).confidence,
                     KNIT_CONFIDENCE_HIGH);
    assert_int_equal(count(b, T0 + 30 * MIN + 1), 0);
    assert_int_equal(mapping(b, 0, lan_local(), T0 + 31 * MIN).observers, 0);
    /* One refreshed report lives on; alone it is trusted low. */
    add(b, 0, obs_ip(1, 4001), pub(6000), T0 + 20 * MIN);
    struct knit_observed_entry e = find(b, T0 + 40 * MIN, pub(6000));
    assert_int_equal(e.observers, 1);
    assert_int_equal(e.confidence, KNIT_CONFIDENCE_LOW);
    knit_observed_free(b);

    struct knit_observed_config cfg = {.max_age = 10 * SEC};
    b = book_new(&cfg);
    add(b, 0, obs_ip(1, 4001), pub(6000), T0);
    assert_int_equal(count(b, T0 + 10 * SEC), 1);
    assert_int_equal(count(b, T0 + 11 * SEC), 0);
    knit_observed_free(b);
}

static void test_bounds_and_replacement(void **state)
{
    (void)state;
    struct knit_observed_config cfg = {.max_observations = 8};
    struct knit_observed *b = book_new(&cfg);
    /* 20 observers, each seeing another port: the 8 latest stay. */
    for (uint8_t i = 1; i <= 20; i++)
        add(b, 0, obs_ip(i, 4001), pub((uint16_t)(6000 + i)), T0 + i);
    assert_int_equal(count(b, T0 + 20), 8);
    for (uint8_t i = 13; i <= 20; i++)
        assert_int_equal(find(b, T0 + 20, pub((uint16_t)(6000 + i))).observers,
                         1);
    knit_observed_free(b);

    /* A newer report from one observer endpoint replaces its older one. */
    b = book_new(NULL);
    add(b, 0, obs_ip(1, 4001), pub(6000), T0);
    add(b, 0, obs_ip(1, 4001), pub(7000), T0 + 1);
    struct knit_observed_entry e[4];
    assert_int_equal(knit_observed_list(b, T0 + 1, e, 4), 1);
    struct knit_addr want = pub(7000);
    assert_true(knit_addr_equal(&e[0].addr, &want));
    knit_observed_free(b);

    /* One host with many ports cannot push the others out. */
    b = book_new(&cfg);
    for (uint8_t i = 1; i <= 4; i++)
        add(b, 0, obs_ip(i, 4001), pub(6000), T0);
    for (uint16_t port = 1; port <= 50; port++)
        add(b, 0, obs_ip(99, port), v4(192, 0, 2, 66, port), T0 + port);
    assert_int_equal(find(b, T0 + 60, pub(6000)).observers, 4);
    assert_int_equal(count(b, T0 + 60), 1 + KNIT_OBSERVED_MAX_PER_SOURCE);
    /* Its latest reports are the ones kept. */
    assert_int_equal(find(b, T0 + 60, v4(192, 0, 2, 66, 50)).observers, 1);
    knit_observed_free(b);
}

/* ---- mapping ------------------------------------------------------------- */

static void test_mapping_no_nat(void **state)
{
    (void)state;
    struct knit_addr local = pub(4001);
    struct knit_observed *b = book_new(NULL);
    add(b, 0, obs_ip(1, 4001), local, T0);
    expect_mapping(b, 0, &local, KNIT_MAPPING_ENDPOINT_INDEPENDENT,
                   KNIT_CONFIDENCE_LOW, false);
    add(b, 0, obs_ip(2, 4001), local, T0);
    expect_mapping(b, 0, &local, KNIT_MAPPING_ENDPOINT_INDEPENDENT,
                   KNIT_CONFIDENCE_HIGH, false);
    assert_int_equal(mapping(b, 0, &local, T0).observers, 2);
    /* Bound to 0.0.0.0:4001: the local port is what can be compared. */
    struct knit_addr any = v4(0, 0, 0, 0, 4001);
    expect_mapping(b, 0, &any, KNIT_MAPPING_ENDPOINT_INDEPENDENT,
                   KNIT_CONFIDENCE_HIGH, false);
    /* The same reports from behind a NAT (local 192.168.1.5): a NAT. */
    expect_mapping(b, 0, lan_local(), KNIT_MAPPING_ENDPOINT_INDEPENDENT,
                   KNIT_CONFIDENCE_HIGH, true);
    struct knit_addr any_other = v4(0, 0, 0, 0, 5000);
    expect_mapping(b, 0, &any_other, KNIT_MAPPING_ENDPOINT_INDEPENDENT,
                   KNIT_CONFIDENCE_HIGH, true);
    knit_observed_free(b);
}

static void test_mapping_endpoint_independent(void **state)
{
    (void)state;
    /* Two IPs, same mapping: high. */
    struct knit_observed *b = book_new(NULL);
    add(b, 0, obs_ip(1, 4001), pub(6000), T0);
    expect_mapping(b, 0, lan_local(), KNIT_MAPPING_UNKNOWN,
                   KNIT_CONFIDENCE_NONE, true);
    add(b, 0, obs_ip(2, 4001), pub(6000), T0);
    expect_mapping(b, 0, lan_local(), KNIT_MAPPING_ENDPOINT_INDEPENDENT,
                   KNIT_CONFIDENCE_HIGH, true);
    knit_observed_free(b);

    /* One public peer, main and alternate port agreeing: low. */
    b = book_new(NULL);
    add(b, 0, obs_ip(1, 4001), pub(6000), T0);
    add(b, 0, obs_ip(1, 4002), pub(6000), T0);
    expect_mapping(b, 0, lan_local(), KNIT_MAPPING_ENDPOINT_INDEPENDENT,
                   KNIT_CONFIDENCE_LOW, true);
    assert_int_equal(mapping(b, 0, lan_local(), T0).observers, 1);
    assert_false(mapping(b, 0, lan_local(), T0).sequential);
    knit_observed_free(b);

    /* Reports on another socket say nothing about this one. */
    b = book_new(NULL);
    add(b, 1, obs_ip(1, 4001), pub(6000), T0);
    add(b, 1, obs_ip(2, 4001), pub(6000), T0);
    add(b, 0, obs_ip(1, 4001), pub(7000), T0);
    expect_mapping(b, 0, lan_local(), KNIT_MAPPING_UNKNOWN,
                   KNIT_CONFIDENCE_NONE, true);
    knit_observed_free(b);
}

static void test_mapping_dependent(void **state)
{
    (void)state;
    /* Same IP, two ports, two mappings: proof of port dependence. */
    struct knit_observed *b = book_new(NULL);
    add(b, 0, obs_ip(1, 4001), pub(6000), T0);
    add(b, 0, obs_ip(1, 4002), pub(6001), T0);
    expect_mapping(b, 0, lan_local(), KNIT_MAPPING_ADDRESS_PORT_DEPENDENT,
                   KNIT_CONFIDENCE_HIGH, true);
    knit_observed_free(b);

    /* Each IP maps its two ports alike, IPs differ: address-dependent. */
    b = book_new(NULL);
    add(b, 0, obs_ip(1, 4001), pub(6000), T0);
    add(b, 0, obs_ip(1, 4002), pub(6000), T0);
    add(b, 0, obs_ip(2, 4001), pub(6100), T0);
    add(b, 0, obs_ip(2, 4002), pub(6100), T0);
    expect_mapping(b, 0, lan_local(), KNIT_MAPPING_ADDRESS_DEPENDENT,
                   KNIT_CONFIDENCE_HIGH, true);
    /* Only one of them tested both ports: still address-dependent. */
    knit_observed_free(b);
    b = book_new(NULL);
    add(b, 0, obs_ip(1, 4001), pub(6000), T0);
    add(b, 0, obs_ip(1, 4002), pub(6000), T0);
    add(b, 0, obs_ip(2, 4001), pub(6100), T0);
    expect_mapping(b, 0, lan_local(), KNIT_MAPPING_ADDRESS_DEPENDENT,
                   KNIT_CONFIDENCE_HIGH, true);
    knit_observed_free(b);

    /* IPs differ and no port was tested: endpoint-dependent, low. */
    b = book_new(NULL);
    add(b, 0, obs_ip(1, 4001), pub(6000), T0);
    add(b, 0, obs_ip(2, 4001), pub(6100), T0);
    expect_mapping(b, 0, lan_local(), KNIT_MAPPING_ADDRESS_PORT_DEPENDENT,
                   KNIT_CONFIDENCE_LOW, true);
    knit_observed_free(b);
}

static void test_mapping_liars_and_scope(void **state)
{
    (void)state;
    /* Five IPs agree, one differs: endpoint-independent, high. */
    struct knit_observed *b = book_new(NULL);
    for (uint8_t i = 1; i <= 5; i++)
        add(b, 0, obs_ip(i, 4001), pub(6000), T0);
    add(b, 0, obs_ip(9, 4001), pub(9999), T0);
    expect_mapping(b, 0, lan_local(), KNIT_MAPPING_ENDPOINT_INDEPENDENT,
                   KNIT_CONFIDENCE_HIGH, true);
    /* A liar claiming port dependence on two of its ports is outvoted. */
    add(b, 0, obs_ip(10, 4001), pub(7000), T0);
    add(b, 0, obs_ip(10, 4002), pub(7001), T0);
    expect_mapping(b, 0, lan_local(), KNIT_MAPPING_ENDPOINT_INDEPENDENT,
                   KNIT_CONFIDENCE_HIGH, true);
    assert_int_equal(mapping(b, 0, lan_local(), T0).observers, 7);
    knit_observed_free(b);

    /* Two agree, one differs: endpoint-independent, but only low. */
    b = book_new(NULL);
    add(b, 0, obs_ip(1, 4001), pub(6000), T0);
    add(b, 0, obs_ip(2, 4001), pub(6000), T0);
    add(b, 0, obs_ip(3, 4001), pub(6500), T0);
    expect_mapping(b, 0, lan_local(), KNIT_MAPPING_ENDPOINT_INDEPENDENT,
                   KNIT_CONFIDENCE_LOW, true);
    knit_observed_free(b);

    /* A LAN peer sees us untranslated; with global observers around it is
     * left out, so it does not make the mapping look address-dependent. */
    b = book_new(NULL);
    add(b, 0, v4(192, 168, 1, 10, 4001), *lan_local(), T0);
    add(b, 0, obs_ip(1, 4001), pub(6000), T0);
    add(b, 0, obs_ip(2, 4001), pub(6000), T0);
    struct knit_mapping_verdict v = mapping(b, 0, lan_local(), T0);
    assert_int_equal(v.mapping, KNIT_MAPPING_ENDPOINT_INDEPENDENT);
    assert_int_equal(v.confidence, KNIT_CONFIDENCE_HIGH);
    assert_true(v.nat);
    assert_int_equal(v.observers, 2);
    knit_observed_free(b);

    /* LAN peers only: they are all there is. */
    b = book_new(NULL);
    add(b, 0, v4(192, 168, 1, 10, 4001), *lan_local(), T0);
    expect_mapping(b, 0, lan_local(), KNIT_MAPPING_ENDPOINT_INDEPENDENT,
                   KNIT_CONFIDENCE_LOW, false);
    knit_observed_free(b);
}

static void test_mapping_sequential(void **state)
{
    (void)state;
    /* New destinations over time get ports 6000, 6001, 6003, 6004. */
    static const uint16_t seq[] = {6000, 6001, 6003, 6004};
    struct knit_observed *b = book_new(NULL);
    /* Added out of order: the times, not the calls, give the order. */
    for (int i = 3; i >= 0; i--)
        add(b, 0, obs_ip((uint8_t)(i + 1), 4001), pub(seq[i]),
            T0 + (uint64_t)i * SEC);
    struct knit_mapping_verdict v = mapping(b, 0, lan_local(), T0 + 5 * SEC);
    assert_true(v.sequential);
    assert_int_equal(v.mapping, KNIT_MAPPING_ADDRESS_PORT_DEPENDENT);
    /* A fifth far away breaks the pattern. */
    add(b, 0, obs_ip(5, 4001), pub(31000), T0 + 5 * SEC);
    assert_false(mapping(b, 0, lan_local(), T0 + 5 * SEC).sequential);
    knit_observed_free(b);

    /* Random ports are not sequential, nor are descending ones. */
    static const uint16_t rnd[] = {6000, 41000, 12000};
    static const uint16_t down[] = {6003, 6002, 6001};
    for (int k = 0; k < 2; k++) {
        b = book_new(NULL);
        for (int i = 0; i < 3; i++)
            add(b, 0, obs_ip((uint8_t)(i + 1), 4001),
                pub(k ? down[i] : rnd[i]), T0 + (uint64_t)i * SEC);
        assert_false(mapping(b, 0, lan_local(), T0 + 5 * SEC).sequential);
        knit_observed_free(b);
    }

    /* Main and alternate port reported in one go, ports one apart: the
     * equal times are taken in port order. */
    b = book_new(NULL);
    add(b, 0, obs_ip(1, 4002), pub(6001), T0);
    add(b, 0, obs_ip(1, 4001), pub(6000), T0);
    v = mapping(b, 0, lan_local(), T0);
    assert_true(v.sequential);
    assert_int_equal(v.mapping, KNIT_MAPPING_ADDRESS_PORT_DEPENDENT);
    assert_int_equal(v.confidence, KNIT_CONFIDENCE_HIGH);
    /* One report alone is no sequence. */
    knit_observed_free(b);
    b = book_new(NULL);
    add(b, 0, obs_ip(1, 4001), pub(6000), T0);
    assert_false(mapping(b, 0, lan_local(), T0).sequential);
    knit_observed_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arguments),
        cmocka_unit_test(test_trust_large_network),
        cmocka_unit_test(test_trust_small_network),
        cmocka_unit_test(test_trust_ipv6_sources),
        cmocka_unit_test(test_age_out),
        cmocka_unit_test(test_bounds_and_replacement),
        cmocka_unit_test(test_mapping_no_nat),
        cmocka_unit_test(test_mapping_endpoint_independent),
        cmocka_unit_test(test_mapping_dependent),
        cmocka_unit_test(test_mapping_liars_and_scope),
        cmocka_unit_test(test_mapping_sequential),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
