/* A record lookup meets a stale copy first.
 *
 * A peer T signed record v1 (address A), then v2 (address B) and
 * published v2; server S missed that publish and still holds v1, servers
 * G1 and G2 hold v2. A finder F asks all three; S is the nearest and
 * answers first. Kademlia's FIND_VALUE would stop there and hand F the
 * stale v1 (in home-mix, a record listing no relay of a node that had
 * held two for minutes: a connection attempt with no way in). The lookup
 * must end with v2 and send v2 to S (read repair), so S misleads nobody
 * after. Also: a record held by one server only is still found, and is
 * sent to the others; nothing is repaired when every copy is the same; and
 * with six servers, a record that the 3 closest to its key lack (they
 * joined after its owner published) is found further out and sent to them.
 * And the engine's next deadline, which it keeps between calls, follows
 * each call that moves it.
 *
 * Up to seven DHT engines (dht/dht.h) with a small virtual-time message loop:
 * requests and answers are delivered after each server's one-way delay.
 * No network, no clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dht/dht.h"
#include "proto/identity.h"
#include "proto/msg.h"
#include "proto/multiaddr.h"
#include "proto/record.h"
#include "transport/error.h"

#define MS 1000ull
#define UNIX0 1767225600ull        /* 2026-01-01, the records' issue time */
#define MAX_MSGS 64
#define MAX_BYTES (KNIT_MSG_HEADER_LEN + KNIT_DHT_MAX_MESSAGE)

/* The finder, the three servers of most tests, and three more. */
enum { F = 0, S = 1, G1 = 2, G2 = 3, PEERS = 7 };

struct msg {
    bool used, answer;
    int from, to;
    uint64_t id, at;
    size_t len;
    uint8_t bytes[MAX_BYTES];
};

struct world {
    int count;                      /* peers in this world: F and servers */
    uint64_t now;
    struct knit_identity ident[PEERS], target;
    struct knit_addr addr[PEERS];
    uint64_t delay_us[PEERS];       /* one way, between F and the server */
    struct knit_dht *dht[PEERS];
    struct msg q[MAX_MSGS];
    int ctx_index[PEERS];
    bool found;
    int found_error;
    uint64_t found_seq;
    struct knit_addr found_addr;
    uint8_t v1[KNIT_RECORD_MAX_BYTES], v2[KNIT_RECORD_MAX_BYTES];
    size_t v1_len, v2_len;
};

static struct world *current;

static void enqueue(struct world *w, int from, int to, bool answer,
                    uint64_t id, const uint8_t *bytes, size_t len)
{
    assert_true(len <= MAX_BYTES);
    int far = from == F ? to : from;
    for (int i = 0; i < MAX_MSGS; i++) {
        struct msg *m = &w->q[i];
        if (m->used)
            continue;
        *m = (struct msg){.used = true, .answer = answer, .from = from,
                          .to = to, .id = id, .len = len,
                          .at = w->now + w->delay_us[far]};
        memcpy(m->bytes, bytes, len);
        return;
    }
    fail_msg("message queue full");
}

static int index_of(const struct world *w, const struct knit_peer_id *id)
{
    for (int i = 0; i < w->count; i++)
        if (knit_peer_id_equal(&w->ident[i].id, id))
            return i;
    return -1;
}

static int send_request(void *ctx, const struct knit_peer_id *peer,
                        const struct knit_addr *addr, uint64_t id,
                        const uint8_t *frame, size_t len, uint64_t now)
{
    (void)addr;
    (void)now;
    int from = *(int *)ctx;
    int to = index_of(current, peer);
    if (to < 0)
        return KNIT_E_NOT_FOUND;
    enqueue(current, from, to, false, id, frame, len);
    return KNIT_OK;
}

static void fill_random(void *ctx, uint8_t *buf, size_t len)
{
    (void)ctx;
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)(i * 37 + 11);
}

static uint64_t unix_time(void *ctx, uint64_t now)
{
    (void)ctx;
    return UNIX0 + 60 + now / 1000000;
}

