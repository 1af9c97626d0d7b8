/* The test protocol shared by the message layer tests (test_msg.c,
 * test_msg_writer.c, test_msg_frame.c): its schema, one full message that
 * uses every field type, and a byte comparison. */
#ifndef KNIT_TEST_MSG_FIXTURES_H
#define KNIT_TEST_MSG_FIXTURES_H

#include <stddef.h>
#include <stdint.h>

#include "proto/msg.h"

enum { KNIT_TEST_MSG_TYPE = 7 };

/* Shaped like the real protocols: scalars, byte strings, lists, a nested
 * map (key 8), and a list of peers (key 9) each with addresses and a nested
 * leaf map of its own (four containers deep). */
extern const struct knit_msg_schema knit_test_msg_schema;
extern const struct knit_msg_schema knit_test_msg_leaf_schema;

/* The IDs of the two peers in the full message. */
extern const uint8_t knit_test_msg_id_a[32], knit_test_msg_id_b[32];

/* Writes the full test message into buf; returns knit_msg_end()'s result. */
int knit_test_msg_write_full(uint8_t *buf, size_t cap, size_t *frame_len);

/* Fails the test unless p..p+len holds exactly want..want+want_len. */
void knit_test_expect_bytes(const uint8_t *p, size_t len, const void *want,
                            size_t want_len);

/* Fails the test unless BIN or STR field key of m holds exactly want. */
void knit_test_msg_expect_field(const struct knit_msg *m, unsigned key,
                                const void *want, size_t want_len);

#endif
