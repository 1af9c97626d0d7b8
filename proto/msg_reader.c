/* A pull reader over raw msgpack bytes: one header at a time, every read
 * bounded by the end pointer, nothing allocated. The decoder and the type
 * peek are built on it. */
#include "msg_internal.h"

#include "transport/error.h"

static int take_be(struct knit_msg_rd *r, unsigned n, uint64_t *v)
{
    if ((size_t)(r->end - r->p) < n)
        return KNIT_E_TRUNCATED;
    uint64_t x = 0;
    for (unsigned i = 0; i < n; i++)
        x = x << 8 | r->p[i];
    r->p += n;
    *v = x;
    return 0;
}

/* Signed formats are accepted for non-negative values: some packers write
 * every integer of a signed type that way. */
static int read_signed(struct knit_msg_rd *r, unsigned n,
                       struct knit_msg_head *h)
{
    uint64_t raw;
    int err = take_be(r, n, &raw);
    if (err < 0)
        return err;
    uint64_t sign = (uint64_t)1 << (8 * n - 1);
    h->kind = (raw & sign) ? KNIT_MK_NEGINT : KNIT_MK_UINT;
    h->v = raw;
    return 0;
}

static int sized(struct knit_msg_rd *r, uint8_t kind, unsigned n,
                 struct knit_msg_head *h)
{
    h->kind = kind;
    return take_be(r, n, &h->v);
}

static int ext(struct knit_msg_rd *r, unsigned len_bytes, uint64_t fixed,
               struct knit_msg_head *h)
{
    uint64_t type;
    int err = 0;
    h->kind = KNIT_MK_EXT;
    h->v = fixed;
    if (len_bytes)
        err = take_be(r, len_bytes, &h->v);
    if (err == 0)
        err = take_be(r, 1, &type);
    return err;
}

int knit_msg_rd_head(struct knit_msg_rd *r, struct knit_msg_head *h)
{
    if (r->p >= r->end)
        return KNIT_E_TRUNCATED;
    uint8_t b = *r->p++;

    if (b <= 0x7f) {
        h->kind = KNIT_MK_UINT;
        h->v = b;
        return 0;
    }
    if (b >= 0xe0) {
        h->kind = KNIT_MK_NEGINT;
        h->v = b;
        return 0;
    }
    if (b <= 0x8f) {
        h->kind = KNIT_MK_MAP;
        h->v = b & 0x0f;
        return 0;
    }
    if (b <= 0x9f) {
        h->kind = KNIT_MK_ARRAY;
        h->v = b & 0x0f;
        return 0;
    }
    if (b <= 0xbf) {
        h->kind = KNIT_MK_STR;
        h->v = b & 0x1f;
        return 0;
    }
    switch (b) {
    case 0xc0: h->kind = KNIT_MK_NIL; h->v = 0; return 0;
    case 0xc2: h->kind = KNIT_MK_BOOL; h->v = 0; return 0;
    case 0xc3: h->kind = KNIT_MK_BOOL; h->v = 1; return 0;
    case 0xc4: return sized(r, KNIT_MK_BIN, 1, h);
    case 0xc5: return sized(r, KNIT_MK_BIN, 2, h);
    case 0xc6: return sized(r, KNIT_MK_BIN, 4, h);
    case 0xc7: return ext(r, 1, 0, h);
    case 0xc8: return ext(r, 2, 0, h);
    case 0xc9: return ext(r, 4, 0, h);
    case 0xca: h->kind = KNIT_MK_FLOAT; h->v = 4; return 0;
    case 0xcb: h->kind = KNIT_MK_FLOAT; h->v = 8; return 0;
    case 0xcc: return sized(r, KNIT_MK_UINT, 1, h);
    case 0xcd: return sized(r, KNIT_MK_UINT, 2, h);
    case 0xce: return sized(r, KNIT_MK_UINT, 4, h);
    case 0xcf: return sized(r, KNIT_MK_UINT, 8, h);
    case 0xd0: return read_signed(r, 1, h);
    case 0xd1: return read_signed(r, 2, h);
    case 0xd2: return read_signed(r, 4, h);
    case 0xd3: return read_signed(r, 8, h);
    case 0xd4: return ext(r, 0, 1, h);
    case 0xd5: return ext(r, 0, 2, h);
    case 0xd6: return ext(r, 0, 4, h);
    case 0xd7: return ext(r, 0, 8, h);
    case 0xd8: return ext(r, 0, 16, h);
    case 0xd9: return sized(r, KNIT_MK_STR, 1, h);
    case 0xda: return sized(r, KNIT_MK_STR, 2, h);
    case 0xdb: return sized(r, KNIT_MK_STR, 4, h);
    case 0xdc: return sized(r, KNIT_MK_ARRAY, 2, h);
    case 0xdd: return sized(r, KNIT_MK_ARRAY, 4, h);
    case 0xde: return sized(r, KNIT_MK_MAP, 2, h);
    case 0xdf: return sized(r, KNIT_MK_MAP, 4, h);
    }
    return KNIT_E_MALFORMED;   /* 0xc1, which msgpack never uses */
}

int knit_msg_rd_take(struct knit_msg_rd *r, uint64_t n, const uint8_t **p)
{
    if ((uint64_t)(r->end - r->p) < n)
        return KNIT_E_TRUNCATED;
    *p = r->p;
    r->p += n;
    return 0;
}

/* Counts the items still owed instead of recursing. Every item takes at
 * least one byte, so a count above the bytes left is already truncated; that
 * keeps the counter small and the loop linear in the input. */
int knit_msg_rd_skip(struct knit_msg_rd *r)
{
    uint64_t owed = 1;
    while (owed > 0) {
        struct knit_msg_head h;
        const uint8_t *unused;
        int err = knit_msg_rd_head(r, &h);
        if (err < 0)
            return err;
        owed--;
        switch (h.kind) {
        case KNIT_MK_BIN:
        case KNIT_MK_STR:
        case KNIT_MK_FLOAT:
        case KNIT_MK_EXT:
            err = knit_msg_rd_take(r, h.v, &unused);
            if (err < 0)
                return err;
            break;
        case KNIT_MK_ARRAY:
        case KNIT_MK_MAP:
            owed += h.kind == KNIT_MK_MAP ? 2 * h.v : h.v;
            if (owed > (uint64_t)(r->end - r->p))
                return KNIT_E_TRUNCATED;
            break;
        default:
            break;
        }
    }
    return 0;
}

/* RFC 3629: shortest forms only, no surrogates, nothing past U+10FFFF. */
bool knit_msg_utf8_valid(const uint8_t *p, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint8_t c = p[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        uint8_t lo = 0x80, hi = 0xbf;   /* range of the second byte */
        if (c >= 0xc2 && c <= 0xdf) {
            n = 2;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 3;
            if (c == 0xe0)
                lo = 0xa0;
            else if (c == 0xed)
                hi = 0x9f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 4;
            if (c == 0xf0)
                lo = 0x90;
            else if (c == 0xf4)
                hi = 0x8f;
        } else {
            return false;
        }
        if (len - i < n || p[i + 1] < lo || p[i + 1] > hi)
            return false;
        for (size_t k = 2; k < n; k++)
            if ((p[i + k] & 0xc0) != 0x80)
                return false;
        i += n;
    }
    return true;
}
