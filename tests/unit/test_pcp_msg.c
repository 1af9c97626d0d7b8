/* PCP MAP codec (node/pcp_msg.h): a request byte for byte against the
 * RFC 6887 layout written out by hand, IPv4 and IPv6 clients, the encoder's
 * refusals; responses decoded from hand-written bytes (success, error with
 * and without payload, options), every refusal (truncation at each length,
 * oversize, odd length, a request, another opcode, a NAT-PMP answer),
 * encode/decode round trips and the request/response match. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "node/pcp_msg.h"
#include "transport/error.h"

static const uint8_t nonce[KNIT_PCP_NONCE_LEN] = {1, 2, 3, 4,  5,  6,
                                                  7, 8, 9, 10, 11, 12};

static struct knit_addr v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d,
                           uint16_t port)
{
    struct knit_addr addr;
    const uint8_t ip[4] = {a, b, c, d};
    knit_addr_set(&addr, ip, 4, port);
    return addr;
}

static struct knit_addr v6(uint8_t last, uint16_t port)
{
    struct knit_addr addr;
    uint8_t ip[16] = {0x20, 0x01, 0x0d, 0xb8};
    ip[15] = last;
    knit_addr_set(&addr, ip, 16, port);
    return addr;
}

static struct knit_pcp_map_request request(void)
{
    struct knit_pcp_map_request req;
    memset(&req, 0, sizeof req);
    req.lifetime_s = 7200;
    req.client = v4(10, 1, 1, 2, 0);
    memcpy(req.nonce, nonce, sizeof nonce);
    req.protocol = KNIT_PCP_PROTO_UDP;
    req.internal_port = 4001;
    req.suggested.port = 4001;
    return req;
}

/* A success response for request(): 203.0.113.1:4001 for 3600 s. */
static size_t success_bytes(uint8_t out[KNIT_PCP_MAP_LEN])
{
    static const uint8_t bytes[KNIT_PCP_MAP_LEN] = {
        2, 0x81, 0, 0,                      /* version, R|MAP, -, SUCCESS */
        0, 0, 0x0e, 0x10,                   /* lifetime 3600 */
        0, 0, 0, 42,                        /* epoch 42 */
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* reserved */
        1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
        17, 0, 0, 0,                        /* UDP, reserved */
        0x0f, 0xa1, 0x0f, 0xa1,             /* internal 4001, external 4001 */
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 203, 0, 113, 1,
    };
    memcpy(out, bytes, sizeof bytes);
    return sizeof bytes;
}

static void request_layout(void **state)
{
    (void)state;
    static const uint8_t want[KNIT_PCP_MAP_LEN] = {
        2, 1, 0, 0,                           /* version, MAP request */
        0, 0, 0x1c, 0x20,                     /* lifetime 7200 */
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 1, 2,
        1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
        17, 0, 0, 0,
        0x0f, 0xa1, 0x0f, 0xa1,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0,
    };
    struct knit_pcp_map_request req = request();
    uint8_t out[KNIT_PCP_MAP_LEN + 8];
    size_t len = 0;
    assert_int_equal(knit_pcp_map_request_encode(&req, out, sizeof out, &len),
                     KNIT_OK);
    assert_int_equal(len, KNIT_PCP_MAP_LEN);
    assert_memory_equal(out, want, sizeof want);
}

static void request_suggested_and_ipv6(void **state)
{
    (void)state;
    struct knit_pcp_map_request req = request();
    req.suggested = v4(203, 0, 113, 1, 5000);
    uint8_t out[KNIT_PCP_MAP_LEN];
    size_t len = 0;
    assert_int_equal(knit_pcp_map_request_encode(&req, out, sizeof out, &len),
                     KNIT_OK);
    const uint8_t ext[18] = {0x13, 0x88, 0, 0, 0, 0, 0, 0, 0,
                             0,    0,    0, 0xff, 0xff, 203, 0, 113, 1};
    assert_memory_equal(out + 42, ext, sizeof ext);

    req.client = v6(2, 0);
    req.suggested = (struct knit_addr){0};
    assert_int_equal(knit_pcp_map_request_encode(&req, out, sizeof out, &len),
                     KNIT_OK);
    assert_int_equal(out[8], 0x20);
    assert_int_equal(out[23], 2);
    static const uint8_t zero16[16];
    assert_memory_equal(out + 44, zero16, 16); /* "any IPv6" is :: */
}

