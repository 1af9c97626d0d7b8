/* The hop service's bookkeeping (relay/hop.h): reservations (new, refresh,
 * table and per-IP caps, expiry, the allow-list class), circuits (every
 * refusal, per-peer, per-IP and total caps, limits of mixed classes, byte
 * accounting, duration ends through the deadline and expire), stats and the
 * reservation list. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "relay/hop.h"
#include "transport/error.h"

#define S UINT64_C(1000000)
#define T0 (1000 * S)

static struct knit_peer_id peer(uint8_t n)
{
    struct knit_peer_id id;
    for (size_t k = 0; k < sizeof id.pubkey; k++)
        id.pubkey[k] = (uint8_t)(n * 13 + k);
    return id;
}

static struct knit_addr ip4(uint8_t n, uint16_t port)
{
    uint8_t ip[4] = { 198, 51, 100, n };
    struct knit_addr a;
    assert_int_equal(knit_addr_set(&a, ip, 4, port), 0);
    return a;
}

/* 2001:db8:0:<net>::<host> */
static struct knit_addr ip6(uint8_t net, uint8_t host)
{
    uint8_t ip[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, net };
    ip[15] = host;
    struct knit_addr a;
    assert_int_equal(knit_addr_set(&a, ip, 16, 4001), 0);
    return a;
}

static struct knit_relay_hop *make(const struct knit_relay_config *cfg)
{
    struct knit_relay_hop *hop = NULL;
    assert_int_equal(knit_relay_hop_new(&hop, cfg), 0);
    assert_non_null(hop);
    return hop;
}

static uint16_t reserve(struct knit_relay_hop *hop, uint8_t p,
                        struct knit_addr from, uint64_t now)
{
    struct knit_peer_id id = peer(p);
    uint64_t expires = 0;
    struct knit_relay_limit limit;
    return knit_relay_hop_reserve(hop, &id, &from, now, &expires, &limit);
}

static uint16_t open_c(struct knit_relay_hop *hop, uint8_t src,
                       struct knit_addr from, uint8_t dst, uint64_t now,
                       uint32_t *circuit)
{
    struct knit_peer_id a = peer(src), b = peer(dst);
    struct knit_relay_limit limit;
    uint32_t scratch;
    return knit_relay_hop_open(hop, &a, &from, &b, now,
                               circuit ? circuit : &scratch, &limit);
}

static struct knit_relay_hop_stats stats(const struct knit_relay_hop *hop)
{
    struct knit_relay_hop_stats st;
    knit_relay_hop_get_stats(hop, &st);
    return st;
}

/* ---- configuration ------------------------------------------------------ */

static void test_defaults_and_config(void **state)
{
    (void)state;
    struct knit_relay_config c;
    knit_relay_config_default(&c);
    assert_int_equal(c.max_reservations, 256);
    assert_int_equal(c.max_circuits, 512);
    assert_int_equal(c.reservations_per_ip, 8);
    assert_int_equal(c.circuits_per_ip, 32);
    assert_int_equal(c.anyone.reservation_ttl_s, 3600);
    assert_int_equal(c.anyone.circuits_per_peer, 16);
    assert_true(c.anyone.circuit_bytes == UINT64_C(1) << 30);
    assert_int_equal(c.anyone.circuit_seconds, 7200);
    assert_int_equal(c.allowed.circuits_per_peer, 64);
    assert_true(c.allowed.circuit_bytes == 0);
    assert_int_equal(c.allowed.circuit_seconds, 0);
    assert_null(c.allow);

    struct knit_relay_hop *hop = (void *)1;
    assert_int_equal(knit_relay_hop_new(&hop, NULL), KNIT_E_INVAL);
    assert_null(hop);
    assert_int_equal(knit_relay_hop_new(NULL, &c), KNIT_E_INVAL);
    struct knit_relay_config bad = c;
    bad.max_reservations = 0;
    assert_int_equal(knit_relay_hop_new(&hop, &bad), KNIT_E_INVAL);
    bad = c;
    bad.max_circuits = KNIT_RELAY_HOP_MAX_TABLE + 1;
    assert_int_equal(knit_relay_hop_new(&hop, &bad), KNIT_E_INVAL);
    bad = c;
    bad.allow_count = 1;
    assert_int_equal(knit_relay_hop_new(&hop, &bad), KNIT_E_INVAL);
    knit_relay_hop_free(NULL);
}