static void on_found(void *ctx, const struct knit_dht_result *r)
{
    (void)ctx;
    current->found = true;
    current->found_error = r->error;
    if (r->error == KNIT_OK) {
        current->found_seq = r->record->seq;
        assert_int_equal(knit_multiaddr_to_socket(&r->record->addrs[0],
                                                  &current->found_addr),
                         KNIT_OK);
    }
}

static void sign(struct world *w, uint64_t seq, uint8_t last_octet,
                 uint8_t *out, size_t *len)
{
    struct knit_peer_record rec = {.peer = w->target.id, .seq = seq,
                                   .issued = UNIX0, .addr_count = 1};
    struct knit_addr a = {.family = KNIT_AF_IP4,
                          .ip = {40, 0, 0, last_octet}, .port = 4001};
    assert_int_equal(knit_multiaddr_from_socket(&rec.addrs[0], &a, NULL),
                     KNIT_OK);
    assert_int_equal(knit_record_sign(&rec, &w->target, out,
                                      KNIT_RECORD_MAX_BYTES, len),
                     KNIT_OK);
}

static struct world *world_new(int count)
{
    static struct world world;
    struct world *w = &world;
    memset(w, 0, sizeof *w);
    current = w;
    w->count = count;
    w->now = 1000 * MS;
    uint8_t seed[KNIT_SEED_LEN];
    memset(seed, 0x44, sizeof seed);
    assert_int_equal(knit_identity_from_seed(&w->target, seed), KNIT_OK);
    /* S is the nearest: its answer arrives first. */
    const uint64_t delay[PEERS] = {0, 10 * MS, 40 * MS, 50 * MS,
                                   20 * MS, 30 * MS, 60 * MS};
    for (int i = 0; i < count; i++) {
        memset(seed, i <= G2 ? 0x40 + i : 0x50 + i, sizeof seed);
        assert_int_equal(knit_identity_from_seed(&w->ident[i], seed),
                         KNIT_OK);
        w->delay_us[i] = delay[i];
        w->addr[i] = (struct knit_addr){.family = KNIT_AF_IP4,
                                        .ip = {20, 0, 0, (uint8_t)(i + 1)},
                                        .port = 4001};
        w->ctx_index[i] = i;
        struct knit_dht_env env = {
            .ctx = &w->ctx_index[i], .send_request = send_request,
            .random = fill_random, .unix_time_s = unix_time,
            .found = on_found,
        };
        assert_int_equal(knit_dht_new(&w->dht[i], &w->ident[i].id, NULL, &env,
                                      w->now),
                         KNIT_OK);
        knit_dht_set_serving(w->dht[i], i != F);
    }
    for (int i = S; i < count; i++)
        knit_dht_peer_seen(w->dht[F], &w->ident[i].id, &w->addr[i], w->now);
    sign(w, 1000, 1, w->v1, &w->v1_len);
    sign(w, 2000, 2, w->v2, &w->v2_len);
    return w;
}

static void world_free(struct world *w)
{
    for (int i = 0; i < w->count; i++)
        knit_dht_free(w->dht[i]);
    current = NULL;
}

static void deliver(struct world *w, struct msg *m)
{
    struct knit_msg_frame f;
    assert_int_equal(knit_msg_deframe(m->bytes, m->len, KNIT_DHT_MAX_MESSAGE,
                                      &f),
                     KNIT_OK);
    if (m->answer) {
        knit_dht_on_response(w->dht[m->to], &w->ident[m->from].id, m->id,
                             f.body, f.body_len, w->now);
        return;
    }
    uint8_t out[MAX_BYTES];
    size_t out_len = 0;
    assert_int_equal(knit_dht_handle_request(w->dht[m->to],
                                             &w->ident[m->from].id,
                                             &w->addr[m->from], false, f.body,
                                             f.body_len, w->now, out,
                                             sizeof out, &out_len),
                     KNIT_OK);
    enqueue(w, m->to, m->from, true, m->id, out, out_len);
}

