/* The reservation keeper (relay/client.h): the two lowest-RTT candidates
 * chosen, refresh at 3/4 of the TTL, a lost relay replaced, backoff after a
 * refusal (doubling, capped, kept across a forget), the request timeout,
 * expiry, the candidate table when full, the deadline, the relay addresses
 * kept and the circuit address built from them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "relay/client.h"
#include "transport/error.h"

#define S UINT64_C(1000000)
#define MS UINT64_C(1000)
#define T0 (1000 * S)

static struct knit_peer_id peer(uint8_t n)
{
    struct knit_peer_id id;
    for (size_t k = 0; k < sizeof id.pubkey; k++)
        id.pubkey[k] = (uint8_t)(n * 13 + k);
    return id;
}

static struct knit_relay_client *make(const struct knit_relay_client_config
                                          *cfg)
{
    struct knit_relay_client *c = NULL;
    assert_int_equal(knit_relay_client_new(&c, cfg), 0);
    assert_non_null(c);
    return c;
}

static void add(struct knit_relay_client *c, uint8_t p, uint64_t rtt,
                uint64_t now)
{
    struct knit_peer_id id = peer(p);
    knit_relay_client_candidate(c, &id, rtt, now);
}

/* The next request is to relay p (0: none). */
static void expect_next(struct knit_relay_client *c, uint64_t now, uint8_t p)
{
    struct knit_peer_id got;
    bool any = knit_relay_client_next(c, now, &got);
    if (p == 0) {
        assert_false(any);
        return;
    }
    assert_true(any);
    struct knit_peer_id want = peer(p);
    assert_true(knit_peer_id_equal(&got, &want));
}

static void reserved(struct knit_relay_client *c, uint8_t p,
                     uint64_t expires_at, uint64_t now)
{
    struct knit_peer_id id = peer(p);
    knit_relay_client_reserved(c, &id, expires_at, NULL, 0, now);
}

static void refused(struct knit_relay_client *c, uint8_t p, uint16_t status,
                    uint64_t now)
{
    struct knit_peer_id id = peer(p);
    knit_relay_client_refused(c, &id, status, now);
}

static void forget(struct knit_relay_client *c, uint8_t p, uint64_t now)
{
    struct knit_peer_id id = peer(p);
    knit_relay_client_forget(c, &id, now);
}

/* The active relays, best first, are exactly want[0..n). */
static void expect_active(const struct knit_relay_client *c,
                          const uint8_t *want, size_t n)
{
    struct knit_peer_id got[8];
    assert_int_equal(knit_relay_client_active(c, got, 8), n);
    for (size_t i = 0; i < n; i++) {
        struct knit_peer_id w = peer(want[i]);
        assert_true(knit_peer_id_equal(&got[i], &w));
        assert_true(knit_relay_client_is_relay(c, &w));
    }
}

static void test_config(void **state)
{
    (void)state;
    struct knit_relay_client_config d;
    knit_relay_client_config_default(&d);
    assert_int_equal(d.want, 2);
    assert_int_equal(d.max_candidates, 32);
    assert_true(d.retry_us == 60 * S);
    assert_true(d.retry_max_us == 1800 * S);
    assert_true(d.request_timeout_us == 20 * S);

    struct knit_relay_client *c = (void *)1;
    assert_int_equal(knit_relay_client_new(NULL, &d), KNIT_E_INVAL);
    struct knit_relay_client_config bad = d;
    bad.retry_max_us = d.retry_us - 1;
    assert_int_equal(knit_relay_client_new(&c, &bad), KNIT_E_INVAL);
    assert_null(c);
    bad = d;
    bad.max_candidates = KNIT_RELAY_CLIENT_MAX_CANDIDATES + 1;
    assert_int_equal(knit_relay_client_new(&c, &bad), KNIT_E_INVAL);
    /* NULL and all-zero both mean the defaults: two at a time. */
    struct knit_relay_client_config zero = {0};
    const struct knit_relay_client_config *cfgs[] = { NULL, &zero };
    for (size_t i = 0; i < 2; i++) {
        c = make(cfgs[i]);
        for (uint8_t p = 1; p <= 3; p++)
            add(c, p, p * MS, T0);
        expect_next(c, T0, 1);
        expect_next(c, T0, 2);
        expect_next(c, T0, 0);
        knit_relay_client_free(c);
    }
    knit_relay_client_free(NULL);
}

