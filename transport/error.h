/* Error codes shared by every layer of knit.
 *
 * Functions return 0 or one of these negative codes, so a caller always learns
 * why something failed; knit_strerror() turns a code into a sentence for the
 * user. This sits in the bottom layer because every other layer reports
 * through it. */
#ifndef KNIT_ERROR_H
#define KNIT_ERROR_H

enum knit_error {
    KNIT_OK = 0,
    KNIT_E_INVAL = -1,            /* invalid argument */
    KNIT_E_NOMEM = -2,            /* out of memory */
    KNIT_E_TRUNCATED = -3,        /* input ends before the item does */
    KNIT_E_TOO_BIG = -4,          /* input or item over its size limit */
    KNIT_E_MALFORMED = -5,        /* input does not follow the format */
    KNIT_E_BASE58 = -6,           /* character outside the base58 alphabet */
    KNIT_E_LENGTH = -7,           /* wrong length for this kind of item */
    KNIT_E_PREFIX = -8,           /* wrong type prefix (peer ID, key) */
    KNIT_E_SIGNATURE = -9,        /* signature does not verify */
    KNIT_E_KEY_MISMATCH = -10,    /* peer ID does not match the signing key */
    KNIT_E_NONCANONICAL = -11,    /* valid but not the one canonical encoding */
    KNIT_E_DUPLICATE = -12,       /* a map key appears twice */
    KNIT_E_UNKNOWN_PROTOCOL = -13,/* multiaddr protocol we do not speak */
    KNIT_E_BAD_IP = -14,          /* not an IP address */
    KNIT_E_BAD_PORT = -15,        /* not a port number 0..65535 */
    KNIT_E_TRAILING = -16,        /* bytes left after a complete item */
    KNIT_E_TYPE = -17,            /* value of an unexpected type */
    KNIT_E_MISSING = -18,         /* a required field is absent */
    KNIT_E_NO_SPACE = -19,        /* output buffer too small */
    KNIT_E_AGAIN = -20,           /* need more input before deciding */
    KNIT_E_IO = -21,              /* file or socket operation failed */
    KNIT_E_PERMISSIONS = -22,     /* file is readable by group or others */
    KNIT_E_NOT_FOUND = -23,       /* no such file, peer or item */
    KNIT_E_DEPTH = -24,           /* nesting deeper than allowed */
    KNIT_E_CRYPTO = -25,          /* a cryptographic primitive failed */
    KNIT_E_ADDR_IN_USE = -26,     /* port already taken */
    KNIT_E_UNSUPPORTED = -27,     /* valid but not supported here */
    KNIT_E_SHAPE = -28,           /* components in an order we do not accept */
    KNIT_E_UNKNOWN_FIELD = -29,   /* a message field this schema lacks */
    KNIT_E_EXISTS = -30,          /* would replace an existing file or item */
    KNIT_E_DECRYPT = -31,         /* AEAD authentication failed */
    KNIT_E_FLOW_CONTROL = -32,    /* peer sent past its flow-control limit */
    KNIT_E_FINAL_SIZE = -33,      /* stream final size changed or exceeded */
    KNIT_E_STALE = -34,           /* older than what is already held */
    KNIT_E_LIMIT = -35,           /* a configured limit is reached */
    KNIT_E_TIMEOUT = -36,         /* no answer in time */
    KNIT_E_REFUSED = -37,         /* the peer refused the request */
    KNIT_E_EXPIRED = -38,         /* past its lifetime, or issued in the future */
    KNIT_E_CANCELED = -39,        /* given up: its owner went away */
};
/* The most negative code; a new code goes after it and moves this. */
#define KNIT_E_LOWEST KNIT_E_CANCELED

/* A short English sentence for an error code; never NULL. */
const char *knit_strerror(int err);

#endif
