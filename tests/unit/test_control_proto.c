/* node/control_proto: the control messages of the DHT commands and of
 * `knit status` decode as the CLI expects, their bounds hold (too many
 * peers, buckets, observed or relayed addresses, a bucket index past 255,
 * an enum or confidence past its last value, a port past 65535, a port
 * mapping state past "stopping", an error or punch failure reason past
 * its length), the optional fields (a peer's hole punching, its time to
 * direct and failure reason, the mapping's method and address) may be
 * absent, and the largest answer the schemas allow, a peers response of
 * KNIT_CONTROL_MAX_PEERS entries at full length with their hole punching,
 * fits in KNIT_CONTROL_MAX_MSG with exactly the size the header computes.
 * Also knit_control_clean_text, which makes reasons safe to send. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "node/control_proto.h"
#include "node/observed.h"
#include "proto/record.h"
#include "proto/multiaddr.h"
#include "proto/peer_id.h"
#include "transport/error.h"

#define ID "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq"

/* The hole-punching map of a peers entry, with knobs to break it. */
struct punch_case {
    bool absent;               /* no field 5 at all */
    uint64_t attempts;
    bool timed;                /* field 5 (µs to direct) present */
    size_t reason_len;         /* 0: field 6 absent */
    bool reason_empty;         /* field 6 present but "" */
    bool without_progress;     /* required field 4 left out */
};

static const struct punch_case punch_full = {
    .attempts = UINT32_MAX, .timed = true,
    .reason_len = KNIT_CONTROL_PUNCH_REASON_MAX,
};

static void put_punch(struct knit_msg_writer *w, const struct punch_case *pc)
{
    char reason[KNIT_CONTROL_PUNCH_REASON_MAX + 8];
    memset(reason, 'r', sizeof reason);
    bool has_reason = pc->reason_len || pc->reason_empty;
    knit_msg_put_map_begin(w, 5, 3 + !pc->without_progress + pc->timed +
                                     has_reason);
    knit_msg_put_uint(w, 1, pc->attempts);
    knit_msg_put_uint(w, 2, UINT32_MAX);
    knit_msg_put_uint(w, 3, UINT32_MAX);
    if (!pc->without_progress)
        knit_msg_put_bool(w, 4, true);
    if (pc->timed)
        knit_msg_put_uint(w, 5, UINT64_MAX);
    if (has_reason)
        knit_msg_put_str(w, 6, reason, pc->reason_len);
    knit_msg_map_end(w);
}

/* Writes a peers response of n entries, every string as long as the schema
 * allows and each with the punch map pc; returns knit_msg_end()'s
 * result. */
static int write_peers_with(uint8_t *buf, size_t cap, uint32_t n,
                            const struct punch_case *pc, size_t *len)
{
    char id[KNIT_PEER_ID_TEXT_MAX], path[16], addr[KNIT_MA_TEXT_MAX - 1];
    memset(id, '1', sizeof id);
    memset(path, 'd', sizeof path);
    memset(addr, '/', sizeof addr);
    struct knit_msg_writer w;
    knit_msg_writer_init(&w, buf, cap);
    knit_msg_begin(&w, KNIT_CTL_PEERS_RESPONSE, 1);
    knit_msg_put_array_begin(&w, 1, n);
    for (uint32_t i = 0; i < n; i++) {
        knit_msg_add_map_begin(&w, pc->absent ? 4 : 5);
        knit_msg_put_str(&w, 1, id, sizeof id);
        knit_msg_put_str(&w, 2, path, sizeof path);
        knit_msg_put_str(&w, 3, addr, sizeof addr);
        knit_msg_put_uint(&w, 4, UINT64_MAX);
        if (!pc->absent)
            put_punch(&w, pc);
        knit_msg_map_end(&w);
    }
    knit_msg_array_end(&w);
    return knit_msg_end(&w, len);
}

