/* Helpers shared by the loss recovery tests (test_recovery.c,
 * test_recovery_pto.c): a recovery instance per test with callbacks that log
 * what was acknowledged and lost, and one-line sends and ACKs.
 *
 * Header-only, all static inline: proto/recovery is part of knit_core, and
 * the support library links knit_proto alone, so they cannot live in a
 * support .c file. Include after <cmocka.h>. */
#ifndef KNIT_TEST_RECOVERY_FIXTURES_H
#define KNIT_TEST_RECOVERY_FIXTURES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "proto/recovery.h"

#define MS 1000u
#define MDS 1200u
#define MAD (25 * MS)   /* the peer's max_ack_delay */
#define LOG_MAX 16384

/* What the callbacks reported, in order. */
struct log {
    uint64_t acked[LOG_MAX];
    size_t n_acked;
    uint64_t lost[LOG_MAX];
    size_t n_lost;
    uint32_t last_ref;
    struct knit_recovery *r;     /* for the re-entrancy test */
    int reentry_rc;
};

static inline void on_acked(void *ctx, const struct knit_sent_packet *p)
{
    struct log *l = ctx;
    assert_true(l->n_acked < LOG_MAX);
    l->acked[l->n_acked++] = p->pn;
    l->last_ref = p->ref;
}

static inline void on_lost(void *ctx, const struct knit_sent_packet *p)
{
    struct log *l = ctx;
    assert_true(l->n_lost < LOG_MAX);
    l->lost[l->n_lost++] = p->pn;
    l->last_ref = p->ref;
}

struct fixture {
    struct knit_recovery *r;
    struct log *log;
    struct knit_recovery_callbacks cb;
};

static inline int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->log = calloc(1, sizeof *f->log);
    assert_non_null(f->log);
    assert_int_equal(knit_recovery_new(&f->r, MDS, MAD), 0);
    f->cb.ctx = f->log;
    f->cb.on_acked = on_acked;
    f->cb.on_lost = on_lost;
    *state = f;
    return 0;
}

static inline int teardown(void **state)
{
    struct fixture *f = *state;
    knit_recovery_free(f->r);
    free(f->log);
    free(f);
    return 0;
}

static inline void send_pkt(struct fixture *f, uint64_t pn, uint64_t now,
                            bool ack_eliciting, bool in_flight)
{
    struct knit_sent_packet p = {
        .pn = pn, .size = MDS, .ack_eliciting = ack_eliciting,
        .in_flight = in_flight, .ref = (uint32_t)(pn * 10),
    };
    assert_int_equal(knit_recovery_on_packet_sent(f->r, &p, now), 0);
}

static inline void send_data(struct fixture *f, uint64_t pn, uint64_t now)
{
    send_pkt(f, pn, now, true, true);
}

static inline int ack1(struct fixture *f, uint64_t lo, uint64_t hi,
                       uint64_t delay, uint64_t now)
{
    struct knit_ack_range r = {lo, hi};
    return knit_recovery_on_ack_received(f->r, &r, 1, delay, now, &f->cb);
}

#endif
