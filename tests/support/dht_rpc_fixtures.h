/* Helpers shared by the DHT message tests (test_dht_rpc.c,
 * test_dht_rpc_reject.c): addresses and peers built from a number, a record
 * filler, and an encoder into one frame buffer that checks the frame.
 *
 * Header-only, all static inline: they call dht/ functions, and the support
 * library links knit_proto alone, so they cannot live in a support .c file.
 * Each test file gets its own copy of the buffers below. Include after
 * <cmocka.h>. */
#ifndef KNIT_TEST_DHT_RPC_FIXTURES_H
#define KNIT_TEST_DHT_RPC_FIXTURES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dht/rpc.h"
#include "proto/msg.h"

#define FRAME_MAX (KNIT_MSG_HEADER_LEN + KNIT_DHT_MAX_MESSAGE)

static uint8_t frame[FRAME_MAX];
static uint8_t big_record[KNIT_RECORD_MAX_BYTES + 1];

static inline void set_addr(struct knit_addr *a, bool ipv6, uint8_t n)
{
    uint8_t ip[16];
    memset(ip, 0, sizeof ip);
    if (ipv6) {
        ip[0] = 0x20, ip[1] = 0x01, ip[2] = 0x0d, ip[3] = 0xb8;
        ip[15] = n;
        assert_int_equal(knit_addr_set(a, ip, 16, (uint16_t)(40000 + n)), 0);
    } else {
        ip[0] = 203, ip[1] = 0, ip[2] = 113, ip[3] = n;
        assert_int_equal(knit_addr_set(a, ip, 4, (uint16_t)(4000 + n)), 0);
    }
}

/* Peer i, with naddrs addresses alternating IPv6 and IPv4 (IPv6 first when
 * ipv6_first). */
static inline void set_peer(struct knit_dht_peer_info *p, uint8_t i,
                            uint8_t naddrs, bool ipv6_first)
{
    memset(p, 0, sizeof *p);
    for (size_t k = 0; k < sizeof p->id.pubkey; k++)
        p->id.pubkey[k] = (uint8_t)(i * 7 + k);
    p->addr_count = naddrs;
    for (uint8_t k = 0; k < naddrs; k++)
        set_addr(&p->addrs[k], (k % 2 == 0) == ipv6_first,
                 (uint8_t)(i * KNIT_DHT_MAX_PEER_ADDRS + k + 1));
}

static inline void fill_record(size_t len)
{
    for (size_t k = 0; k < len; k++)
        big_record[k] = (uint8_t)(k * 13 + 5);
}

/* Encodes m into frame, checks the frame and returns the body's length. */
static inline size_t encode(const struct knit_dht_msg *m)
{
    size_t len = 0;
    assert_int_equal(knit_dht_msg_encode(m, frame, sizeof frame, &len), 0);
    struct knit_msg_frame fr;
    assert_int_equal(knit_msg_deframe(frame, len, KNIT_DHT_MAX_MESSAGE, &fr),
                     0);
    assert_int_equal(fr.len, len);
    assert_ptr_equal(fr.body, frame + KNIT_MSG_HEADER_LEN);
    return fr.body_len;
}

#endif