static int write_peers(uint8_t *buf, size_t cap, uint32_t n, size_t *len)
{
    return write_peers_with(buf, cap, n, &punch_full, len);
}

static void test_full_peers_response_fits(void **state)
{
    (void)state;
    size_t cap = KNIT_MSG_HEADER_LEN + KNIT_CONTROL_MAX_MSG;
    uint8_t *buf = malloc(cap);
    assert_non_null(buf);
    size_t len;
    assert_int_equal(write_peers(buf, cap, KNIT_CONTROL_MAX_PEERS, &len), 0);
    /* map, type key and value, key 1, array16 header: 7 bytes around. */
    assert_int_equal(len - KNIT_MSG_HEADER_LEN,
                     KNIT_CONTROL_MAX_PEERS * KNIT_CONTROL_PEER_ENTRY_MAX + 7);
    struct knit_msg_frame fr;
    assert_int_equal(knit_msg_deframe(buf, len, KNIT_CONTROL_MAX_MSG, &fr), 0);
    struct knit_msg m, entry;
    assert_int_equal(knit_msg_decode(fr.body, fr.body_len,
                                     &knit_control_peers_response, &m), 0);
    struct knit_msg_iter it;
    uint32_t n = 0;
    assert_int_equal(knit_msg_iter_init(&it, &m, 1), 0);
    while (knit_msg_next_map(&it, &entry) == 0) {
        assert_int_equal(knit_msg_uint(&entry, 4), UINT64_MAX);
        struct knit_msg punch;
        assert_int_equal(knit_msg_get_map(&entry, 5, &punch), 0);
        assert_int_equal(knit_msg_uint(&punch, 1), UINT32_MAX);
        assert_int_equal(knit_msg_uint(&punch, 4), 1);
        assert_int_equal(knit_msg_uint(&punch, 5), UINT64_MAX);
        size_t reason_len;
        assert_non_null(knit_msg_bytes(&punch, 6, &reason_len));
        assert_int_equal(reason_len, KNIT_CONTROL_PUNCH_REASON_MAX);
        n++;
    }
    assert_int_equal(n, KNIT_CONTROL_MAX_PEERS);
    free(buf);
}

/* One entry with the punch map pc, decoded. */
static int punch_decode(const struct punch_case *pc, struct knit_msg *punch)
{
    static uint8_t buf[4096];
    size_t len;
    struct knit_msg m, entry;
    assert_int_equal(write_peers_with(buf, sizeof buf, 1, pc, &len), 0);
    int rc = knit_msg_decode(buf + KNIT_MSG_HEADER_LEN,
                             len - KNIT_MSG_HEADER_LEN,
                             &knit_control_peers_response, &m);
    if (rc != 0)
        return rc;
    struct knit_msg_iter it;
    assert_int_equal(knit_msg_iter_init(&it, &m, 1), 0);
    assert_int_equal(knit_msg_next_map(&it, &entry), 0);
    return knit_msg_get_map(&entry, 5, punch);
}

static void test_peers_punch(void **state)
{
    (void)state;
    struct knit_msg punch;
    /* A peer never punched with: no field 5. */
    struct punch_case pc = {.absent = true};
    assert_int_equal(punch_decode(&pc, &punch), KNIT_E_NOT_FOUND);
    /* Punched, never direct, never failed: no time, no reason. */
    pc = (struct punch_case){.attempts = 1};
    assert_int_equal(punch_decode(&pc, &punch), 0);
    assert_int_equal(knit_msg_uint(&punch, 1), 1);
    assert_false(knit_msg_has(&punch, 5));
    assert_false(knit_msg_has(&punch, 6));
    /* A count past 32 bits, a reason past its bound, an empty reason and
     * a missing in_progress are refused. */
    pc = (struct punch_case){.attempts = (uint64_t)UINT32_MAX + 1};
    assert_int_equal(punch_decode(&pc, &punch), KNIT_E_TOO_BIG);
    pc = (struct punch_case){.reason_len = KNIT_CONTROL_PUNCH_REASON_MAX + 1};
    assert_int_equal(punch_decode(&pc, &punch), KNIT_E_TOO_BIG);
    pc = (struct punch_case){.reason_empty = true};
    assert_int_equal(punch_decode(&pc, &punch), KNIT_E_LENGTH);
    pc = (struct punch_case){.without_progress = true};
    assert_int_equal(punch_decode(&pc, &punch), KNIT_E_MISSING);
}

