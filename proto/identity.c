#include "identity.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "transport/error.h"

/* Handshake and record payloads fit here, so the common case never touches
 * the heap; longer messages are copied into a malloc'd buffer. */
#define SMALL_MSG 512

int knit_identity_from_seed(struct knit_identity *ident,
                            const uint8_t seed[KNIT_SEED_LEN])
{
    if (!ident || !seed)
        return KNIT_E_INVAL;
    /* The program should have called it already; calling again costs nothing
     * and makes a forgotten call a non-issue rather than a latent bug. */
    if (sodium_init() < 0)
        return KNIT_E_CRYPTO;

    struct knit_identity tmp;
    if (crypto_sign_seed_keypair(tmp.id.pubkey, tmp.ed_secret, seed) != 0 ||
        crypto_sign_ed25519_pk_to_curve25519(tmp.x_public, tmp.id.pubkey) != 0 ||
        crypto_sign_ed25519_sk_to_curve25519(tmp.x_secret, tmp.ed_secret) != 0) {
        sodium_memzero(&tmp, sizeof tmp);
        return KNIT_E_CRYPTO;
    }
    memcpy(ident, &tmp, sizeof tmp);
    sodium_memzero(&tmp, sizeof tmp);
    return 0;
}

void knit_identity_wipe(struct knit_identity *ident)
{
    if (ident)
        sodium_memzero(ident, sizeof *ident);
}

/* Points *out at domain || NUL || msg, in small when it fits. The caller frees *out
 * when it is not small. */
static int concat(const char *domain, const uint8_t *msg, size_t len,
                  uint8_t *small, size_t small_cap, uint8_t **out,
                  size_t *out_len)
{
    /* The domain's NUL is signed too: it ends the domain unambiguously, so
     * no domain can be a prefix of another plus message bytes. */
    size_t dlen = strlen(domain) + 1;
    if (len > SIZE_MAX - dlen)
        return KNIT_E_TOO_BIG;
    size_t total = dlen + len;
    uint8_t *buf = small;
    if (total > small_cap) {
        buf = malloc(total);
        if (!buf)
            return KNIT_E_NOMEM;
    }
    memcpy(buf, domain, dlen);
    if (len)
        memcpy(buf + dlen, msg, len);
    *out = buf;
    *out_len = total;
    return 0;
}

int knit_sign(const struct knit_identity *ident, const char *domain,
              const uint8_t *msg, size_t len,
              uint8_t sig[KNIT_SIGNATURE_LEN])
{
    if (!ident || !domain || (!msg && len) || !sig)
        return KNIT_E_INVAL;
    /* The buffer holds only public data (domain and message), so it needs no
     * wiping; the secret key is used in place and never copied. */
    uint8_t small[SMALL_MSG];
    uint8_t *buf;
    size_t n;
    int err = concat(domain, msg, len, small, sizeof small, &buf, &n);
    if (err < 0)
        return err;
    if (crypto_sign_detached(sig, NULL, buf, n, ident->ed_secret) != 0)
        err = KNIT_E_CRYPTO;
    if (buf != small)
        free(buf);
    return err;
}

int knit_verify(const struct knit_peer_id *signer, const char *domain,
                const uint8_t *msg, size_t len,
                const uint8_t sig[KNIT_SIGNATURE_LEN])
{
    if (!signer || !domain || (!msg && len) || !sig)
        return KNIT_E_INVAL;
    uint8_t small[SMALL_MSG];
    uint8_t *buf;
    size_t n;
    int err = concat(domain, msg, len, small, sizeof small, &buf, &n);
    if (err < 0)
        return err;
    if (crypto_sign_verify_detached(sig, buf, n, signer->pubkey) != 0)
        err = KNIT_E_SIGNATURE;
    if (buf != small)
        free(buf);
    return err;
}