/* ---- reservations ------------------------------------------------------- */

static void test_reserve_and_refresh(void **state)
{
    (void)state;
    struct knit_relay_config c;
    knit_relay_config_default(&c);
    c.max_reservations = 2;
    struct knit_relay_hop *hop = make(&c);
    struct knit_peer_id a = peer(1);
    struct knit_addr from = ip4(1, 4001);
    uint64_t expires = 0;
    struct knit_relay_limit limit = { 9, 9 };
    assert_int_equal(knit_relay_hop_reserve(hop, &a, &from, T0, &expires,
                                            &limit), KNIT_RELAY_OK);
    assert_true(expires == T0 + 3600 * S);
    assert_true(limit.bytes == UINT64_C(1) << 30);
    assert_int_equal(limit.seconds, 7200);
    assert_true(knit_relay_hop_reserved(hop, &a, T0));
    assert_true(knit_relay_hop_next_deadline(hop) == expires);

    /* A refresh restarts the TTL in the same slot. */
    assert_int_equal(knit_relay_hop_reserve(hop, &a, &from, T0 + 60 * S,
                                            &expires, &limit), KNIT_RELAY_OK);
    assert_true(expires == T0 + 3660 * S);
    assert_int_equal(stats(hop).reservations, 1);
    assert_int_equal(reserve(hop, 2, ip4(2, 1), T0), KNIT_RELAY_OK);
    assert_int_equal(stats(hop).reservations, 2);
    /* Full: a third peer is refused, the holders still refresh. */
    expires = 7;
    struct knit_peer_id third = peer(3);
    assert_int_equal(knit_relay_hop_reserve(hop, &third, &from, T0, &expires,
                                            &limit),
                     KNIT_RELAY_RESERVATION_REFUSED);
    assert_true(expires == 7);   /* untouched on refusal */
    assert_int_equal(reserve(hop, 1, ip4(1, 4001), T0 + 2 * S),
                     KNIT_RELAY_OK);
    assert_int_equal(reserve(hop, 2, ip4(2, 1), T0 + 2 * S), KNIT_RELAY_OK);
    assert_int_equal(stats(hop).refused, 1);

    /* Unreserved: the slot is free for the third. */
    knit_relay_hop_unreserve(hop, &a);
    knit_relay_hop_unreserve(hop, &a);   /* twice: harmless */
    assert_false(knit_relay_hop_reserved(hop, &a, T0 + 3 * S));
    assert_int_equal(reserve(hop, 3, ip4(3, 1), T0 + 3 * S), KNIT_RELAY_OK);
    knit_relay_hop_free(hop);
}

static void test_reservation_expiry(void **state)
{
    (void)state;
    struct knit_relay_config c;
    knit_relay_config_default(&c);
    c.max_reservations = 2;
    c.anyone.reservation_ttl_s = 10;
    struct knit_relay_hop *hop = make(&c);
    struct knit_peer_id a = peer(1);
    assert_int_equal(reserve(hop, 1, ip4(1, 1), T0), KNIT_RELAY_OK);
    assert_int_equal(reserve(hop, 2, ip4(2, 1), T0 + 5 * S), KNIT_RELAY_OK);
    assert_true(knit_relay_hop_next_deadline(hop) == T0 + 10 * S);
    assert_true(knit_relay_hop_reserved(hop, &a, T0 + 10 * S - 1));
    assert_false(knit_relay_hop_reserved(hop, &a, T0 + 10 * S));

    /* Expired but not yet dropped: a newcomer may take its slot, and a
     * circuit to it finds no reservation. */
    assert_int_equal(open_c(hop, 2, ip4(2, 1), 1, T0 + 10 * S, NULL),
                     KNIT_RELAY_NO_RESERVATION);
    assert_int_equal(reserve(hop, 3, ip4(3, 1), T0 + 10 * S), KNIT_RELAY_OK);
    assert_int_equal(stats(hop).reservations, 2);
    assert_false(knit_relay_hop_reserved(hop, &a, T0 + 10 * S));

    /* expire drops what is due, nothing else. */
    knit_relay_hop_expire(hop, T0 + 15 * S - 1, NULL, NULL);
    assert_int_equal(stats(hop).reservations, 2);
    knit_relay_hop_expire(hop, T0 + 15 * S, NULL, NULL);
    assert_int_equal(stats(hop).reservations, 1);
    assert_true(knit_relay_hop_next_deadline(hop) == T0 + 20 * S);
    knit_relay_hop_expire(hop, T0 + 20 * S, NULL, NULL);
    assert_int_equal(stats(hop).reservations, 0);
    assert_true(knit_relay_hop_next_deadline(hop) == KNIT_NO_DEADLINE);
    knit_relay_hop_free(hop);
}