static void test_picks_two_lowest_rtt(void **state)
{
    (void)state;
    struct knit_relay_client *c = make(NULL);
    assert_true(knit_relay_client_deadline(c) == KNIT_NO_DEADLINE);
    expect_next(c, T0, 0);
    add(c, 1, 50 * MS, T0);
    add(c, 2, 0, T0);          /* unknown: last */
    add(c, 3, 10 * MS, T0);
    add(c, 4, 30 * MS, T0);
    /* Short of reservations with a candidate free: due now. */
    assert_true(knit_relay_client_deadline(c) <= T0);
    expect_next(c, T0, 3);
    expect_next(c, T0, 4);
    expect_next(c, T0, 0);     /* two asked: enough */
    assert_true(knit_relay_client_deadline(c) == T0 + 20 * S);
    expect_active(c, NULL, 0);

    reserved(c, 4, T0 + S + 3600 * S, T0 + S);
    reserved(c, 3, T0 + 2 * S + 3600 * S, T0 + 2 * S);
    uint8_t both[] = { 3, 4 };
    expect_active(c, both, 2);
    expect_next(c, T0 + 2 * S, 0);
    /* A later RTT changes the order; an unknown one does not erase it. */
    add(c, 3, 40 * MS, T0 + 3 * S);
    add(c, 4, 0, T0 + 3 * S);
    uint8_t swapped[] = { 4, 3 };
    expect_active(c, swapped, 2);
    struct knit_peer_id only[1];
    assert_int_equal(knit_relay_client_active(c, only, 1), 1);
    struct knit_peer_id four = peer(4), one = peer(1);
    assert_true(knit_peer_id_equal(&only[0], &four));
    assert_false(knit_relay_client_is_relay(c, &one));
    knit_relay_client_free(c);
}

static void test_refresh_at_three_quarters(void **state)
{
    (void)state;
    struct knit_relay_client *c = make(NULL);
    add(c, 1, 10 * MS, T0);
    add(c, 2, 20 * MS, T0);
    expect_next(c, T0, 1);
    expect_next(c, T0, 2);
    reserved(c, 1, T0 + 3600 * S, T0);
    reserved(c, 2, T0 + 400 * S + 3600 * S, T0 + 400 * S);
    /* 3/4 of 3600 s is 2700 s. */
    assert_true(knit_relay_client_deadline(c) == T0 + 2700 * S);
    expect_next(c, T0 + 2700 * S - 1, 0);
    expect_next(c, T0 + 2700 * S, 1);
    expect_next(c, T0 + 2700 * S, 0);
    /* Still held while the refresh is out; the other's refresh is next. */
    uint8_t both[] = { 1, 2 };
    expect_active(c, both, 2);
    assert_true(knit_relay_client_deadline(c) == T0 + 2720 * S);
    reserved(c, 1, T0 + 2701 * S + 3600 * S, T0 + 2701 * S);
    assert_true(knit_relay_client_deadline(c) == T0 + 3100 * S);
    expect_next(c, T0 + 3100 * S, 2);
    reserved(c, 2, T0 + 3100 * S + 1000 * S, T0 + 3100 * S);
    assert_true(knit_relay_client_deadline(c) == T0 + 3850 * S);
    expect_active(c, both, 2);
    knit_relay_client_free(c);
}