static void test_clean_text(void **state)
{
    (void)state;
    char out[8];
    assert_int_equal(knit_control_clean_text(out, sizeof out, "ok"), 2);
    assert_string_equal(out, "ok");
    /* Control bytes and bytes past ASCII (a cut UTF-8 sequence too). */
    assert_int_equal(knit_control_clean_text(out, sizeof out,
                                             "a\x1b[\xc3\n\x7f"), 6);
    assert_string_equal(out, "a?[???");
    /* Cut to cap - 1 bytes. */
    assert_int_equal(knit_control_clean_text(out, sizeof out,
                                             "0123456789"), 7);
    assert_string_equal(out, "0123456");
    assert_int_equal(knit_control_clean_text(out, 1, "x"), 0);
    assert_string_equal(out, "");
}

static void test_peers_response_bounds(void **state)
{
    (void)state;
    size_t cap = 2 * KNIT_CONTROL_MAX_MSG;
    uint8_t *buf = malloc(cap);
    assert_non_null(buf);
    size_t len;
    struct knit_msg m;
    assert_int_equal(write_peers(buf, cap, 0, &len), 0);
    assert_int_equal(knit_msg_decode(buf + KNIT_MSG_HEADER_LEN,
                                     len - KNIT_MSG_HEADER_LEN,
                                     &knit_control_peers_response, &m), 0);
    assert_int_equal(write_peers(buf, cap, KNIT_CONTROL_MAX_PEERS + 1, &len),
                     0);
    assert_int_equal(knit_msg_decode(buf + KNIT_MSG_HEADER_LEN,
                                     len - KNIT_MSG_HEADER_LEN,
                                     &knit_control_peers_response, &m),
                     KNIT_E_TOO_BIG);
    free(buf);
}

static void test_find_response(void **state)
{
    (void)state;
    static uint8_t buf[KNIT_MSG_HEADER_LEN + KNIT_CONTROL_MAX_MSG];
    char addr[KNIT_MA_TEXT_MAX - 1];
    memset(addr, 'a', sizeof addr);
    struct knit_msg_writer w;
    size_t len;
    knit_msg_writer_init(&w, buf, sizeof buf);
    knit_msg_begin(&w, KNIT_CTL_FIND_RESPONSE, 5);
    knit_msg_put_str(&w, 1, ID, strlen(ID));
    knit_msg_put_array_begin(&w, 2, KNIT_CONTROL_MAX_ADDRS);
    for (int i = 0; i < KNIT_CONTROL_MAX_ADDRS; i++)
        knit_msg_add_str(&w, addr, sizeof addr);
    knit_msg_array_end(&w);
    knit_msg_put_uint(&w, 3, 4);
    knit_msg_put_uint(&w, 4, 11);
    knit_msg_put_uint(&w, 5, 12345);
    assert_int_equal(knit_msg_end(&w, &len), 0);
    struct knit_msg m;
    assert_int_equal(knit_msg_decode(buf + KNIT_MSG_HEADER_LEN,
                                     len - KNIT_MSG_HEADER_LEN,
                                     &knit_control_find_response, &m), 0);
    assert_int_equal(knit_msg_uint(&m, 3), 4);
    assert_int_equal(knit_msg_uint(&m, 4), 11);
    assert_int_equal(knit_msg_uint(&m, 5), 12345);

    /* The request: a peer ID, nothing else. */
    knit_msg_writer_init(&w, buf, sizeof buf);
    knit_msg_begin(&w, KNIT_CTL_FIND_REQUEST, 1);
    knit_msg_put_str(&w, 1, ID, strlen(ID));
    assert_int_equal(knit_msg_end(&w, &len), 0);
    assert_int_equal(knit_msg_decode(buf + KNIT_MSG_HEADER_LEN,
                                     len - KNIT_MSG_HEADER_LEN,
                                     &knit_control_find_request, &m), 0);
    knit_msg_writer_init(&w, buf, sizeof buf);
    knit_msg_begin(&w, KNIT_CTL_FIND_REQUEST, 0);
    assert_int_equal(knit_msg_end(&w, &len), 0);
    assert_int_equal(knit_msg_decode(buf + KNIT_MSG_HEADER_LEN,
                                     len - KNIT_MSG_HEADER_LEN,
                                     &knit_control_find_request, &m),
                     KNIT_E_MISSING);
}