static void test_reservations_per_ip(void **state)
{
    (void)state;
    struct knit_relay_config c;
    knit_relay_config_default(&c);
    c.reservations_per_ip = 2;
    struct knit_relay_hop *hop = make(&c);
    /* The port does not matter. */
    assert_int_equal(reserve(hop, 1, ip4(1, 1000), T0), KNIT_RELAY_OK);
    assert_int_equal(reserve(hop, 2, ip4(1, 2000), T0), KNIT_RELAY_OK);
    assert_int_equal(reserve(hop, 3, ip4(1, 3000), T0),
                     KNIT_RELAY_RESERVATION_REFUSED);
    assert_int_equal(reserve(hop, 3, ip4(2, 3000), T0), KNIT_RELAY_OK);
    /* A refresh is not counted against itself. */
    assert_int_equal(reserve(hop, 1, ip4(1, 1000), T0 + S), KNIT_RELAY_OK);
    /* Moving to another IP frees a place on the old one... */
    assert_int_equal(reserve(hop, 1, ip4(9, 1000), T0 + S), KNIT_RELAY_OK);
    assert_int_equal(reserve(hop, 4, ip4(1, 4000), T0 + S), KNIT_RELAY_OK);
    /* ...and a move onto a full IP is refused. */
    assert_int_equal(reserve(hop, 3, ip4(1, 3000), T0 + S),
                     KNIT_RELAY_RESERVATION_REFUSED);

    /* IPv6 counts by /64. */
    assert_int_equal(reserve(hop, 10, ip6(1, 1), T0), KNIT_RELAY_OK);
    assert_int_equal(reserve(hop, 11, ip6(1, 2), T0), KNIT_RELAY_OK);
    assert_int_equal(reserve(hop, 12, ip6(1, 3), T0),
                     KNIT_RELAY_RESERVATION_REFUSED);
    assert_int_equal(reserve(hop, 12, ip6(2, 3), T0), KNIT_RELAY_OK);
    assert_int_equal(stats(hop).refused, 3);
    knit_relay_hop_free(hop);
}

