/* node/bootstrap_list: one bootstrap multiaddr (the accepted shape and every
 * refusal), merging by peer ID, and whole files: comments, blank lines,
 * whitespace and CRLF, line numbers of errors, NUL bytes, long lines and
 * the cap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "node/bootstrap_list.h"
#include "proto/multiaddr.h"
#include "transport/error.h"

/* The libp2p peer-ID spec vector, and a second peer (key 32 x 0x11). */
#define ID "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq"
#define ID2 "12D3KooWAxzCBFVtEyKLnRm43gHxigCoe2d4UmkRTXhBNSv5bcCx"
#define A1 "/ip4/192.0.2.1/udp/4001/p2p/" ID
#define A2 "/ip6/2001:db8::7/udp/4002/p2p/" ID2
#define A1_OTHER_ADDR "/ip4/198.51.100.9/udp/5000/p2p/" ID

static int one(const char *text, struct knit_bootstrap_peer *p)
{
    return knit_bootstrap_parse_one(text, strlen(text), p);
}

static void expect_one(const char *text, int want)
{
    struct knit_bootstrap_peer p;
    int got = one(text, &p);
    if (got != want) {
        print_error("parse_one(\"%s\") = %d (%s), want %d (%s)\n", text, got,
                    knit_strerror(got), want, knit_strerror(want));
        fail();
    }
}

static struct knit_peer_id peer_id(const char *text)
{
    struct knit_peer_id id;
    assert_int_equal(knit_peer_id_from_text(&id, text, strlen(text)), 0);
    return id;
}

static void test_parse_one_ip4_and_ip6(void **state)
{
    (void)state;
    struct knit_bootstrap_peer p;
    struct knit_peer_id id = peer_id(ID), id2 = peer_id(ID2);
    assert_int_equal(one(A1, &p), 0);
    assert_true(knit_peer_id_equal(&p.id, &id));
    assert_int_equal(p.addr.family, KNIT_AF_IP4);
    assert_memory_equal(p.addr.ip, ((uint8_t[]){192, 0, 2, 1}), 4);
    assert_int_equal(p.addr.port, 4001);

    assert_int_equal(one(A2, &p), 0);
    assert_true(knit_peer_id_equal(&p.id, &id2));
    assert_int_equal(p.addr.family, KNIT_AF_IP6);
    assert_int_equal(p.addr.ip[0], 0x20);
    assert_int_equal(p.addr.ip[1], 0x01);
    assert_int_equal(p.addr.ip[15], 7);
    assert_int_equal(p.addr.port, 4002);
}

static void test_parse_one_uses_len_not_nul(void **state)
{
    (void)state;
    /* The text goes on past len: only len bytes count. */
    const char text[] = A1 "/p2p-circuit";
    struct knit_bootstrap_peer p;
    assert_int_equal(knit_bootstrap_parse_one(text, strlen(A1), &p), 0);
    assert_int_equal(p.addr.port, 4001);
    assert_int_equal(knit_bootstrap_parse_one(text, strlen(text), &p),
                     KNIT_E_SHAPE);
}

static void test_parse_one_refusals(void **state)
{
    (void)state;
    /* Shapes a multiaddr may have but a bootstrap peer may not. */
    expect_one("/ip4/192.0.2.1/udp/4001", KNIT_E_SHAPE);
    expect_one("/p2p/" ID, KNIT_E_SHAPE);
    expect_one("/ip4/192.0.2.1/udp/4001/p2p/" ID2 "/p2p-circuit/p2p/" ID,
               KNIT_E_SHAPE);
    expect_one("/p2p/" ID2 "/p2p-circuit/p2p/" ID, KNIT_E_SHAPE);
    expect_one("/ip4/192.0.2.1/udp/4001/p2p/" ID2 "/p2p-circuit",
               KNIT_E_SHAPE);
    /* Cannot be dialed. */
    expect_one("/ip4/0.0.0.0/udp/4001/p2p/" ID, KNIT_E_BAD_IP);
    expect_one("/ip6/::/udp/4001/p2p/" ID, KNIT_E_BAD_IP);
    expect_one("/ip4/192.0.2.1/udp/0/p2p/" ID, KNIT_E_BAD_PORT);
    /* The multiaddr's own errors come through. */
    expect_one("/ip4/192.0.2.1/udp/70000/p2p/" ID, KNIT_E_BAD_PORT);
    expect_one("/ip4/192.0.2.999/udp/1/p2p/" ID, KNIT_E_BAD_IP);
    expect_one("/ip4/192.0.2.1/udp/1/p2p/12D3KooW0", KNIT_E_BASE58);
    expect_one("/ip4/192.0.2.1/tcp/1/p2p/" ID, KNIT_E_UNKNOWN_PROTOCOL);
    expect_one(ID, KNIT_E_MALFORMED);
    expect_one("", KNIT_E_MALFORMED);
    expect_one(" " A1, KNIT_E_MALFORMED);
    expect_one(A1 "/", KNIT_E_TRAILING);
}