/* A table response with n buckets, the last of them at index last. */
static int table_decode(uint32_t n, uint64_t last)
{
    static uint8_t buf[KNIT_MSG_HEADER_LEN + KNIT_CONTROL_MAX_MSG];
    struct knit_msg_writer w;
    size_t len;
    knit_msg_writer_init(&w, buf, sizeof buf);
    knit_msg_begin(&w, KNIT_CTL_DHT_TABLE_RESPONSE, 4);
    knit_msg_put_str(&w, 1, KNIT_CONTROL_MODE_SERVER,
                     strlen(KNIT_CONTROL_MODE_SERVER));
    knit_msg_put_uint(&w, 2, 20 * n);
    knit_msg_put_uint(&w, 3, 7);
    knit_msg_put_array_begin(&w, 4, n);
    for (uint32_t i = 0; i < n; i++) {
        knit_msg_add_map_begin(&w, 3);
        knit_msg_put_uint(&w, 1, i + 1 == n ? last : i);
        knit_msg_put_uint(&w, 2, 20);
        knit_msg_put_uint(&w, 3, 8);
        knit_msg_map_end(&w);
    }
    knit_msg_array_end(&w);
    assert_int_equal(knit_msg_end(&w, &len), 0);
    struct knit_msg m;
    return knit_msg_decode(buf + KNIT_MSG_HEADER_LEN, len - KNIT_MSG_HEADER_LEN,
                           &knit_control_dht_table_response, &m);
}

static void test_dht_table_response_bounds(void **state)
{
    (void)state;
    assert_int_equal(table_decode(0, 0), 0);
    assert_int_equal(table_decode(KNIT_CONTROL_MAX_BUCKETS, 255), 0);
    assert_int_equal(table_decode(1, 256), KNIT_E_TOO_BIG);
    assert_int_equal(table_decode(KNIT_CONTROL_MAX_BUCKETS + 1, 3),
                     KNIT_E_TOO_BIG);
}

static void test_bare_requests(void **state)
{
    (void)state;
    uint8_t buf[16];
    struct knit_msg_writer w;
    size_t len;
    struct knit_msg m;
    knit_msg_writer_init(&w, buf, sizeof buf);
    knit_msg_begin(&w, KNIT_CTL_PEERS_REQUEST, 0);
    assert_int_equal(knit_msg_end(&w, &len), 0);
    assert_int_equal(knit_msg_decode(buf + KNIT_MSG_HEADER_LEN,
                                     len - KNIT_MSG_HEADER_LEN,
                                     &knit_control_peers_request, &m), 0);
    assert_int_equal(knit_msg_uint(&m, 0), KNIT_CTL_PEERS_REQUEST);
    /* A field where none is expected. */
    knit_msg_writer_init(&w, buf, sizeof buf);
    knit_msg_begin(&w, KNIT_CTL_DHT_TABLE_REQUEST, 1);
    knit_msg_put_uint(&w, 1, 1);
    assert_int_equal(knit_msg_end(&w, &len), 0);
    assert_int_equal(knit_msg_decode(buf + KNIT_MSG_HEADER_LEN,
                                     len - KNIT_MSG_HEADER_LEN,
                                     &knit_control_dht_table_request, &m),
                     KNIT_E_UNKNOWN_FIELD);
}