static void test_allow_list_class(void **state)
{
    (void)state;
    struct knit_peer_id allow[3] = { peer(30), peer(20), peer(10) };
    struct knit_relay_config c;
    knit_relay_config_default(&c);
    c.reservations_per_ip = 1;
    c.allowed.reservation_ttl_s = 7200;
    c.allow = allow;
    c.allow_count = 3;
    struct knit_relay_hop *hop = make(&c);
    memset(allow, 0, sizeof allow);   /* the hop keeps its own copy */
    struct knit_peer_id p10 = peer(10), p20 = peer(20), p30 = peer(30),
                        p1 = peer(1);
    assert_true(knit_relay_hop_is_allowed(hop, &p10));
    assert_true(knit_relay_hop_is_allowed(hop, &p20));
    assert_true(knit_relay_hop_is_allowed(hop, &p30));
    assert_false(knit_relay_hop_is_allowed(hop, &p1));

    struct knit_addr from = ip4(1, 1);
    uint64_t expires;
    struct knit_relay_limit limit;
    assert_int_equal(knit_relay_hop_reserve(hop, &p10, &from, T0, &expires,
                                            &limit), KNIT_RELAY_OK);
    assert_true(expires == T0 + 7200 * S);
    assert_true(limit.bytes == 0 && limit.seconds == 0);
    /* Allowed peers neither hit nor fill the per-IP cap. */
    assert_int_equal(reserve(hop, 20, ip4(1, 2), T0), KNIT_RELAY_OK);
    assert_int_equal(reserve(hop, 1, ip4(1, 3), T0), KNIT_RELAY_OK);
    assert_int_equal(reserve(hop, 2, ip4(1, 4), T0),
                     KNIT_RELAY_RESERVATION_REFUSED);
    assert_int_equal(reserve(hop, 30, ip4(1, 5), T0), KNIT_RELAY_OK);
    knit_relay_hop_free(hop);

    /* Allow-list only: anyone gets no reservation and opens no circuit. */
    struct knit_peer_id only[1] = { peer(10) };
    knit_relay_config_default(&c);
    c.anyone.reservation_ttl_s = 0;
    c.anyone.circuits_per_peer = 0;
    c.allow = only;
    c.allow_count = 1;
    hop = make(&c);
    assert_int_equal(reserve(hop, 1, ip4(1, 1), T0),
                     KNIT_RELAY_PERMISSION_DENIED);
    assert_int_equal(reserve(hop, 10, ip4(1, 1), T0), KNIT_RELAY_OK);
    assert_int_equal(open_c(hop, 1, ip4(2, 1), 10, T0, NULL),
                     KNIT_RELAY_PERMISSION_DENIED);
    assert_int_equal(stats(hop).refused, 2);
    knit_relay_hop_free(hop);
}

/* ---- circuits ----------------------------------------------------------- */

static void test_open_refusals(void **state)
{
    (void)state;
    struct knit_relay_config c;
    knit_relay_config_default(&c);
    c.anyone.reservation_ttl_s = 10;
    struct knit_relay_hop *hop = make(&c);
    assert_int_equal(open_c(hop, 1, ip4(1, 1), 2, T0, NULL),
                     KNIT_RELAY_NO_RESERVATION);
    assert_int_equal(reserve(hop, 2, ip4(2, 1), T0), KNIT_RELAY_OK);
    assert_int_equal(open_c(hop, 2, ip4(2, 1), 2, T0, NULL),
                     KNIT_RELAY_PERMISSION_DENIED);   /* to itself */

    struct knit_peer_id a = peer(1), b = peer(2);
    struct knit_addr from = ip4(1, 1);
    uint32_t id = 0;
    struct knit_relay_limit limit;
    assert_int_equal(knit_relay_hop_open(hop, &a, &from, &b, T0, &id, &limit),
                     KNIT_RELAY_OK);
    assert_true(id != 0);
    assert_true(limit.bytes == UINT64_C(1) << 30);
    assert_int_equal(limit.seconds, 7200);
    /* After the target's reservation lapses: no new circuit, but the open
     * one lives on. */
    assert_int_equal(open_c(hop, 1, ip4(1, 1), 2, T0 + 10 * S, NULL),
                     KNIT_RELAY_NO_RESERVATION);
    knit_relay_hop_expire(hop, T0 + 10 * S, NULL, NULL);
    assert_int_equal(stats(hop).circuits, 1);
    assert_true(knit_relay_hop_account(hop, id, 100));
    assert_int_equal(stats(hop).refused, 3);
    assert_int_equal(stats(hop).circuits_total, 1);
    knit_relay_hop_free(hop);
}