static void request_refusals(void **state)
{
    (void)state;
    uint8_t out[KNIT_PCP_MAP_LEN];
    size_t len = 0;
    struct knit_pcp_map_request req = request();
    assert_int_equal(knit_pcp_map_request_encode(&req, out, 59, &len),
                     KNIT_E_NO_SPACE);
    assert_int_equal(knit_pcp_map_request_encode(NULL, out, 60, &len),
                     KNIT_E_INVAL);
    req.protocol = 0;
    assert_int_equal(knit_pcp_map_request_encode(&req, out, 60, &len),
                     KNIT_E_INVAL);
    req = request();
    req.internal_port = 0;
    assert_int_equal(knit_pcp_map_request_encode(&req, out, 60, &len),
                     KNIT_E_INVAL);
    req = request();
    req.client.family = 0;
    assert_int_equal(knit_pcp_map_request_encode(&req, out, 60, &len),
                     KNIT_E_INVAL);
    req = request();
    req.suggested = v6(1, 4001); /* IPv6 suggestion for an IPv4 client */
    assert_int_equal(knit_pcp_map_request_encode(&req, out, 60, &len),
                     KNIT_E_INVAL);
}

static void response_success(void **state)
{
    (void)state;
    uint8_t pkt[KNIT_PCP_MAP_LEN];
    size_t n = success_bytes(pkt);
    struct knit_pcp_map_response resp;
    assert_int_equal(knit_pcp_map_response_decode(pkt, n, &resp), KNIT_OK);
    assert_int_equal(resp.result, KNIT_PCP_SUCCESS);
    assert_int_equal(resp.lifetime_s, 3600);
    assert_int_equal(resp.epoch_s, 42);
    assert_true(resp.has_map);
    assert_int_equal(resp.protocol, 17);
    assert_int_equal(resp.internal_port, 4001);
    struct knit_addr want = v4(203, 0, 113, 1, 4001);
    assert_true(knit_addr_equal(&resp.external, &want));

    struct knit_pcp_map_request req = request();
    assert_true(knit_pcp_map_response_matches(&req, &resp));
    req.nonce[11] ^= 1;
    assert_false(knit_pcp_map_response_matches(&req, &resp));
    req = request();
    req.internal_port = 4002;
    assert_false(knit_pcp_map_response_matches(&req, &resp));
    req = request();
    req.protocol = 6;
    assert_false(knit_pcp_map_response_matches(&req, &resp));
}

static void response_errors(void **state)
{
    (void)state;
    uint8_t pkt[KNIT_PCP_MAP_LEN];
    size_t n = success_bytes(pkt);
    struct knit_pcp_map_response resp;
    pkt[3] = KNIT_PCP_NOT_AUTHORIZED;
    pkt[4] = pkt[5] = pkt[6] = 0;
    pkt[7] = 30;
    assert_int_equal(knit_pcp_map_response_decode(pkt, n, &resp), KNIT_OK);
    assert_int_equal(resp.result, KNIT_PCP_NOT_AUTHORIZED);
    assert_int_equal(resp.lifetime_s, 30);
    assert_true(resp.has_map);
    assert_string_equal(knit_pcp_result_name(resp.result), "NOT_AUTHORIZED");
    assert_string_equal(knit_pcp_result_name(13), "EXCESSIVE_REMOTE_PEERS");
    assert_string_equal(knit_pcp_result_name(14), "UNKNOWN");

    /* An error may come as the header alone; it matches no request. */
    pkt[3] = KNIT_PCP_MALFORMED_REQUEST;
    assert_int_equal(knit_pcp_map_response_decode(pkt, 24, &resp), KNIT_OK);
    assert_int_equal(resp.result, KNIT_PCP_MALFORMED_REQUEST);
    assert_false(resp.has_map);
    struct knit_pcp_map_request req = request();
    assert_false(knit_pcp_map_response_matches(&req, &resp));
}

static void response_options(void **state)
{
    (void)state;
    uint8_t pkt[KNIT_PCP_MAP_LEN + 16];
    success_bytes(pkt);
    /* A THIRD_PARTY-like option (code 1) of 5 bytes padded to 8, then one
     * with no data: both framed correctly, both skipped. */
    const uint8_t opts[16] = {1, 0, 0, 5, 9, 9, 9, 9, 9, 0, 0, 0,
                              130, 0, 0, 0};
    memcpy(pkt + KNIT_PCP_MAP_LEN, opts, sizeof opts);
    struct knit_pcp_map_response resp;
    assert_int_equal(knit_pcp_map_response_decode(pkt, sizeof pkt, &resp),
                     KNIT_OK);
    assert_int_equal(resp.external.port, 4001);
    /* A length that runs past the end. */
    pkt[KNIT_PCP_MAP_LEN + 3] = 13;
    assert_int_equal(knit_pcp_map_response_decode(pkt, sizeof pkt, &resp),
                     KNIT_E_TRUNCATED);
    assert_int_equal(resp.lifetime_s, 0); /* cleared on refusal */
    /* An option header cut short. */
    pkt[KNIT_PCP_MAP_LEN + 3] = 5;
    assert_int_equal(knit_pcp_map_response_decode(pkt, KNIT_PCP_MAP_LEN + 4,
                                                  &resp),
                     KNIT_E_TRUNCATED);
}

