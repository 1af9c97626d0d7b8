/* Helpers shared by the relay message tests (test_relay_msg.c,
 * test_relay_msg_reject.c): peers and relay addresses built from a number,
 * and an encoder into one frame buffer that checks the frame.
 *
 * Header-only, all static inline: they call relay/ functions, and the
 * support library links knit_proto alone. Include after <cmocka.h>. */
#ifndef KNIT_TEST_RELAY_MSG_FIXTURES_H
#define KNIT_TEST_RELAY_MSG_FIXTURES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "proto/msg.h"
#include "proto/multiaddr.h"
#include "relay/relay_msg.h"
#include "transport/error.h"

#define RELAY_FRAME_MAX (KNIT_MSG_HEADER_LEN + KNIT_RELAY_MAX_MESSAGE)

static uint8_t frame[RELAY_FRAME_MAX];

static inline void set_peer_id(struct knit_peer_id *id, uint8_t seed)
{
    for (size_t k = 0; k < sizeof id->pubkey; k++)
        id->pubkey[k] = (uint8_t)(seed * 7 + k);
}

/* A relay endpoint: IPv6 (with /p2p/<peer seed> when named) or IPv4. */
static inline void set_relay_addr(struct knit_multiaddr *ma, bool ipv6,
                                  uint8_t n, bool named)
{
    uint8_t ip[16] = {0};
    struct knit_addr a;
    if (ipv6) {
        ip[0] = 0x20, ip[1] = 0x01, ip[2] = 0x0d, ip[3] = 0xb8;
        memset(ip + 4, 0xff, 11);
        ip[15] = n;
        assert_int_equal(knit_addr_set(&a, ip, 16, 65535), 0);
    } else {
        ip[0] = 203, ip[1] = 0, ip[2] = 113, ip[3] = n;
        assert_int_equal(knit_addr_set(&a, ip, 4, (uint16_t)(4000 + n)), 0);
    }
    struct knit_peer_id id;
    set_peer_id(&id, n);
    assert_int_equal(knit_multiaddr_from_socket(ma, &a, named ? &id : NULL),
                     0);
}

/* Encodes m into frame, checks the frame and returns the body's length. */
static inline size_t encode_frame(const struct knit_relay_msg *m)
{
    size_t len = 0;
    assert_int_equal(knit_relay_msg_encode(m, frame, sizeof frame, &len), 0);
    struct knit_msg_frame fr;
    assert_int_equal(knit_msg_deframe(frame, len, KNIT_RELAY_MAX_MESSAGE, &fr),
                     0);
    assert_int_equal(fr.len, len);
    assert_true(fr.body_len <= KNIT_RELAY_MAX_MESSAGE);
    return fr.body_len;
}

#endif