static void test_circuits_per_peer(void **state)
{
    (void)state;
    struct knit_relay_config c;
    knit_relay_config_default(&c);
    c.anyone.circuits_per_peer = 2;
    struct knit_relay_hop *hop = make(&c);
    for (uint8_t p = 10; p <= 13; p++)
        assert_int_equal(reserve(hop, p, ip4(p, 1), T0), KNIT_RELAY_OK);
    /* The target's count: two sources fill it. */
    uint32_t first = 0;
    assert_int_equal(open_c(hop, 1, ip4(1, 1), 10, T0, &first),
                     KNIT_RELAY_OK);
    assert_int_equal(open_c(hop, 2, ip4(2, 1), 10, T0, NULL), KNIT_RELAY_OK);
    assert_int_equal(open_c(hop, 3, ip4(3, 1), 10, T0, NULL),
                     KNIT_RELAY_RESOURCE_LIMIT_EXCEEDED);
    knit_relay_hop_close(hop, first);
    knit_relay_hop_close(hop, first);   /* twice: harmless */
    knit_relay_hop_close(hop, 0);
    assert_int_equal(open_c(hop, 3, ip4(3, 1), 10, T0, NULL), KNIT_RELAY_OK);

    /* The source's count: circuits to two targets fill it. */
    assert_int_equal(open_c(hop, 4, ip4(4, 1), 11, T0, NULL), KNIT_RELAY_OK);
    assert_int_equal(open_c(hop, 4, ip4(4, 1), 12, T0, NULL), KNIT_RELAY_OK);
    assert_int_equal(open_c(hop, 4, ip4(4, 1), 13, T0, NULL),
                     KNIT_RELAY_RESOURCE_LIMIT_EXCEEDED);
    /* A reserved peer dialling out counts its incoming circuits too. */
    assert_int_equal(open_c(hop, 10, ip4(10, 1), 13, T0, NULL),
                     KNIT_RELAY_RESOURCE_LIMIT_EXCEEDED);
    assert_int_equal(open_c(hop, 11, ip4(11, 1), 13, T0, NULL),
                     KNIT_RELAY_OK);
    assert_int_equal(stats(hop).circuits, 5);
    assert_int_equal(stats(hop).circuits_total, 6);
    assert_int_equal(stats(hop).refused, 3);
    knit_relay_hop_free(hop);
}

static void test_circuits_per_ip_and_total(void **state)
{
    (void)state;
    struct knit_relay_config c;
    knit_relay_config_default(&c);
    c.circuits_per_ip = 3;
    c.max_circuits = 5;
    struct knit_relay_hop *hop = make(&c);
    assert_int_equal(reserve(hop, 10, ip4(10, 1), T0), KNIT_RELAY_OK);
    assert_int_equal(reserve(hop, 11, ip4(11, 1), T0), KNIT_RELAY_OK);
    assert_int_equal(reserve(hop, 12, ip4(1, 9), T0), KNIT_RELAY_OK);
    /* Sources on one IP: 3, whatever the peer or port. */
    assert_int_equal(open_c(hop, 1, ip4(1, 1), 10, T0, NULL), KNIT_RELAY_OK);
    assert_int_equal(open_c(hop, 2, ip4(1, 2), 10, T0, NULL), KNIT_RELAY_OK);
    assert_int_equal(open_c(hop, 3, ip4(1, 3), 11, T0, NULL), KNIT_RELAY_OK);
    assert_int_equal(open_c(hop, 4, ip4(1, 4), 11, T0, NULL),
                     KNIT_RELAY_RESOURCE_LIMIT_EXCEEDED);
    /* The target's IP counts too: 12 sits on the full IP. */
    assert_int_equal(open_c(hop, 5, ip4(5, 1), 12, T0, NULL),
                     KNIT_RELAY_RESOURCE_LIMIT_EXCEEDED);
    /* Target 10's IP holds two: one more fits. */
    assert_int_equal(open_c(hop, 6, ip4(6, 1), 10, T0, NULL), KNIT_RELAY_OK);
    assert_int_equal(open_c(hop, 7, ip4(7, 1), 10, T0, NULL),
                     KNIT_RELAY_RESOURCE_LIMIT_EXCEEDED);
    /* Total: 5 circuits. */
    assert_int_equal(open_c(hop, 8, ip4(8, 1), 11, T0, NULL), KNIT_RELAY_OK);
    assert_int_equal(stats(hop).circuits, 5);
    assert_int_equal(open_c(hop, 9, ip4(9, 1), 11, T0, NULL),
                     KNIT_RELAY_RESOURCE_LIMIT_EXCEEDED);
    assert_int_equal(stats(hop).refused, 4);
    knit_relay_hop_free(hop);

    /* Both ends behind one IP count once. */
    knit_relay_config_default(&c);
    c.circuits_per_ip = 2;
    hop = make(&c);
    assert_int_equal(reserve(hop, 10, ip4(1, 1), T0), KNIT_RELAY_OK);
    assert_int_equal(open_c(hop, 1, ip4(1, 2), 10, T0, NULL), KNIT_RELAY_OK);
    assert_int_equal(open_c(hop, 2, ip4(1, 3), 10, T0, NULL), KNIT_RELAY_OK);
    assert_int_equal(open_c(hop, 3, ip4(1, 4), 10, T0, NULL),
                     KNIT_RELAY_RESOURCE_LIMIT_EXCEEDED);
    knit_relay_hop_free(hop);
}