/* ---- status ------------------------------------------------------------ */

/* A status response as the daemon writes it, with knobs to break it. */
struct status_case {
    uint64_t field[16];        /* keys 2..15; 7 and 8 are bools */
    uint32_t observed, relays; /* entries, each string at full length */
    uint64_t observed_confidence;
    bool observed_without_trusted;
    bool nat_as_uint;          /* key 7 (behind a NAT) as 1, not true */
    unsigned omit;             /* a top-level key left out; 0: none */
    /* Field 16, the port mapping: the method and address are left out
     * when NULL; the error is error_len bytes. */
    uint64_t pm_state, pm_lease, pm_next;
    const char *pm_method, *pm_external;
    size_t pm_error_len;
    /* Field 17, hole punching, keys 1..5. */
    uint64_t punch[6];
};

static void status_defaults(struct status_case *c)
{
    memset(c, 0, sizeof *c);
    c->field[2] = KNIT_REACHABILITY_PRIVATE;
    c->field[3] = 3;
    c->field[4] = 2;
    c->field[5] = KNIT_MAPPING_ENDPOINT_INDEPENDENT;
    c->field[6] = KNIT_CONFIDENCE_HIGH;
    c->field[7] = 1;
    c->field[8] = 0;
    c->field[9] = KNIT_FILTERING_ADDRESS_PORT_DEPENDENT;
    c->field[10] = KNIT_CONFIDENCE_LOW;
    c->field[13] = 4002;
    c->field[14] = 5;
    c->field[15] = UINT32_MAX;
    c->observed = 1;
    c->relays = 1;
    c->observed_confidence = KNIT_CONFIDENCE_HIGH;
    c->pm_state = KNIT_CONTROL_PORTMAP_MAPPED;
    c->pm_method = "nat-pmp";
    c->pm_external = "/ip4/203.0.113.1/udp/4001";
    c->pm_lease = 3599;
    c->pm_next = 0;
    c->pm_error_len = KNIT_CONTROL_PORTMAP_ERROR_MAX;
    for (unsigned k = 1; k <= 5; k++)
        c->punch[k] = k == 1 ? UINT64_MAX : 10 * k;
}

static void put_status_maps(struct knit_msg_writer *w,
                            const struct status_case *c, unsigned key)
{
    char error[KNIT_CONTROL_PORTMAP_ERROR_MAX + 8];
    memset(error, 'e', sizeof error);
    if (key == 16) {
        knit_msg_put_map_begin(w, 16, 4 + (c->pm_method != NULL) +
                                          (c->pm_external != NULL));
        knit_msg_put_uint(w, 1, c->pm_state);
        if (c->pm_method)
            knit_msg_put_str(w, 2, c->pm_method, strlen(c->pm_method));
        if (c->pm_external)
            knit_msg_put_str(w, 3, c->pm_external, strlen(c->pm_external));
        knit_msg_put_uint(w, 4, c->pm_lease);
        knit_msg_put_uint(w, 5, c->pm_next);
        knit_msg_put_str(w, 6, error, c->pm_error_len);
    } else {
        knit_msg_put_map_begin(w, 17, 5);
        for (unsigned k = 1; k <= 5; k++)
            knit_msg_put_uint(w, k, c->punch[k]);
    }
    knit_msg_map_end(w);
}

static void put_status_scalar(struct knit_msg_writer *w,
                              const struct status_case *c, unsigned key)
{
    if ((key == 7 && !c->nat_as_uint) || key == 8)
        knit_msg_put_bool(w, key, c->field[key] != 0);
    else
        knit_msg_put_uint(w, key, c->field[key]);
}

