/* The shared fixture and payload builder of the peer record tests
 * (test_record.c, test_record_reject.c).
 *
 * Bad payloads are built by hand, with libcbor's encoders or as raw bytes,
 * and signed for real, so each one gets past the signature and fails for the
 * reason under test. */
#ifndef KNIT_TEST_RECORD_BUILDER_H
#define KNIT_TEST_RECORD_BUILDER_H

#include <stddef.h>
#include <stdint.h>

#include "proto/record.h"

/* Three identities, and a record of self's with one address of every
 * accepted shape (relay is the relay of the circuit ones) signed into env. */
struct knit_test_record_fixture {
    struct knit_identity self, relay, other;
    struct knit_peer_record rec;
    uint8_t env[KNIT_RECORD_MAX_BYTES];
    size_t env_len;
};

/* cmocka group setup and teardown; *state is the fixture. */
int knit_test_record_setup(void **state);
int knit_test_record_teardown(void **state);

/* CBOR written piece by piece; running out of room fails the test. */
struct knit_test_cbor {
    uint8_t b[4096];
    size_t n;
};

void knit_test_cbor_uint(struct knit_test_cbor *b, uint64_t v);
void knit_test_cbor_map(struct knit_test_cbor *b, size_t n);
void knit_test_cbor_array(struct knit_test_cbor *b, size_t n);
void knit_test_cbor_bytes(struct knit_test_cbor *b, const void *p, size_t n);
void knit_test_cbor_raw(struct knit_test_cbor *b, const void *p, size_t n);
/* Counts the n bytes a libcbor encoder wrote at b->b + b->n; 0 (the
 * encoder's "no room") fails the test. */
void knit_test_cbor_done(struct knit_test_cbor *b, size_t n);

/* The NAT entry (key 5) with any three values, keys in canonical order. */
void knit_test_record_nat(struct knit_test_cbor *b, uint64_t mapping,
                          uint64_t filtering, uint64_t reachability);

/* Rewrites b as the payload spelled by head and fields: head as raw bytes
 * (a C string, e.g. "\xa5" for a map of five entries), then for each
 * character of fields either the canonical entry (key and value) of that
 * field of rec, '1'..'5', or the raw bytes mid, '*'. */
void knit_test_record_payload(struct knit_test_cbor *b,
                              const struct knit_peer_record *rec,
                              const char *head, const char *fields,
                              const void *mid, size_t mid_len);

/* Rewrites env as a correctly signed envelope around any payload bytes. */
void knit_test_record_envelope(struct knit_test_cbor *env,
                               const struct knit_identity *signer,
                               const void *payload, size_t len);

/* Signs payload with f->self; knit_record_verify of the envelope and
 * knit_record_decode_payload of the payload must both give err. */
void knit_test_record_expect(const struct knit_test_record_fixture *f,
                             const struct knit_test_cbor *payload, int err);

#endif