static void test_circuit_limits_by_class(void **state)
{
    (void)state;
    struct knit_peer_id allow[2] = { peer(1), peer(10) };
    struct knit_relay_config c;
    knit_relay_config_default(&c);
    c.circuits_per_ip = 1;
    c.allow = allow;
    c.allow_count = 2;
    struct knit_relay_hop *hop = make(&c);
    assert_int_equal(reserve(hop, 10, ip4(1, 1), T0), KNIT_RELAY_OK);  /* ok */
    assert_int_equal(reserve(hop, 11, ip4(2, 1), T0), KNIT_RELAY_OK);  /* any */
    struct knit_peer_id a = peer(1), b = peer(2), t10 = peer(10),
                        t11 = peer(11);
    struct knit_addr from = ip4(1, 1);
    struct knit_relay_limit limit;
    uint32_t id;
    /* Both allowed: unlimited, and the per-IP cap does not apply. */
    for (int k = 0; k < 3; k++) {
        assert_int_equal(knit_relay_hop_open(hop, &a, &from, &t10, T0, &id,
                                             &limit), KNIT_RELAY_OK);
        assert_true(limit.bytes == 0 && limit.seconds == 0);
    }
    assert_true(knit_relay_hop_account(hop, id, SIZE_MAX / 2));
    /* One end anyone: anyone's limits, whichever end it is. */
    assert_int_equal(knit_relay_hop_open(hop, &a, &from, &t11, T0, &id,
                                         &limit), KNIT_RELAY_OK);
    assert_true(limit.bytes == UINT64_C(1) << 30 && limit.seconds == 7200);
    struct knit_addr other = ip4(3, 1);
    assert_int_equal(knit_relay_hop_open(hop, &b, &other, &t10, T0, &id,
                                         &limit), KNIT_RELAY_OK);
    assert_true(limit.bytes == UINT64_C(1) << 30 && limit.seconds == 7200);
    knit_relay_hop_free(hop);

    /* Field by field: the stricter of each, 0 being the loosest. */
    knit_relay_config_default(&c);
    c.anyone.circuit_bytes = 0;
    c.anyone.circuit_seconds = 600;
    c.allowed.circuit_bytes = 5000;
    c.allowed.circuit_seconds = 900;
    c.allow = allow;
    c.allow_count = 2;
    hop = make(&c);
    assert_int_equal(reserve(hop, 10, ip4(1, 1), T0), KNIT_RELAY_OK);
    struct knit_addr far = ip4(5, 5);
    assert_int_equal(knit_relay_hop_open(hop, &b, &far, &t10, T0, &id,
                                         &limit), KNIT_RELAY_OK);
    assert_true(limit.bytes == 5000 && limit.seconds == 600);
    knit_relay_hop_free(hop);
}

static void test_byte_accounting(void **state)
{
    (void)state;
    struct knit_relay_config c;
    knit_relay_config_default(&c);
    c.anyone.circuit_bytes = 1000;
    struct knit_relay_hop *hop = make(&c);
    assert_int_equal(reserve(hop, 10, ip4(10, 1), T0), KNIT_RELAY_OK);
    uint32_t id = 0, id2 = 0;
    assert_int_equal(open_c(hop, 1, ip4(1, 1), 10, T0, &id), KNIT_RELAY_OK);
    assert_int_equal(open_c(hop, 2, ip4(2, 1), 10, T0, &id2), KNIT_RELAY_OK);
    assert_true(id2 != id);
    assert_true(knit_relay_hop_account(hop, id, 600));
    assert_true(knit_relay_hop_account(hop, id, 0));
    assert_false(knit_relay_hop_account(hop, id, 401));   /* would pass */
    assert_true(knit_relay_hop_account(hop, id, 400));    /* exactly */
    assert_false(knit_relay_hop_account(hop, id, 1));
    assert_false(knit_relay_hop_account(hop, id2, SIZE_MAX));
    assert_true(knit_relay_hop_account(hop, id2, 1000));  /* its own count */
    assert_true(stats(hop).bytes_relayed == 2000);
    assert_false(knit_relay_hop_account(hop, 0, 1));
    assert_false(knit_relay_hop_account(hop, id + id2 + 100, 1));
    knit_relay_hop_close(hop, id);
    assert_false(knit_relay_hop_account(hop, id, 1));
    /* A new circuit in the freed slot has a new handle and a fresh count. */
    uint32_t id3 = 0;
    assert_int_equal(open_c(hop, 3, ip4(3, 1), 10, T0, &id3), KNIT_RELAY_OK);
    assert_true(id3 != id && id3 != id2 && id3 != 0);
    assert_true(knit_relay_hop_account(hop, id3, 1000));
    knit_relay_hop_free(hop);
}

