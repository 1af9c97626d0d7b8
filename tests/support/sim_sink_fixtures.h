/* A raw endpoint that logs numbered datagrams, shared by the virtual
 * network tests (tests/sim/test_net.c, test_net_model.c).
 *
 * A numbered datagram starts with its number and its send time (8 bytes
 * each, little-endian), so the sink can check order and delay without the
 * tap. Header-only, all static inline, as sim_net_fixtures.h; include after
 * <cmocka.h>. */
#ifndef KNIT_TEST_SIM_SINK_FIXTURES_H
#define KNIT_TEST_SIM_SINK_FIXTURES_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sim/engine.h"
#include "transport/io.h"

struct rx {
    struct knit_addr src, dst;
    uint64_t id, sent_at, at;
    size_t len;
};

struct sink {
    struct knit_sim_engine *e;
    struct rx *log;
    size_t n, cap;
    size_t want_len;     /* every datagram must be this long; 0: >= 16 */
};

static inline void sink_init(struct sink *s, struct knit_sim_engine *e,
                             size_t cap)
{
    memset(s, 0, sizeof *s);
    s->e = e;
    s->cap = cap;
    s->log = calloc(cap, sizeof *s->log);
    assert_non_null(s->log);
}

static inline void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static inline void sink_recv(void *ctx, const struct knit_addr *src,
                             const struct knit_addr *dst, const uint8_t *pkt,
                             size_t len)
{
    struct sink *s = ctx;
    if (s->want_len)
        assert_int_equal(len, s->want_len);
    assert_true(len >= 16);
    assert_true(s->n < s->cap);
    s->log[s->n++] = (struct rx){*src, *dst, get64(pkt), get64(pkt + 8),
                                 knit_sim_now(s->e), len};
}

#endif
