/* Helpers shared by the frame codec tests (test_frame.c,
 * test_frame_reject.c): a STREAM payload both files encode, and a decode
 * that keeps only the return code.
 *
 * Header-only, all static inline, like the other fixtures of the tests that
 * link knit_core. Include after <cmocka.h>. */
#ifndef KNIT_TEST_FRAME_FIXTURES_H
#define KNIT_TEST_FRAME_FIXTURES_H

#include <stddef.h>
#include <stdint.h>

#include "proto/frame.h"

static const uint8_t payload[] = "stream bytes for the round trip";

/* For inputs where only the verdict matters, not the frame. */
static inline int decode_bytes(const uint8_t *p, size_t len)
{
    struct knit_frame f;
    size_t used;
    return knit_frame_decode(p, len, &f, &used);
}

#endif