static struct {
    struct knit_relay_hop *hop;
    uint32_t seen[8];
    size_t count;
    bool close;
} over;

static void on_over(void *ctx, uint32_t circuit)
{
    assert_ptr_equal(ctx, &over);
    assert_true(over.count < 8);
    over.seen[over.count++] = circuit;
    if (over.close)
        knit_relay_hop_close(over.hop, circuit);
}

static void test_circuit_duration(void **state)
{
    (void)state;
    struct knit_relay_config c;
    knit_relay_config_default(&c);
    c.anyone.reservation_ttl_s = 100000;
    c.anyone.circuit_seconds = 60;
    struct knit_relay_hop *hop = make(&c);
    memset(&over, 0, sizeof over);
    over.hop = hop;
    assert_int_equal(reserve(hop, 10, ip4(10, 1), T0), KNIT_RELAY_OK);
    uint32_t a = 0, b = 0;
    assert_int_equal(open_c(hop, 1, ip4(1, 1), 10, T0, &a), KNIT_RELAY_OK);
    assert_int_equal(open_c(hop, 2, ip4(2, 1), 10, T0 + 30 * S, &b),
                     KNIT_RELAY_OK);

    assert_true(knit_relay_hop_next_deadline(hop) == T0 + 60 * S);
    knit_relay_hop_expire(hop, T0 + 60 * S - 1, on_over, &over);
    assert_int_equal(over.count, 0);
    knit_relay_hop_expire(hop, T0 + 60 * S, on_over, &over);
    assert_int_equal(over.count, 1);
    assert_int_equal(over.seen[0], a);
    /* Reported once, even though the caller has not closed it yet. */
    assert_true(knit_relay_hop_next_deadline(hop) == T0 + 90 * S);
    knit_relay_hop_expire(hop, T0 + 70 * S, on_over, &over);
    assert_int_equal(over.count, 1);
    knit_relay_hop_close(hop, a);

    /* The callback may close the circuit itself. */
    over.close = true;
    knit_relay_hop_expire(hop, T0 + 200 * S, on_over, &over);
    assert_int_equal(over.count, 2);
    assert_int_equal(over.seen[1], b);
    assert_int_equal(stats(hop).circuits, 0);
    /* Left: the reservation. */
    assert_true(knit_relay_hop_next_deadline(hop) == T0 + 100000 * S);
    knit_relay_hop_free(hop);
}

static void test_allowed_circuit_has_no_deadline(void **state)
{
    (void)state;
    struct knit_peer_id allow[2] = { peer(1), peer(2) };
    struct knit_relay_config c;
    knit_relay_config_default(&c);
    c.allow = allow;
    c.allow_count = 2;
    struct knit_relay_hop *hop = make(&c);
    assert_int_equal(reserve(hop, 2, ip4(2, 1), T0), KNIT_RELAY_OK);
    uint32_t id = 0;
    assert_int_equal(open_c(hop, 1, ip4(1, 1), 2, T0, &id), KNIT_RELAY_OK);
    knit_relay_hop_unreserve(hop, &allow[1]);
    assert_true(knit_relay_hop_next_deadline(hop) == KNIT_NO_DEADLINE);
    memset(&over, 0, sizeof over);
    knit_relay_hop_expire(hop, UINT64_MAX - 1, on_over, &over);
    assert_int_equal(over.count, 0);
    assert_int_equal(stats(hop).circuits, 1);
    knit_relay_hop_free(hop);
}