static void test_replaces_lost_relay(void **state)
{
    (void)state;
    struct knit_relay_client *c = make(NULL);
    add(c, 1, 10 * MS, T0);
    add(c, 2, 20 * MS, T0);
    add(c, 3, 30 * MS, T0);
    expect_next(c, T0, 1);
    expect_next(c, T0, 2);
    reserved(c, 1, T0 + 3600 * S, T0);
    reserved(c, 2, T0 + 3600 * S, T0);
    forget(c, 1, T0 + 10 * S);
    uint8_t left[] = { 2 };
    expect_active(c, left, 1);
    expect_next(c, T0 + 10 * S, 3);
    /* A forgotten relay is no candidate until it comes back. */
    reserved(c, 1, T0 + 3600 * S, T0 + 11 * S);
    expect_active(c, left, 1);
    reserved(c, 3, T0 + 3600 * S, T0 + 11 * S);
    forget(c, 2, T0 + 12 * S);
    expect_next(c, T0 + 12 * S, 0);    /* nobody else to ask */
    add(c, 1, 10 * MS, T0 + 13 * S);
    expect_next(c, T0 + 13 * S, 1);
    forget(c, 9, T0);                   /* unknown: nothing */

    /* A reservation that lapses unrefreshed is lost too (the refresh went
     * out and the relay said nothing until after the expiry). */
    reserved(c, 1, T0 + 30 * S, T0 + 14 * S);
    uint8_t two[] = { 1, 3 };
    expect_active(c, two, 2);
    expect_next(c, T0 + 26 * S, 1);     /* refresh at 14 + 12 s */
    assert_true(knit_relay_client_deadline(c) == T0 + 30 * S);
    expect_next(c, T0 + 30 * S, 0);
    uint8_t three[] = { 3 };
    expect_active(c, three, 1);
    knit_relay_client_free(c);
}

static void test_backoff(void **state)
{
    (void)state;
    struct knit_relay_client_config cfg = { .want = 1 };
    struct knit_relay_client *c = make(&cfg);
    add(c, 1, 10 * MS, T0);
    add(c, 2, 0, T0);
    expect_next(c, T0, 1);
    refused(c, 1, KNIT_RELAY_RESERVATION_REFUSED, T0);
    expect_next(c, T0, 2);
    refused(c, 2, KNIT_RELAY_RESOURCE_LIMIT_EXCEEDED, T0);
    expect_next(c, T0, 0);
    assert_true(knit_relay_client_deadline(c) == T0 + 60 * S);

    /* Relay 1 fails over and over: 60 s doubling to 30 min. */
    static const uint64_t waits[] = { 60, 120, 240, 480, 960, 1800, 1800 };
    uint64_t now = T0;
    for (size_t i = 0; i < sizeof waits / sizeof waits[0]; i++) {
        if (i > 0)
            refused(c, 1, KNIT_RELAY_RESERVATION_REFUSED, now);
        forget(c, 2, now);   /* keep 2 out of the way */
        expect_next(c, now + waits[i] * S - 1, 0);
        now += waits[i] * S;
        expect_next(c, now, 1);
    }
    /* Success clears the backoff: a refused refresh waits 60 s again. */
    reserved(c, 1, now + 3600 * S, now);
    refused(c, 1, KNIT_RELAY_RESERVATION_REFUSED, now + S);
    expect_active(c, NULL, 0);
    expect_next(c, now + 61 * S - 1, 0);
    expect_next(c, now + 61 * S, 1);

    /* PERMISSION_DENIED: the longest wait at once. */
    refused(c, 1, KNIT_RELAY_PERMISSION_DENIED, now + 61 * S);
    expect_next(c, now + 61 * S + 1800 * S - 1, 0);
    expect_next(c, now + 61 * S + 1800 * S, 1);
    knit_relay_client_free(c);
}

static void test_backoff_survives_forget(void **state)
{
    (void)state;
    struct knit_relay_client_config cfg = { .want = 1 };
    struct knit_relay_client *c = make(&cfg);
    add(c, 1, 10 * MS, T0);
    expect_next(c, T0, 1);
    refused(c, 1, KNIT_RELAY_RESERVATION_REFUSED, T0);
    forget(c, 1, T0 + S);
    add(c, 1, 10 * MS, T0 + 2 * S);
    expect_next(c, T0 + 2 * S, 0);
    expect_next(c, T0 + 60 * S, 1);
    /* A refusal for a relay we do not know, or no longer follow: nothing. */
    refused(c, 7, KNIT_RELAY_RESERVATION_REFUSED, T0);
    forget(c, 1, T0 + 61 * S);          /* no backoff running: dropped */
    refused(c, 1, KNIT_RELAY_RESERVATION_REFUSED, T0 + 61 * S);
    add(c, 1, 10 * MS, T0 + 62 * S);
    expect_next(c, T0 + 62 * S, 1);
    knit_relay_client_free(c);
}

