/* Signed peer records: what a peer says about itself.
 *
 * A record holds the peer ID, a sequence number (higher wins), the addresses
 * it can be reached at (direct and relayed), its NAT behaviour and the time
 * it was issued. It is encoded as deterministic CBOR (RFC 8949 §4.2.1) and
 * signed with the peer's Ed25519 key (knit_sign: the domain string
 * KNIT_RECORD_DOMAIN, its NUL, then the payload).
 * The DHT stores it under the peer's key; identify carries it.
 *
 * Envelope, a CBOR array of three byte strings:
 *   [ public key (32), payload (the record map), signature (64) ]
 * Record map (unsigned integer keys, canonical order):
 *   1: peer ID bytes (38)      2: seq (uint)       3: issued (uint, unix s)
 *   4: addrs [binary multiaddr byte strings]       5: nat {1: mapping,
 *   2: filtering, 3: reachability} (uints, enums below)
 *
 * Verify accepts only the canonical encoding: any input it accepts
 * re-encodes to the same bytes. */
#ifndef KNIT_RECORD_H
#define KNIT_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "identity.h"
#include "multiaddr.h"
#include "peer_id.h"
#include "record_cache.h"

#define KNIT_RECORD_DOMAIN "knit-peer-record-v1"
#define KNIT_RECORD_MAX_ADDRS 16
/* Envelope size limit; a full record is well under it. */
#define KNIT_RECORD_MAX_BYTES 2048

/* RFC 4787 terms. */
enum knit_nat_mapping {
    KNIT_MAPPING_UNKNOWN = 0,
    KNIT_MAPPING_ENDPOINT_INDEPENDENT = 1,
    KNIT_MAPPING_ADDRESS_DEPENDENT = 2,
    KNIT_MAPPING_ADDRESS_PORT_DEPENDENT = 3,
};
enum knit_nat_filtering {
    KNIT_FILTERING_UNKNOWN = 0,
    KNIT_FILTERING_ENDPOINT_INDEPENDENT = 1,
    KNIT_FILTERING_ADDRESS_DEPENDENT = 2,
    KNIT_FILTERING_ADDRESS_PORT_DEPENDENT = 3,
};
enum knit_reachability {
    KNIT_REACHABILITY_UNKNOWN = 0,
    KNIT_REACHABILITY_PUBLIC = 1,
    KNIT_REACHABILITY_PRIVATE = 2,
};

struct knit_nat_info {
    uint8_t mapping;        /* enum knit_nat_mapping */
    uint8_t filtering;      /* enum knit_nat_filtering */
    uint8_t reachability;   /* enum knit_reachability */
};

struct knit_peer_record {
    struct knit_peer_id peer;
    uint64_t seq;
    uint64_t issued;        /* seconds since the Unix epoch */
    uint8_t addr_count;
    struct knit_multiaddr addrs[KNIT_RECORD_MAX_ADDRS];
    struct knit_nat_info nat;
};

/* Encodes and signs rec with ident (rec->peer must be ident's ID, else
 * KNIT_E_KEY_MISMATCH) into out. */
int knit_record_sign(const struct knit_peer_record *rec,
                     const struct knit_identity *ident, uint8_t *out,
                     size_t cap, size_t *out_len);
/* Checks and decodes an envelope. Errors: KNIT_E_TOO_BIG, KNIT_E_TRUNCATED,
 * KNIT_E_MALFORMED, KNIT_E_TYPE, KNIT_E_NONCANONICAL, KNIT_E_DUPLICATE,
 * KNIT_E_MISSING, KNIT_E_UNKNOWN_FIELD, KNIT_E_SIGNATURE,
 * KNIT_E_KEY_MISMATCH, KNIT_E_TRAILING, KNIT_E_LENGTH (a key or signature
 * of the wrong size), peer ID errors for a bad peer ID and multiaddr errors
 * for a bad address. rec is written only on success. */
int knit_record_verify(struct knit_peer_record *rec, const uint8_t *in,
                       size_t len);
/* The same, with the signature check skipped for envelope bytes cache has
 * seen verify before (proto/record_cache.h), and remembered when they do
 * now. cache NULL: knit_record_verify. */
int knit_record_verify_cached(struct knit_record_cache *cache,
                              struct knit_peer_record *rec,
                              const uint8_t *in, size_t len);

/* Decodes and checks a record payload without its signature; used by
 * knit_record_verify and by fuzzing. Same errors as knit_record_verify
 * except KNIT_E_SIGNATURE and KNIT_E_KEY_MISMATCH. */
int knit_record_decode_payload(struct knit_peer_record *rec,
                               const uint8_t *in, size_t len);
/* The canonical payload of rec, unsigned; used by knit_record_sign and by
 * fuzzing. KNIT_E_INVAL for more than KNIT_RECORD_MAX_ADDRS addresses or a
 * NAT value outside its enum, KNIT_E_NO_SPACE if cap is too small. */
int knit_record_encode_payload(const struct knit_peer_record *rec,
                               uint8_t *out, size_t cap, size_t *out_len);

#endif