/* Runs until nothing is queued and F has nothing due before `until`. */
static void run(struct world *w, uint64_t until)
{
    for (;;) {
        struct msg *next = NULL;
        for (int i = 0; i < MAX_MSGS; i++)
            if (w->q[i].used && (!next || w->q[i].at < next->at))
                next = &w->q[i];
        uint64_t due = knit_dht_next_deadline(w->dht[F]);
        if (due <= w->now || (due < until && (!next || due < next->at))) {
            if (due > w->now)
                w->now = due;
            knit_dht_timeout(w->dht[F], w->now);
            continue;
        }
        if (!next || next->at > until)
            return;
        struct msg m = *next;
        next->used = false;
        w->now = m.at;
        deliver(w, &m);
    }
}

static void find_target(struct world *w)
{
    uint64_t handle;
    assert_int_equal(knit_dht_find(w->dht[F], &w->target.id, w->now,
                                   &handle),
                     KNIT_OK);
    run(w, w->now + 2000 * MS);
    assert_true(w->found);
}

static uint64_t held_seq(struct world *w, int server)
{
    struct knit_dht_key key;
    knit_dht_key_of_peer(&key, &w->target.id);
    const struct knit_dht_stored *r =
        knit_dht_store_get(knit_dht_get_store(w->dht[server]), &key, w->now);
    return r ? r->seq : 0;
}

static void test_the_newest_record_wins_over_the_first(void **state)
{
    (void)state;
    struct world *w = world_new(G2 + 1);
    assert_int_equal(knit_dht_restore_record(w->dht[S], w->v1, w->v1_len,
                                             w->now),
                     KNIT_OK);
    for (int i = G1; i <= G2; i++)
        assert_int_equal(knit_dht_restore_record(w->dht[i], w->v2,
                                                 w->v2_len, w->now),
                         KNIT_OK);
    find_target(w);
    assert_int_equal(w->found_error, KNIT_OK);
    assert_int_equal(w->found_seq, 2000);
    assert_int_equal(w->found_addr.ip[3], 2);
    /* S was sent v2 and holds it now. */
    struct knit_dht_stats st;
    knit_dht_get_stats(w->dht[F], &st);
    assert_int_equal(st.records_repaired, 1);
    assert_int_equal(held_seq(w, S), 2000);
    /* The next lookup gets v2 from whoever answers first. */
    w->found = false;
    find_target(w);
    assert_int_equal(w->found_seq, 2000);
    knit_dht_get_stats(w->dht[F], &st);
    assert_int_equal(st.records_repaired, 1);
    world_free(w);
}

static void test_a_single_copy_is_still_found(void **state)
{
    (void)state;
    struct world *w = world_new(G2 + 1);
    assert_int_equal(knit_dht_restore_record(w->dht[G2], w->v1, w->v1_len,
                                             w->now),
                     KNIT_OK);
    find_target(w);
    assert_int_equal(w->found_error, KNIT_OK);
    assert_int_equal(w->found_seq, 1000);
    /* S and G1, as close as the 3 closest go, answered without it. */
    struct knit_dht_stats st;
    knit_dht_get_stats(w->dht[F], &st);
    assert_int_equal(st.records_repaired, 2);
    assert_int_equal(held_seq(w, S), 1000);
    assert_int_equal(held_seq(w, G1), 1000);
    world_free(w);
}

static void test_equal_copies_need_no_repair(void **state)
{
    (void)state;
    struct world *w = world_new(G2 + 1);
    for (int i = S; i < w->count; i++)
        assert_int_equal(knit_dht_restore_record(w->dht[i], w->v2,
                                                 w->v2_len, w->now),
                         KNIT_OK);
    find_target(w);
    assert_int_equal(w->found_seq, 2000);
    struct knit_dht_stats st;
    knit_dht_get_stats(w->dht[F], &st);
    assert_int_equal(st.records_repaired, 0);
    world_free(w);
}

/* The servers of w, closest to the target's key first. */
static void servers_by_distance(struct world *w, int *order)
{
    struct knit_dht_key target, a, b;
    knit_dht_key_of_peer(&target, &w->target.id);
    int n = 0;
    for (int i = S; i < w->count; i++) {
        int at = n++;
        knit_dht_key_of_peer(&a, &w->ident[i].id);
        for (; at > 0; at--) {
            knit_dht_key_of_peer(&b, &w->ident[order[at - 1]].id);
            if (knit_dht_key_cmp_distance(&target, &b, &a) < 0)
                break;
            order[at] = order[at - 1];
        }
        order[at] = i;
    }
}