static int status_decode(const struct status_case *c, uint8_t *buf,
                         size_t cap, struct knit_msg *m)
{
    char addr[KNIT_MA_TEXT_MAX - 1];
    memset(addr, '/', sizeof addr);
    struct knit_msg_writer w;
    size_t len;
    knit_msg_writer_init(&w, buf, cap);
    knit_msg_begin(&w, KNIT_CTL_STATUS_RESPONSE, c->omit ? 16 : 17);
    for (unsigned key = 1; key <= 17; key++) {
        if (key == c->omit)
            continue;
        if (key == 16 || key == 17) {
            put_status_maps(&w, c, key);
        } else if (key == 1) {
            knit_msg_put_str(&w, 1, ID, strlen(ID));
        } else if (key == 11) {
            knit_msg_put_array_begin(&w, 11, c->observed);
            for (uint32_t i = 0; i < c->observed; i++) {
                knit_msg_add_map_begin(&w, c->observed_without_trusted ? 3 : 4);
                knit_msg_put_str(&w, 1, addr, sizeof addr);
                knit_msg_put_uint(&w, 2, 3 + i);
                if (!c->observed_without_trusted)
                    knit_msg_put_bool(&w, 3, i == 0);
                knit_msg_put_uint(&w, 4, c->observed_confidence);
                knit_msg_map_end(&w);
            }
            knit_msg_array_end(&w);
        } else if (key == 12) {
            knit_msg_put_array_begin(&w, 12, c->relays);
            for (uint32_t i = 0; i < c->relays; i++)
                knit_msg_add_str(&w, addr, sizeof addr);
            knit_msg_array_end(&w);
        } else {
            put_status_scalar(&w, c, key);
        }
    }
    assert_int_equal(knit_msg_end(&w, &len), 0);
    return knit_msg_decode(buf + KNIT_MSG_HEADER_LEN, len - KNIT_MSG_HEADER_LEN,
                           &knit_control_status_response, m);
}