static void response_refusals(void **state)
{
    (void)state;
    uint8_t pkt[KNIT_PCP_MAX_LEN + 4];
    memset(pkt, 0, sizeof pkt);
    size_t n = success_bytes(pkt);
    struct knit_pcp_map_response resp;
    /* Every cut of a success response is refused. */
    for (size_t cut = 0; cut < n; cut++) {
        int err = knit_pcp_map_response_decode(pkt, cut, &resp);
        assert_true(err == KNIT_E_TRUNCATED || err == KNIT_E_MALFORMED);
        assert_int_equal(resp.lifetime_s, 0);
    }
    assert_int_equal(knit_pcp_map_response_decode(pkt, KNIT_PCP_MAX_LEN + 4,
                                                  &resp),
                     KNIT_E_TOO_BIG);
    assert_int_equal(knit_pcp_map_response_decode(NULL, n, &resp),
                     KNIT_E_INVAL);

    pkt[1] = KNIT_PCP_OPCODE_MAP; /* R bit clear: a request */
    assert_int_equal(knit_pcp_map_response_decode(pkt, n, &resp),
                     KNIT_E_MALFORMED);
    pkt[1] = 0x82; /* PEER */
    assert_int_equal(knit_pcp_map_response_decode(pkt, n, &resp),
                     KNIT_E_TYPE);
    pkt[1] = 0x81;
    pkt[42] = pkt[43] = 0; /* a lifetime granted on port 0 */
    assert_int_equal(knit_pcp_map_response_decode(pkt, n, &resp),
                     KNIT_E_MALFORMED);
    pkt[4] = pkt[5] = pkt[6] = pkt[7] = 0; /* ...unless it is a deletion */
    assert_int_equal(knit_pcp_map_response_decode(pkt, n, &resp), KNIT_OK);

    /* A NAT-PMP gateway: version 0, opcode 128 + 1, "unsupported
     * version", epoch. */
    const uint8_t natpmp[8] = {0, 0x81, 0, 1, 0, 0, 0, 9};
    assert_int_equal(knit_pcp_map_response_decode(natpmp, sizeof natpmp,
                                                  &resp),
                     KNIT_E_UNSUPPORTED);
    const uint8_t v1[1] = {1};
    assert_int_equal(knit_pcp_map_response_decode(v1, 1, &resp),
                     KNIT_E_UNSUPPORTED);
}

static void response_round_trip(void **state)
{
    (void)state;
    struct knit_pcp_map_response a, b;
    memset(&a, 0, sizeof a);
    a.result = KNIT_PCP_SUCCESS;
    a.lifetime_s = 120;
    a.epoch_s = 77;
    a.has_map = true;
    memcpy(a.nonce, nonce, sizeof nonce);
    a.protocol = 17;
    a.internal_port = 4001;
    a.external = v6(9, 40000);
    uint8_t pkt[KNIT_PCP_MAP_LEN];
    size_t len = 0;
    assert_int_equal(knit_pcp_map_response_encode(&a, pkt, sizeof pkt, &len),
                     KNIT_OK);
    assert_int_equal(len, KNIT_PCP_MAP_LEN);
    assert_int_equal(knit_pcp_map_response_decode(pkt, len, &b), KNIT_OK);
    assert_memory_equal(&a, &b, sizeof a);

    a.has_map = false;
    a.result = KNIT_PCP_NO_RESOURCES;
    memset(a.nonce, 0, sizeof a.nonce);
    a.protocol = 0;
    a.internal_port = 0;
    memset(&a.external, 0, sizeof a.external);
    assert_int_equal(knit_pcp_map_response_encode(&a, pkt, sizeof pkt, &len),
                     KNIT_OK);
    assert_int_equal(len, KNIT_PCP_HEADER_LEN);
    assert_int_equal(knit_pcp_map_response_decode(pkt, len, &b), KNIT_OK);
    assert_memory_equal(&a, &b, sizeof a);
    assert_int_equal(knit_pcp_map_response_encode(&a, pkt, 23, &len),
                     KNIT_E_NO_SPACE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(request_layout),
        cmocka_unit_test(request_suggested_and_ipv6),
        cmocka_unit_test(request_refusals),
        cmocka_unit_test(response_success),
        cmocka_unit_test(response_errors),
        cmocka_unit_test(response_options),
        cmocka_unit_test(response_refusals),
        cmocka_unit_test(response_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