static void test_a_record_the_closest_lack_is_found_further_out(void **state)
{
    (void)state;
    struct world *w = world_new(PEERS);
    int order[PEERS - 1];
    servers_by_distance(w, order);
    /* Only the 4th and 5th closest hold it: the 3 closest came after the
     * owner's publish. */
    for (int i = 3; i <= 4; i++)
        assert_int_equal(knit_dht_restore_record(w->dht[order[i]], w->v2,
                                                 w->v2_len, w->now),
                         KNIT_OK);
    find_target(w);
    assert_int_equal(w->found_error, KNIT_OK);
    assert_int_equal(w->found_seq, 2000);
    /* The 3 closest were sent it, and the next lookup ends with them. */
    struct knit_dht_stats st;
    knit_dht_get_stats(w->dht[F], &st);
    assert_int_equal(st.records_repaired, 3);
    for (int i = 0; i < 3; i++)
        assert_int_equal(held_seq(w, order[i]), 2000);
    assert_int_equal(held_seq(w, order[5]), 0);
    w->found = false;
    find_target(w);
    assert_int_equal(w->found_seq, 2000);
    knit_dht_get_stats(w->dht[F], &st);
    assert_int_equal(st.records_repaired, 3);
    world_free(w);
}

static void test_a_missing_record_asks_the_k_closest(void **state)
{
    (void)state;
    struct world *w = world_new(PEERS);
    /* F's join (a lookup of its own key) asks every server first. */
    run(w, w->now + 2000 * MS);
    uint64_t served[PEERS];
    struct knit_dht_stats st;
    for (int i = S; i < w->count; i++) {
        knit_dht_get_stats(w->dht[i], &st);
        served[i] = st.requests_served;
    }
    find_target(w);
    assert_int_equal(w->found_error, KNIT_E_NOT_FOUND);
    /* All six servers were asked, not only the 3 closest. */
    knit_dht_get_stats(w->dht[F], &st);
    assert_int_equal(st.records_repaired, 0);
    for (int i = S; i < w->count; i++) {
        knit_dht_get_stats(w->dht[i], &st);
        assert_int_equal(st.requests_served, served[i] + 1);
    }
    world_free(w);
}

/* knit_dht_next_deadline is cached until a call changes the engine: a
 * lookup started, a record stored, a lookup ended must each show. */
static void test_the_deadline_follows_every_change(void **state)
{
    (void)state;
    struct world *w = world_new(G2 + 1);
    uint64_t idle_f = knit_dht_next_deadline(w->dht[F]);
    uint64_t idle_s = knit_dht_next_deadline(w->dht[S]);
    assert_true(idle_f > w->now);
    /* A lookup is started from the next timeout: due now. */
    uint64_t handle;
    assert_int_equal(knit_dht_find(w->dht[F], &w->target.id, w->now,
                                   &handle),
                     KNIT_OK);
    assert_true(knit_dht_next_deadline(w->dht[F]) <= w->now);
    /* A stored record expires: S is due then, not never. */
    assert_int_equal(knit_dht_restore_record(w->dht[S], w->v1, w->v1_len,
                                             w->now),
                     KNIT_OK);
    uint64_t with_record = knit_dht_next_deadline(w->dht[S]);
    assert_true(with_record < idle_s);
    assert_true(with_record > w->now);
    /* The lookup asks, is answered, and ends: nothing due now any more. */
    run(w, w->now + 2000 * MS);
    assert_true(w->found);
    assert_true(knit_dht_next_deadline(w->dht[F]) > w->now);
    world_free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_newest_record_wins_over_the_first),
        cmocka_unit_test(test_a_single_copy_is_still_found),
        cmocka_unit_test(test_equal_copies_need_no_repair),
        cmocka_unit_test(test_a_record_the_closest_lack_is_found_further_out),
        cmocka_unit_test(test_a_missing_record_asks_the_k_closest),
        cmocka_unit_test(test_the_deadline_follows_every_change),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