static void test_list(void **state)
{
    (void)state;
    struct knit_relay_config c;
    knit_relay_config_default(&c);
    struct knit_relay_hop *hop = make(&c);
    assert_int_equal(knit_relay_hop_list(hop, NULL, NULL, 10), 0);
    for (uint8_t p = 1; p <= 3; p++)
        assert_int_equal(reserve(hop, p, ip4(p, 1), T0 + p * S),
                         KNIT_RELAY_OK);
    struct knit_peer_id peers[4];
    uint64_t expires[4];
    assert_int_equal(knit_relay_hop_list(hop, peers, expires, 4), 3);
    for (uint8_t p = 1; p <= 3; p++) {
        struct knit_peer_id want = peer(p);
        bool found = false;
        for (size_t k = 0; k < 3; k++)
            if (knit_peer_id_equal(&peers[k], &want)) {
                assert_true(expires[k] == T0 + p * S + 3600 * S);
                found = true;
            }
        assert_true(found);
    }
    assert_int_equal(knit_relay_hop_list(hop, peers, expires, 2), 2);
    assert_int_equal(knit_relay_hop_list(hop, peers, NULL, 4), 3);
    assert_int_equal(stats(hop).reservations, 3);
    knit_relay_hop_free(hop);
}

/* Tables start small and grow: every slot up to the maxima works. */
static void test_tables_grow_to_max(void **state)
{
    (void)state;
    struct knit_relay_config c;
    knit_relay_config_default(&c);
    c.max_reservations = 37;
    c.max_circuits = 45;
    c.anyone.circuits_per_peer = 100;
    struct knit_relay_hop *hop = make(&c);
    for (uint8_t p = 1; p <= 37; p++)
        assert_int_equal(reserve(hop, p, ip4(p, 1), T0), KNIT_RELAY_OK);
    assert_int_equal(reserve(hop, 38, ip4(38, 1), T0),
                     KNIT_RELAY_RESERVATION_REFUSED);
    for (uint8_t p = 1; p <= 37; p++) {
        struct knit_peer_id id = peer(p);
        assert_true(knit_relay_hop_reserved(hop, &id, T0));
    }
    assert_int_equal(knit_relay_hop_list(hop, NULL, NULL, 100), 37);
    uint32_t ids[45];
    for (uint8_t k = 0; k < 45; k++) {
        assert_int_equal(open_c(hop, (uint8_t)(100 + k),
                                ip4((uint8_t)(100 + k), 1),
                                (uint8_t)(1 + k % 37), T0, &ids[k]),
                         KNIT_RELAY_OK);
        for (uint8_t j = 0; j < k; j++)
            assert_true(ids[j] != ids[k]);
    }
    assert_int_equal(open_c(hop, 200, ip4(200, 1), 1, T0, NULL),
                     KNIT_RELAY_RESOURCE_LIMIT_EXCEEDED);
    for (uint8_t k = 0; k < 45; k++)
        assert_true(knit_relay_hop_account(hop, ids[k], 10));
    assert_true(stats(hop).bytes_relayed == 450);
    assert_int_equal(stats(hop).circuits, 45);
    assert_int_equal(stats(hop).reservations, 37);
    knit_relay_hop_free(hop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_and_config),
        cmocka_unit_test(test_reserve_and_refresh),
        cmocka_unit_test(test_reservation_expiry),
        cmocka_unit_test(test_reservations_per_ip),
        cmocka_unit_test(test_allow_list_class),
        cmocka_unit_test(test_open_refusals),
        cmocka_unit_test(test_circuits_per_peer),
        cmocka_unit_test(test_circuits_per_ip_and_total),
        cmocka_unit_test(test_circuit_limits_by_class),
        cmocka_unit_test(test_byte_accounting),
        cmocka_unit_test(test_circuit_duration),
        cmocka_unit_test(test_allowed_circuit_has_no_deadline),
        cmocka_unit_test(test_list),
        cmocka_unit_test(test_tables_grow_to_max),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