static void test_add_merges_by_peer_id(void **state)
{
    (void)state;
    struct knit_bootstrap_peer peers[2], a, b, a_again;
    size_t count = 0;
    assert_int_equal(one(A1, &a), 0);
    assert_int_equal(one(A2, &b), 0);
    assert_int_equal(one(A1_OTHER_ADDR, &a_again), 0);
    assert_int_equal(knit_bootstrap_add(peers, 2, &count, &a), 0);
    assert_int_equal(knit_bootstrap_add(peers, 2, &count, &a_again), 0);
    assert_int_equal(count, 1);
    /* The first address given for a peer stays. */
    assert_true(knit_addr_equal(&peers[0].addr, &a.addr));
    assert_int_equal(knit_bootstrap_add(peers, 2, &count, &b), 0);
    assert_int_equal(count, 2);
    /* Full: a known peer still merges, a new one does not fit. */
    assert_int_equal(knit_bootstrap_add(peers, 2, &count, &a_again), 0);
    struct knit_bootstrap_peer c = a;
    c.id.pubkey[0] ^= 1;
    assert_int_equal(knit_bootstrap_add(peers, 2, &count, &c),
                     KNIT_E_TOO_BIG);
    assert_int_equal(count, 2);
}

static int text(const char *t, struct knit_bootstrap_peer *peers, size_t cap,
                size_t *count, size_t *bad_line)
{
    return knit_bootstrap_parse_text(t, strlen(t), peers, cap, count,
                                     bad_line);
}

