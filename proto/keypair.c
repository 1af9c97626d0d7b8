#include "proto/keypair.h"

#include <string.h>

#include <sodium.h>

#include "proto/handshake.h"
#include "transport/error.h"

int knit_keypair_from_handshake(struct knit_keypair *kp,
                                struct knit_noise_handshake *hs,
                                bool initiator, uint32_t local_index,
                                uint32_t remote_index, uint64_t now)
{
    struct knit_noise_cipher send, recv;
    int err = knit_noise_split(hs, &send, &recv);
    if (err)
        return err;
    memset(kp, 0, sizeof *kp);
    memcpy(kp->send_key, send.k, sizeof kp->send_key);
    memcpy(kp->recv_key, recv.k, sizeof kp->recv_key);
    sodium_memzero(&send, sizeof send);
    sodium_memzero(&recv, sizeof recv);
    kp->local_index = local_index;
    kp->remote_index = remote_index;
    kp->created = now;
    kp->initiator = initiator;
    kp->confirmed = initiator;
    knit_replay_init(&kp->replay);
    return KNIT_OK;
}

void knit_keypair_wipe(struct knit_keypair *kp)
{
    sodium_memzero(kp, sizeof *kp);
}

static void put_u64le(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_u64le(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

int knit_keypair_seal(struct knit_keypair *kp, uint64_t counter,
                      const uint8_t *plain, size_t len, uint8_t *out,
                      size_t cap, size_t *out_len)
{
    if (cap < len + KNIT_DATA_OVERHEAD)
        return KNIT_E_NO_SPACE;
    out[0] = KNIT_PACKET_DATA;
    out[1] = out[2] = out[3] = 0;
    out[4] = (uint8_t)kp->remote_index;
    out[5] = (uint8_t)(kp->remote_index >> 8);
    out[6] = (uint8_t)(kp->remote_index >> 16);
    out[7] = (uint8_t)(kp->remote_index >> 24);
    put_u64le(out + 8, counter);
    int err = knit_noise_aead_encrypt(kp->send_key, counter, out,
                                      KNIT_DATA_HEADER, plain, len,
                                      out + KNIT_DATA_HEADER);
    if (err)
        return err;
    kp->packets_sent++;
    *out_len = len + KNIT_DATA_OVERHEAD;
    return KNIT_OK;
}

int knit_keypair_open(struct knit_keypair *kp, const uint8_t *pkt, size_t len,
                      uint8_t *plain, size_t cap, size_t *plain_len,
                      uint64_t *counter)
{
    if (len < KNIT_DATA_OVERHEAD)
        return KNIT_E_TRUNCATED;
    if (pkt[0] != KNIT_PACKET_DATA || pkt[1] || pkt[2] || pkt[3])
        return KNIT_E_MALFORMED;
    if (cap < len - KNIT_DATA_OVERHEAD)
        return KNIT_E_NO_SPACE;
    uint64_t n = get_u64le(pkt + 8);
    if (!knit_replay_check(&kp->replay, n))
        return KNIT_E_DUPLICATE;
    int err = knit_noise_aead_decrypt(kp->recv_key, n, pkt, KNIT_DATA_HEADER,
                                      pkt + KNIT_DATA_HEADER,
                                      len - KNIT_DATA_HEADER, plain);
    if (err)
        return err;
    knit_replay_commit(&kp->replay, n);
    kp->confirmed = true;
    *plain_len = len - KNIT_DATA_OVERHEAD;
    *counter = n;
    return KNIT_OK;
}
