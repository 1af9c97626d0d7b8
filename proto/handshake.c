#include "proto/handshake.h"

#include <string.h>

#include <sodium.h>

#include "transport/error.h"

static void put_u32le(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t get_u32le(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

int knit_packet_receiver_index(const uint8_t *pkt, size_t len, uint32_t *index)
{
    if (len < 8)
        return KNIT_E_TRUNCATED;
    switch (pkt[0]) {
    case KNIT_PACKET_RESPONSE:
        if (len < KNIT_RESPONSE_HEADER)
            return KNIT_E_TRUNCATED;
        *index = get_u32le(pkt + 8);
        return KNIT_OK;
    case KNIT_PACKET_COOKIE:
    case KNIT_PACKET_DATA:
        *index = get_u32le(pkt + 4);
        return KNIT_OK;
    }
    return KNIT_E_UNSUPPORTED;
}

static void header(uint8_t *out, uint8_t type)
{
    out[0] = type;
    out[1] = out[2] = out[3] = 0;
}

int knit_handshake_initiation(struct knit_noise_handshake *hs,
                              const struct knit_identity *self,
                              const struct knit_peer_id *peer,
                              const uint8_t e_priv[32], uint32_t sender_index,
                              const uint8_t *hello, size_t hello_len,
                              struct knit_cookie_maker *cookies, uint64_t now,
                              uint8_t *out, size_t cap, size_t *out_len)
{
    uint8_t rs[32];
    if (cap < KNIT_INITIATION_HEADER + KNIT_HANDSHAKE_MACS)
        return KNIT_E_NO_SPACE;
    if (crypto_sign_ed25519_pk_to_curve25519(rs, peer->pubkey) != 0)
        return KNIT_E_KEY_MISMATCH;
    return knit_handshake_initiation_to(hs, self, rs, e_priv, sender_index,
                                        hello, hello_len, cookies, now, out,
                                        cap, out_len);
}

int knit_handshake_initiation_to(struct knit_noise_handshake *hs,
                                 const struct knit_identity *self,
                                 const uint8_t rs[32],
                                 const uint8_t e_priv[32],
                                 uint32_t sender_index, const uint8_t *hello,
                                 size_t hello_len,
                                 struct knit_cookie_maker *cookies,
                                 uint64_t now, uint8_t *out, size_t cap,
                                 size_t *out_len)
{
    if (cap < KNIT_INITIATION_HEADER + KNIT_HANDSHAKE_MACS)
        return KNIT_E_NO_SPACE;
    /* The identity carries our X25519 public key: no need to derive it
     * again for every handshake. */
    int err = knit_noise_init_static(hs, KNIT_NOISE_IK, true,
                                     (const uint8_t *)KNIT_PROLOGUE,
                                     strlen(KNIT_PROLOGUE), self->x_secret,
                                     self->x_public, rs, e_priv, NULL);
    if (err)
        return err;
    size_t n;
    err = knit_noise_write(hs, hello, hello_len, out + KNIT_INITIATION_HEADER,
                           cap - KNIT_INITIATION_HEADER - KNIT_HANDSHAKE_MACS,
                           &n);
    if (err) {
        knit_noise_wipe(hs);   /* holds our keys, and is of no use now */
        return err;
    }
    header(out, KNIT_PACKET_INITIATION);
    put_u32le(out + 4, sender_index);
    *out_len = KNIT_INITIATION_HEADER + n + KNIT_HANDSHAKE_MACS;
    knit_cookie_add_macs(cookies, out, *out_len, now);
    return KNIT_OK;
}

int knit_handshake_read_initiation(struct knit_noise_handshake *hs,
                                   const struct knit_identity *self,
                                   const uint8_t e_priv[32],
                                   const uint8_t *pkt, size_t len,
                                   uint32_t *sender_index, uint8_t *hello_out,
                                   size_t hello_cap, size_t *hello_len)
{
    if (len < KNIT_INITIATION_HEADER + KNIT_NOISE_IK_MSG1_OVERHEAD +
                  KNIT_HANDSHAKE_MACS)
        return KNIT_E_TRUNCATED;
    if (pkt[0] != KNIT_PACKET_INITIATION || pkt[1] || pkt[2] || pkt[3])
        return KNIT_E_MALFORMED;
    int err = knit_noise_init_static(hs, KNIT_NOISE_IK, false,
                                     (const uint8_t *)KNIT_PROLOGUE,
                                     strlen(KNIT_PROLOGUE), self->x_secret,
                                     self->x_public, NULL, e_priv, NULL);
    if (err)
        return err;
    err = knit_noise_read(hs, pkt + KNIT_INITIATION_HEADER,
                          len - KNIT_INITIATION_HEADER - KNIT_HANDSHAKE_MACS,
                          hello_out, hello_cap, hello_len);
    if (err) {
        knit_noise_wipe(hs);
        return err;
    }
    *sender_index = get_u32le(pkt + 4);
    return KNIT_OK;
}

int knit_handshake_response(struct knit_noise_handshake *hs,
                            uint32_t sender_index, uint32_t receiver_index,
                            const uint8_t *hello, size_t hello_len,
                            struct knit_cookie_maker *cookies, uint64_t now,
                            uint8_t *out, size_t cap, size_t *out_len)
{
    if (cap < KNIT_RESPONSE_HEADER + KNIT_HANDSHAKE_MACS)
        return KNIT_E_NO_SPACE;
    size_t n;
    int err = knit_noise_write(hs, hello, hello_len,
                               out + KNIT_RESPONSE_HEADER,
                               cap - KNIT_RESPONSE_HEADER - KNIT_HANDSHAKE_MACS,
                               &n);
    if (err)
        return err;
    header(out, KNIT_PACKET_RESPONSE);
    put_u32le(out + 4, sender_index);
    put_u32le(out + 8, receiver_index);
    *out_len = KNIT_RESPONSE_HEADER + n + KNIT_HANDSHAKE_MACS;
    knit_cookie_add_macs(cookies, out, *out_len, now);
    return KNIT_OK;
}

int knit_handshake_read_response(struct knit_noise_handshake *hs,
                                 const uint8_t *pkt, size_t len,
                                 uint32_t *sender_index, uint8_t *hello_out,
                                 size_t hello_cap, size_t *hello_len)
{
    if (len < KNIT_RESPONSE_HEADER + KNIT_NOISE_IK_MSG2_OVERHEAD +
                  KNIT_HANDSHAKE_MACS)
        return KNIT_E_TRUNCATED;
    if (pkt[0] != KNIT_PACKET_RESPONSE || pkt[1] || pkt[2] || pkt[3])
        return KNIT_E_MALFORMED;
    /* Noise state is consumed by a read; a forged response must not spoil
     * the real one that may still come, so read from a copy. */
    struct knit_noise_handshake trial = *hs;
    int err = knit_noise_read(&trial, pkt + KNIT_RESPONSE_HEADER,
                              len - KNIT_RESPONSE_HEADER - KNIT_HANDSHAKE_MACS,
                              hello_out, hello_cap, hello_len);
    if (err) {
        knit_noise_wipe(&trial);
        return err;
    }
    *hs = trial;
    knit_noise_wipe(&trial);
    *sender_index = get_u32le(pkt + 4);
    return KNIT_OK;
}
