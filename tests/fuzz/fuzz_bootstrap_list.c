/* Fuzzes the bootstrap list parser: the input is a whole bootstrap file,
 * parsed with a small and a large cap, and also one multiaddr. Whatever is
 * accepted must be a dialable endpoint + peer ID that formats back to text
 * parse_one accepts as the same peer; the peers are distinct and within the
 * cap; an error names a line that exists, and the small cap's peers are the
 * first of the large cap's. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "node/bootstrap_list.h"
#include "proto/multiaddr.h"
#include "transport/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x) do { if (!(x)) __builtin_trap(); } while (0)

#define SMALL_CAP 3
#define LARGE_CAP 64

static void check_peer(const struct knit_bootstrap_peer *p)
{
    CHECK(!knit_addr_is_unspecified(&p->addr) && p->addr.port != 0);
    struct knit_multiaddr ma;
    char text[KNIT_MA_TEXT_MAX];
    CHECK(knit_multiaddr_from_socket(&ma, &p->addr, &p->id) == 0);
    CHECK(knit_multiaddr_format(&ma, text, sizeof text) == 0);
    struct knit_bootstrap_peer q;
    CHECK(knit_bootstrap_parse_one(text, strlen(text), &q) == 0);
    CHECK(knit_peer_id_equal(&p->id, &q.id));
    CHECK(knit_addr_equal(&p->addr, &q.addr));
}

/* The small cap's peers are compared with the large cap's, so only those
 * need the round trip (deep_check). */
static int parse(const char *text, size_t len,
                 struct knit_bootstrap_peer *peers, size_t cap,
                 bool deep_check, size_t *count, size_t *bad_line)
{
    *count = 0;
    int err = knit_bootstrap_parse_text(text, len, peers, cap, count,
                                        bad_line);
    CHECK(*count <= cap);
    for (size_t i = 0; i < *count; i++) {
        if (deep_check)
            check_peer(&peers[i]);
        for (size_t j = 0; j < i; j++)
            CHECK(!knit_peer_id_equal(&peers[i].id, &peers[j].id));
    }
    if (err == 0) {
        CHECK(*bad_line == 0);
    } else {
        CHECK(err < 0 && *bad_line >= 1);
        const char *line;
        size_t n;
        CHECK(knit_bootstrap_line(text, len, *bad_line, &line, &n) == 0);
        CHECK(line >= text && line + n <= text + len);
        CHECK(memchr(line, '\n', n) == NULL);
        /* A NUL or an over-long line is the line's own fault. */
        if (memchr(line, '\0', n))
            CHECK(err == KNIT_E_MALFORMED);
        else if (n > KNIT_MA_TEXT_MAX - 1)
            CHECK(err == KNIT_E_TOO_BIG);
    }
    return err;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct knit_bootstrap_peer small[SMALL_CAP], large[LARGE_CAP];
    const char *text = (const char *)data;
    size_t n_small, n_large, bad_small, bad_large;
    int e_small = parse(text, size, small, SMALL_CAP, false, &n_small,
                        &bad_small);
    int e_large = parse(text, size, large, LARGE_CAP, true, &n_large,
                        &bad_large);
    /* The same lines are read in the same order until a cap is hit. */
    CHECK(n_small <= n_large);
    for (size_t i = 0; i < n_small; i++)
        CHECK(knit_peer_id_equal(&small[i].id, &large[i].id) &&
              knit_addr_equal(&small[i].addr, &large[i].addr));
    if (e_small == 0)
        CHECK(e_large == 0 && n_small == n_large);
    else if (e_large == 0 || bad_large > bad_small)
        CHECK(e_small == KNIT_E_TOO_BIG && n_small == SMALL_CAP);
    else
        CHECK(e_small == e_large && bad_small == bad_large);

    struct knit_bootstrap_peer p;
    if (knit_bootstrap_parse_one(text, size, &p) == 0)
        check_peer(&p);
    return 0;
}