static void test_status_round_trip(void **state)
{
    (void)state;
    static uint8_t buf[KNIT_MSG_HEADER_LEN + KNIT_CONTROL_MAX_MSG];
    struct status_case c;
    struct knit_msg m, e;
    status_defaults(&c);
    /* The largest response: every list full, every string at its limit. */
    c.observed = KNIT_CONTROL_MAX_OBSERVED;
    c.relays = KNIT_CONTROL_MAX_RELAYS;
    assert_int_equal(status_decode(&c, buf, sizeof buf, &m), 0);
    size_t len;
    const uint8_t *id = knit_msg_bytes(&m, 1, &len);
    assert_int_equal(len, strlen(ID));
    assert_memory_equal(id, ID, len);
    for (unsigned key = 2; key <= 15; key++)
        if (key != 11 && key != 12)
            assert_int_equal(knit_msg_uint(&m, key), c.field[key]);
    struct knit_msg_iter it;
    uint32_t n = 0;
    assert_int_equal(knit_msg_iter_init(&it, &m, 11), 0);
    while (knit_msg_next_map(&it, &e) == 0) {
        knit_msg_bytes(&e, 1, &len);
        assert_int_equal(len, KNIT_MA_TEXT_MAX - 1);
        assert_int_equal(knit_msg_uint(&e, 2), 3 + n);
        assert_int_equal(knit_msg_uint(&e, 3), n == 0);
        assert_int_equal(knit_msg_uint(&e, 4), KNIT_CONFIDENCE_HIGH);
        n++;
    }
    assert_int_equal(n, KNIT_CONTROL_MAX_OBSERVED);
    const uint8_t *p;
    n = 0;
    assert_int_equal(knit_msg_iter_init(&it, &m, 12), 0);
    while (knit_msg_next_bytes(&it, &p, &len) == 0)
        n++;
    assert_int_equal(n, KNIT_CONTROL_MAX_RELAYS);
    struct knit_msg pm, punch;
    assert_int_equal(knit_msg_get_map(&m, 16, &pm), 0);
    assert_int_equal(knit_msg_uint(&pm, 1), KNIT_CONTROL_PORTMAP_MAPPED);
    const uint8_t *method = knit_msg_bytes(&pm, 2, &len);
    assert_int_equal(len, strlen("nat-pmp"));
    assert_memory_equal(method, "nat-pmp", len);
    const uint8_t *ext = knit_msg_bytes(&pm, 3, &len);
    assert_int_equal(len, strlen(c.pm_external));
    assert_memory_equal(ext, c.pm_external, len);
    assert_int_equal(knit_msg_uint(&pm, 4), 3599);
    assert_int_equal(knit_msg_uint(&pm, 5), 0);
    knit_msg_bytes(&pm, 6, &len);
    assert_int_equal(len, KNIT_CONTROL_PORTMAP_ERROR_MAX);
    assert_int_equal(knit_msg_get_map(&m, 17, &punch), 0);
    for (unsigned k = 1; k <= 5; k++)
        assert_int_equal(knit_msg_uint(&punch, k), c.punch[k]);
    /* Nothing observed and no relay yet is a valid answer too, and so is
     * port mapping off: no method, no address, no error. */
    c.observed = c.relays = 0;
    c.pm_state = KNIT_CONTROL_PORTMAP_OFF;
    c.pm_method = c.pm_external = NULL;
    c.pm_lease = c.pm_error_len = 0;
    assert_int_equal(status_decode(&c, buf, sizeof buf, &m), 0);
    assert_int_equal(knit_msg_get_map(&m, 16, &pm), 0);
    assert_int_equal(knit_msg_uint(&pm, 1), KNIT_CONTROL_PORTMAP_OFF);
    assert_false(knit_msg_has(&pm, 2));
    assert_false(knit_msg_has(&pm, 3));
    assert_true(knit_msg_has(&pm, 6));

    /* The request: its type alone. */
    struct knit_msg_writer w;
    knit_msg_writer_init(&w, buf, sizeof buf);
    knit_msg_begin(&w, KNIT_CTL_STATUS_REQUEST, 0);
    assert_int_equal(knit_msg_end(&w, &len), 0);
    assert_int_equal(knit_msg_decode(buf + KNIT_MSG_HEADER_LEN,
                                     len - KNIT_MSG_HEADER_LEN,
                                     &knit_control_status_request, &m), 0);
    knit_msg_writer_init(&w, buf, sizeof buf);
    knit_msg_begin(&w, KNIT_CTL_STATUS_REQUEST, 1);
    knit_msg_put_uint(&w, 1, 0);
    assert_int_equal(knit_msg_end(&w, &len), 0);
    assert_int_equal(knit_msg_decode(buf + KNIT_MSG_HEADER_LEN,
                                     len - KNIT_MSG_HEADER_LEN,
                                     &knit_control_status_request, &m),
                     KNIT_E_UNKNOWN_FIELD);
}

/* One value past its bound in field key: refused as too big. */
static int status_with(unsigned key, uint64_t value)
{
    static uint8_t buf[KNIT_MSG_HEADER_LEN + KNIT_CONTROL_MAX_MSG];
    struct status_case c;
    struct knit_msg m;
    status_defaults(&c);
    c.field[key] = value;
    return status_decode(&c, buf, sizeof buf, &m);
}

