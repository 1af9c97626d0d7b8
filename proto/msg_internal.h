/* Shared by the msg_*.c files only: the pull reader over raw msgpack bytes
 * and the UTF-8 check the writer and the decoder both apply. Not for use
 * outside proto/msg_*.c. */
#ifndef KNIT_MSG_INTERNAL_H
#define KNIT_MSG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum knit_msg_kind {
    KNIT_MK_UINT,       /* any integer format holding a value >= 0 */
    KNIT_MK_NEGINT,
    KNIT_MK_NIL,
    KNIT_MK_BOOL,
    KNIT_MK_FLOAT,      /* v = payload bytes */
    KNIT_MK_BIN,        /* v = length */
    KNIT_MK_STR,        /* v = length */
    KNIT_MK_ARRAY,      /* v = element count */
    KNIT_MK_MAP,        /* v = entry count */
    KNIT_MK_EXT,        /* v = payload bytes (type byte already read) */
};

struct knit_msg_rd {
    const uint8_t *p;
    const uint8_t *end;
};

struct knit_msg_head {
    uint8_t kind;       /* enum knit_msg_kind */
    uint64_t v;         /* value (UINT, BOOL), length or count */
};

/* Reads one item's header and nothing of its payload, so the caller can
 * check a declared length against its limits before the bytes are there.
 * KNIT_E_TRUNCATED or KNIT_E_MALFORMED (0xc1). */
int knit_msg_rd_head(struct knit_msg_rd *r, struct knit_msg_head *h);
/* Takes n payload bytes; KNIT_E_TRUNCATED if fewer remain. */
int knit_msg_rd_take(struct knit_msg_rd *r, uint64_t n, const uint8_t **p);
/* Skips one whole item of any kind, containers included, without recursion. */
int knit_msg_rd_skip(struct knit_msg_rd *r);

bool knit_msg_utf8_valid(const uint8_t *p, size_t len);

#endif