static void test_pending_timeout(void **state)
{
    (void)state;
    struct knit_relay_client_config cfg = { .want = 1 };
    struct knit_relay_client *c = make(&cfg);
    add(c, 1, 10 * MS, T0);
    add(c, 2, 20 * MS, T0);
    expect_next(c, T0, 1);
    assert_true(knit_relay_client_deadline(c) == T0 + 20 * S);
    expect_next(c, T0 + 20 * S - 1, 0);
    /* Unanswered: failed and backed off, the next one asked. */
    expect_next(c, T0 + 20 * S, 2);
    expect_next(c, T0 + 40 * S, 0);   /* 2 timed out too; 1 still waits */
    assert_true(knit_relay_client_deadline(c) == T0 + 80 * S);
    expect_next(c, T0 + 80 * S, 1);
    /* A late answer after the timeout still counts. */
    reserved(c, 2, T0 + 3600 * S, T0 + 81 * S);
    uint8_t two[] = { 2 };
    expect_active(c, two, 1);
    /* An answer that is already expired is a failure. */
    reserved(c, 1, T0 + 81 * S, T0 + 81 * S);
    expect_active(c, two, 1);
    knit_relay_client_free(c);
}

static void test_candidate_table_full(void **state)
{
    (void)state;
    struct knit_relay_client_config cfg = { .want = 1, .max_candidates = 3 };
    struct knit_relay_client *c = make(&cfg);
    add(c, 1, 10 * MS, T0);
    add(c, 2, 20 * MS, T0);
    add(c, 3, 30 * MS, T0);
    expect_next(c, T0, 1);   /* pending: never evicted */
    add(c, 4, 40 * MS, T0);  /* worse than every idle one: not kept */
    add(c, 5, 0, T0);        /* unknown RTT: not kept either */
    add(c, 6, 5 * MS, T0);   /* better: replaces 3, the worst idle */
    refused(c, 1, KNIT_RELAY_RESERVATION_REFUSED, T0);
    expect_next(c, T0, 6);
    refused(c, 6, KNIT_RELAY_RESERVATION_REFUSED, T0);
    expect_next(c, T0, 2);
    refused(c, 2, KNIT_RELAY_RESERVATION_REFUSED, T0);
    expect_next(c, T0, 0);   /* 3, 4 and 5 were not kept */

    /* A forgotten entry (kept for its backoff) gives way to anyone. */
    forget(c, 2, T0);
    add(c, 7, 0, T0);
    expect_next(c, T0, 7);
    knit_relay_client_free(c);
}

/* The table grows as relays turn up, up to max_candidates. */
static void test_candidate_table_grows(void **state)
{
    (void)state;
    struct knit_relay_client_config cfg = { .want = 40,
                                            .max_candidates = 37 };
    struct knit_relay_client *c = make(&cfg);
    for (uint8_t p = 1; p <= 37; p++)
        add(c, p, (uint64_t)(100 - p) * MS, T0);   /* 37 is the best */
    add(c, 38, 200 * MS, T0);                      /* full: not kept */
    for (uint8_t p = 37; p >= 1; p--)
        expect_next(c, T0, p);
    expect_next(c, T0, 0);
    for (uint8_t p = 1; p <= 37; p++)
        reserved(c, p, T0 + 3600 * S, T0);
    struct knit_peer_id got[40];
    assert_int_equal(knit_relay_client_active(c, got, 40), 37);
    struct knit_peer_id best = peer(37), worst = peer(1);
    assert_true(knit_peer_id_equal(&got[0], &best));
    assert_true(knit_peer_id_equal(&got[36], &worst));
    knit_relay_client_free(c);
}