static void test_status_refusals(void **state)
{
    (void)state;
    static uint8_t buf[KNIT_MSG_HEADER_LEN + KNIT_CONTROL_MAX_MSG];
    struct status_case c;
    struct knit_msg m;
    /* Enums and confidences end at their last value. */
    assert_int_equal(status_with(2, KNIT_REACHABILITY_PRIVATE), 0);
    assert_int_equal(status_with(2, KNIT_REACHABILITY_PRIVATE + 1),
                     KNIT_E_TOO_BIG);
    assert_int_equal(status_with(3, 4), KNIT_E_TOO_BIG);
    assert_int_equal(status_with(5, KNIT_MAPPING_ADDRESS_PORT_DEPENDENT + 1),
                     KNIT_E_TOO_BIG);
    assert_int_equal(status_with(6, KNIT_CONFIDENCE_HIGH + 1), KNIT_E_TOO_BIG);
    assert_int_equal(status_with(9, KNIT_FILTERING_ADDRESS_PORT_DEPENDENT + 1),
                     KNIT_E_TOO_BIG);
    assert_int_equal(status_with(10, KNIT_CONFIDENCE_HIGH + 1),
                     KNIT_E_TOO_BIG);
    assert_int_equal(status_with(4, (uint64_t)UINT32_MAX + 1),
                     KNIT_E_TOO_BIG);
    assert_int_equal(status_with(13, 65535), 0);
    assert_int_equal(status_with(13, 65536), KNIT_E_TOO_BIG);
    assert_int_equal(status_with(14, (uint64_t)UINT32_MAX + 1),
                     KNIT_E_TOO_BIG);

    status_defaults(&c);
    c.observed = KNIT_CONTROL_MAX_OBSERVED + 1;
    assert_int_equal(status_decode(&c, buf, sizeof buf, &m), KNIT_E_TOO_BIG);
    status_defaults(&c);
    c.relays = KNIT_CONTROL_MAX_RELAYS + 1;
    assert_int_equal(status_decode(&c, buf, sizeof buf, &m), KNIT_E_TOO_BIG);
    status_defaults(&c);
    c.observed_confidence = KNIT_CONFIDENCE_HIGH + 1;
    assert_int_equal(status_decode(&c, buf, sizeof buf, &m), KNIT_E_TOO_BIG);
    status_defaults(&c);
    c.observed_without_trusted = true;
    assert_int_equal(status_decode(&c, buf, sizeof buf, &m), KNIT_E_MISSING);
    status_defaults(&c);
    c.nat_as_uint = true;
    assert_int_equal(status_decode(&c, buf, sizeof buf, &m), KNIT_E_TYPE);
    /* The port mapping: a state past "stopping", an error past its bound,
     * an empty method. */
    status_defaults(&c);
    c.pm_state = KNIT_CONTROL_PORTMAP_STOPPING;
    assert_int_equal(status_decode(&c, buf, sizeof buf, &m), 0);
    c.pm_state = KNIT_CONTROL_PORTMAP_STOPPING + 1;
    assert_int_equal(status_decode(&c, buf, sizeof buf, &m), KNIT_E_TOO_BIG);
    status_defaults(&c);
    c.pm_error_len = KNIT_CONTROL_PORTMAP_ERROR_MAX + 1;
    assert_int_equal(status_decode(&c, buf, sizeof buf, &m), KNIT_E_TOO_BIG);
    status_defaults(&c);
    c.pm_method = "";
    assert_int_equal(status_decode(&c, buf, sizeof buf, &m), KNIT_E_LENGTH);
    status_defaults(&c);
    c.pm_lease = (uint64_t)UINT32_MAX + 1;
    assert_int_equal(status_decode(&c, buf, sizeof buf, &m), KNIT_E_TOO_BIG);
    /* Every field is required. */
    for (unsigned key = 1; key <= 17; key++) {
        status_defaults(&c);
        c.omit = key;
        assert_int_equal(status_decode(&c, buf, sizeof buf, &m),
                         KNIT_E_MISSING);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_peers_response_fits),
        cmocka_unit_test(test_peers_response_bounds),
        cmocka_unit_test(test_peers_punch),
        cmocka_unit_test(test_clean_text),
        cmocka_unit_test(test_find_response),
        cmocka_unit_test(test_dht_table_response_bounds),
        cmocka_unit_test(test_bare_requests),
        cmocka_unit_test(test_status_round_trip),
        cmocka_unit_test(test_status_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