static void test_text_comments_blanks_whitespace(void **state)
{
    (void)state;
    struct knit_bootstrap_peer peers[8];
    size_t count = 0, bad = 99;
    const char *file =
        "# bootstrap peers of the lab\n"
        "\n"
        "   \t\n"
        "  " A1 "  \r\n"
        "\t# " A2 " is commented out\r\n"
        A1_OTHER_ADDR "\n"          /* same peer: merged */
        "\t" A2;                    /* no final newline */
    assert_int_equal(text(file, peers, 8, &count, &bad), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(count, 2);
    struct knit_bootstrap_peer a1, a2;
    assert_int_equal(one(A1, &a1), 0);
    assert_int_equal(one(A2, &a2), 0);
    assert_true(knit_peer_id_equal(&peers[0].id, &a1.id));
    assert_true(knit_addr_equal(&peers[0].addr, &a1.addr));
    assert_true(knit_peer_id_equal(&peers[1].id, &a2.id));
    assert_true(knit_addr_equal(&peers[1].addr, &a2.addr));
}

static void test_text_empty_and_appends(void **state)
{
    (void)state;
    struct knit_bootstrap_peer peers[4];
    size_t count = 0, bad = 99;
    assert_int_equal(knit_bootstrap_parse_text(NULL, 0, peers, 4, &count,
                                               &bad), 0);
    assert_int_equal(count, 0);
    assert_int_equal(bad, 0);
    assert_int_equal(text("\n\n# nothing\n", peers, 4, &count, &bad), 0);
    assert_int_equal(count, 0);
    /* What the caller held already (say, from --bootstrap) merges too. */
    assert_int_equal(one(A2, &peers[0]), 0);
    count = 1;
    assert_int_equal(text(A1 "\n" A2 "\n", peers, 4, &count, &bad), 0);
    assert_int_equal(count, 2);
}

static void expect_text_error(const char *t, size_t len, size_t cap,
                              int want, size_t want_line, size_t want_count)
{
    struct knit_bootstrap_peer peers[4];
    size_t count = 0, bad = 0;
    int got = knit_bootstrap_parse_text(t, len, peers, cap, &count, &bad);
    if (got != want || bad != want_line || count != want_count) {
        print_error("parse_text = %d (%s) at line %zu with %zu peers, want "
                    "%d (%s) at line %zu with %zu\n", got, knit_strerror(got),
                    bad, count, want, knit_strerror(want), want_line,
                    want_count);
        fail();
    }
}

static void test_text_errors_name_the_line(void **state)
{
    (void)state;
    const char *t1 = "# ok\n" A1 "\n\n/ip4/192.0.2.1/udp/4001\n" A2 "\n";
    expect_text_error(t1, strlen(t1), 4, KNIT_E_SHAPE, 4, 1);
    const char *t2 = A1 "\r\n" "nonsense\r\n";
    expect_text_error(t2, strlen(t2), 4, KNIT_E_MALFORMED, 2, 1);
    /* An inline comment is not part of the format. */
    const char *t3 = A1 " # home\n";
    expect_text_error(t3, strlen(t3), 4, KNIT_E_BASE58, 1, 0);
    /* Past the cap, at the line of the first peer that does not fit; a
     * duplicate there is fine. */
    const char *t4 = A1 "\n" A1_OTHER_ADDR "\n" A2 "\n";
    expect_text_error(t4, strlen(t4), 1, KNIT_E_TOO_BIG, 3, 1);
}

static void test_text_nul_byte(void **state)
{
    (void)state;
    /* Even in a comment, and the line is the NUL's. */
    const char t[] = A1 "\n# a\0b\n" A2 "\n";
    expect_text_error(t, sizeof t - 1, 4, KNIT_E_MALFORMED, 2, 1);
    const char t2[] = "\0";
    expect_text_error(t2, 1, 4, KNIT_E_MALFORMED, 1, 0);
}

static void test_text_long_lines(void **state)
{
    (void)state;
    char buf[1024];
    /* A comment of exactly KNIT_MA_TEXT_MAX - 1 bytes is fine ... */
    memset(buf, ' ', sizeof buf);
    buf[0] = '#';
    buf[KNIT_MA_TEXT_MAX - 1] = '\n';
    memcpy(buf + KNIT_MA_TEXT_MAX, A1, strlen(A1));
    size_t len = KNIT_MA_TEXT_MAX + strlen(A1);
    struct knit_bootstrap_peer peers[4];
    size_t count = 0, bad = 0;
    assert_int_equal(knit_bootstrap_parse_text(buf, len, peers, 4, &count,
                                               &bad), 0);
    assert_int_equal(count, 1);
    /* ... and one byte more is not, even of whitespace. */
    memmove(buf + 1, buf, len);
    buf[0] = ' ';
    expect_text_error(buf, len + 1, 4, KNIT_E_TOO_BIG, 1, 0);
    /* A '\r' counts: the limit is on the raw line. */
    memset(buf, ' ', sizeof buf);
    memcpy(buf, A1, strlen(A1));
    buf[KNIT_MA_TEXT_MAX - 1] = '\r';
    buf[KNIT_MA_TEXT_MAX] = '\n';
    expect_text_error(buf, KNIT_MA_TEXT_MAX + 1, 4, KNIT_E_TOO_BIG, 1, 0);
    /* Without a newline at all. */
    memset(buf, '#', sizeof buf);
    expect_text_error(buf, sizeof buf, 4, KNIT_E_TOO_BIG, 1, 0);
}

static void test_line_helper(void **state)
{
    (void)state;
    const char *t = "one\r\n\ntwo words\nlast";
    const char *line;
    size_t n;
    assert_int_equal(knit_bootstrap_line(t, strlen(t), 1, &line, &n), 0);
    assert_int_equal(n, 4);
    assert_memory_equal(line, "one\r", 4);
    assert_int_equal(knit_bootstrap_line(t, strlen(t), 2, &line, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(knit_bootstrap_line(t, strlen(t), 3, &line, &n), 0);
    assert_int_equal(n, 9);
    assert_int_equal(knit_bootstrap_line(t, strlen(t), 4, &line, &n), 0);
    assert_int_equal(n, 4);
    assert_memory_equal(line, "last", 4);
    assert_int_equal(knit_bootstrap_line(t, strlen(t), 5, &line, &n),
                     KNIT_E_NOT_FOUND);
    assert_int_equal(knit_bootstrap_line(t, strlen(t), 0, &line, &n),
                     KNIT_E_NOT_FOUND);
    assert_int_equal(knit_bootstrap_line("a\n", 2, 2, &line, &n),
                     KNIT_E_NOT_FOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_one_ip4_and_ip6),
        cmocka_unit_test(test_parse_one_uses_len_not_nul),
        cmocka_unit_test(test_parse_one_refusals),
        cmocka_unit_test(test_add_merges_by_peer_id),
        cmocka_unit_test(test_text_comments_blanks_whitespace),
        cmocka_unit_test(test_text_empty_and_appends),
        cmocka_unit_test(test_text_errors_name_the_line),
        cmocka_unit_test(test_text_nul_byte),
        cmocka_unit_test(test_text_long_lines),
        cmocka_unit_test(test_line_helper),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