static void test_addresses(void **state)
{
    (void)state;
    struct knit_relay_client *c = make(NULL);
    add(c, 1, 10 * MS, T0);
    expect_next(c, T0, 1);
    struct knit_peer_id relay = peer(1), other = peer(2);
    struct knit_addr a4, a6;
    uint8_t ip4[4] = { 203, 0, 113, 5 };
    uint8_t ip6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
    assert_int_equal(knit_addr_set(&a4, ip4, 4, 4001), 0);
    assert_int_equal(knit_addr_set(&a6, ip6, 16, 4002), 0);
    struct knit_multiaddr ma[KNIT_RELAY_MAX_ADDRS + 3];
    assert_int_equal(knit_multiaddr_from_socket(&ma[0], &a4, NULL), 0);
    assert_int_equal(knit_multiaddr_from_socket(&ma[1], &a6, &relay), 0);
    assert_int_equal(knit_multiaddr_from_socket(&ma[2], &a4, &other), 0);
    ma[3] = ma[1];                                   /* a circuit */
    ma[3].c[ma[3].count++].protocol = KNIT_MA_P2P_CIRCUIT;
    for (size_t i = 4; i < KNIT_RELAY_MAX_ADDRS + 3; i++)
        ma[i] = ma[0];
    knit_relay_client_reserved(c, &relay, T0 + 3600 * S, ma,
                               KNIT_RELAY_MAX_ADDRS + 3, T0);
    struct knit_addr got[KNIT_RELAY_MAX_ADDRS + 1];
    assert_int_equal(knit_relay_client_addrs(c, &relay, got,
                                             KNIT_RELAY_MAX_ADDRS + 1),
                     KNIT_RELAY_MAX_ADDRS);
    assert_true(knit_addr_equal(&got[0], &a4));
    assert_true(knit_addr_equal(&got[1], &a6));
    assert_true(knit_addr_equal(&got[2], &a4));      /* ma[4] */
    assert_int_equal(knit_relay_client_addrs(c, &relay, got, 1), 1);
    assert_int_equal(knit_relay_client_addrs(c, &other, got, 4), 0);

    /* The circuit address built from one of them. */
    struct knit_multiaddr circ, back;
    assert_int_equal(knit_relay_circuit_addr(&circ, &a6, &relay, &other), 0);
    assert_true(knit_multiaddr_is_circuit(&circ));
    struct knit_peer_id r, t;
    assert_int_equal(knit_multiaddr_relay(&circ, &r), 0);
    assert_int_equal(knit_multiaddr_peer(&circ, &t), 0);
    assert_true(knit_peer_id_equal(&r, &relay));
    assert_true(knit_peer_id_equal(&t, &other));
    uint8_t bin[KNIT_MA_BINARY_MAX];
    size_t len;
    assert_int_equal(knit_multiaddr_encode(&circ, bin, sizeof bin, &len), 0);
    assert_int_equal(knit_multiaddr_decode(&back, bin, len), 0);
    assert_true(knit_multiaddr_equal(&circ, &back));
    char text[KNIT_MA_TEXT_MAX];
    assert_int_equal(knit_multiaddr_format(&circ, text, sizeof text), 0);
    assert_true(strncmp(text, "/ip6/2001:db8::1/udp/4002/p2p/12D3KooW", 38) ==
                0);
    assert_non_null(strstr(text, "/p2p-circuit/p2p/12D3KooW"));
    struct knit_addr unset = {0};
    assert_true(knit_relay_circuit_addr(&circ, &unset, &relay, &other) < 0);
    assert_int_equal(knit_relay_circuit_addr(NULL, &a6, &relay, &other),
                     KNIT_E_INVAL);

    /* Addresses go with the reservation. */
    forget(c, 1, T0 + S);
    assert_int_equal(knit_relay_client_addrs(c, &relay, got, 4), 0);
    knit_relay_client_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_picks_two_lowest_rtt),
        cmocka_unit_test(test_refresh_at_three_quarters),
        cmocka_unit_test(test_replaces_lost_relay),
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_backoff_survives_forget),
        cmocka_unit_test(test_pending_timeout),
        cmocka_unit_test(test_candidate_table_full),
        cmocka_unit_test(test_candidate_table_grows),
        cmocka_unit_test(test_addresses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
