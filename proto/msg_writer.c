/* Writes one framed message into a caller's buffer with msgpack-c's packer.
 *
 * The writer keeps a small stack of open containers with the fields or
 * elements each still owes, so a miscounted message fails here, at the
 * sender, rather than at the peer. The first error sticks, which lets a
 * caller write a whole message and check only knit_msg_end(). */
#include <string.h>

#include <msgpack.h>

#include "msg.h"
#include "msg_internal.h"

#include "transport/error.h"

enum { W_FRESH, W_OPEN, W_DONE };

static int fail(struct knit_msg_writer *w, int err)
{
    if (w->err == 0)
        w->err = err;
    return w->err;
}

/* msgpack-c's write callback: copy into the fixed buffer or fail. */
static int append(void *data, const char *bytes, size_t n)
{
    struct knit_msg_writer *w = data;
    if (w->cap - w->len < n) {
        fail(w, KNIT_E_NO_SPACE);
        return -1;
    }
    if (n > 0)
        memcpy(w->buf + w->len, bytes, n);
    w->len += n;
    return 0;
}

void knit_msg_writer_init(struct knit_msg_writer *w, uint8_t *buf, size_t cap)
{
    memset(w, 0, sizeof *w);
    w->buf = buf;
    w->cap = cap;
    w->state = W_FRESH;
    if (buf == NULL && cap > 0)
        fail(w, KNIT_E_INVAL);
    else if (cap < KNIT_MSG_HEADER_LEN)
        fail(w, KNIT_E_NO_SPACE);
    else
        w->len = KNIT_MSG_HEADER_LEN;   /* the length goes here at the end */
}

static int push(struct knit_msg_writer *w, bool is_map, uint32_t count)
{
    if (w->depth >= KNIT_MSG_MAX_DEPTH)
        return fail(w, KNIT_E_DEPTH);
    struct knit_msg_wlevel *l = &w->level[w->depth++];
    l->left = count;
    l->is_map = is_map;
    l->seen = 0;
    return 0;
}

static struct knit_msg_wlevel *innermost(struct knit_msg_writer *w)
{
    if (w->err || w->state != W_OPEN || w->depth == 0)
        return NULL;
    return &w->level[w->depth - 1];
}

/* Claims the next field of the innermost map and writes its key. */
static int claim_field(struct knit_msg_writer *w, unsigned key)
{
    if (w->err)
        return w->err;
    struct knit_msg_wlevel *l = innermost(w);
    if (l == NULL || !l->is_map || key > KNIT_MSG_MAX_KEY || l->left == 0)
        return fail(w, KNIT_E_INVAL);
    if (l->seen & (UINT64_C(1) << key))
        return fail(w, KNIT_E_DUPLICATE);
    l->seen |= UINT64_C(1) << key;
    l->left--;
    msgpack_packer pk;
    msgpack_packer_init(&pk, w, append);
    msgpack_pack_uint64(&pk, key);
    return w->err;
}

/* Claims the next element of the innermost array. */
static int claim_elem(struct knit_msg_writer *w)
{
    if (w->err)
        return w->err;
    struct knit_msg_wlevel *l = innermost(w);
    if (l == NULL || l->is_map || l->left == 0)
        return fail(w, KNIT_E_INVAL);
    l->left--;
    return 0;
}

static int check_bytes(struct knit_msg_writer *w, const void *p, size_t len,
                       bool utf8)
{
    if (p == NULL && len > 0)
        return fail(w, KNIT_E_INVAL);
    if (len > KNIT_MSG_MAX_CEILING)
        return fail(w, KNIT_E_TOO_BIG);
    if (utf8 && !knit_msg_utf8_valid(p, len))
        return fail(w, KNIT_E_INVAL);
    return 0;
}

/* The value writers run after a successful claim; a failed write sets
 * w->err through append(). */
static int pack_uint(struct knit_msg_writer *w, uint64_t v)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, w, append);
    msgpack_pack_uint64(&pk, v);
    return w->err;
}

static int pack_bytes(struct knit_msg_writer *w, const void *p, size_t len,
                      bool str)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, w, append);
    if (str) {
        if (msgpack_pack_str(&pk, len) == 0)
            msgpack_pack_str_body(&pk, p, len);
    } else {
        if (msgpack_pack_bin(&pk, len) == 0)
            msgpack_pack_bin_body(&pk, p, len);
    }
    return w->err;
}

static int pack_container(struct knit_msg_writer *w, bool is_map, uint32_t n)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, w, append);
    if (is_map)
        msgpack_pack_map(&pk, n);
    else
        msgpack_pack_array(&pk, n);
    if (w->err)
        return w->err;
    return push(w, is_map, n);
}

int knit_msg_begin(struct knit_msg_writer *w, uint64_t type,
                   uint32_t field_count)
{
    if (w->err)
        return w->err;
    if (w->state != W_FRESH || field_count > KNIT_MSG_MAX_KEY)
        return fail(w, KNIT_E_INVAL);
    w->state = W_OPEN;
    if (pack_container(w, true, field_count + 1) < 0 ||
        claim_field(w, 0) < 0)
        return w->err;
    return pack_uint(w, type);
}

int knit_msg_put_uint(struct knit_msg_writer *w, unsigned key, uint64_t v)
{
    if (claim_field(w, key) < 0)
        return w->err;
    return pack_uint(w, v);
}

int knit_msg_put_bool(struct knit_msg_writer *w, unsigned key, bool v)
{
    if (claim_field(w, key) < 0)
        return w->err;
    msgpack_packer pk;
    msgpack_packer_init(&pk, w, append);
    if (v)
        msgpack_pack_true(&pk);
    else
        msgpack_pack_false(&pk);
    return w->err;
}

int knit_msg_put_bin(struct knit_msg_writer *w, unsigned key, const void *p,
                     size_t len)
{
    if (check_bytes(w, p, len, false) < 0 || claim_field(w, key) < 0)
        return w->err;
    return pack_bytes(w, p, len, false);
}

int knit_msg_put_str(struct knit_msg_writer *w, unsigned key, const char *s,
                     size_t len)
{
    if (check_bytes(w, s, len, true) < 0 || claim_field(w, key) < 0)
        return w->err;
    return pack_bytes(w, s, len, true);
}

int knit_msg_put_map_begin(struct knit_msg_writer *w, unsigned key,
                           uint32_t field_count)
{
    if (field_count > KNIT_MSG_MAX_KEY + 1)
        return fail(w, KNIT_E_INVAL);
    if (claim_field(w, key) < 0)
        return w->err;
    return pack_container(w, true, field_count);
}

int knit_msg_put_array_begin(struct knit_msg_writer *w, unsigned key,
                             uint32_t n)
{
    if (claim_field(w, key) < 0)
        return w->err;
    return pack_container(w, false, n);
}

int knit_msg_add_uint(struct knit_msg_writer *w, uint64_t v)
{
    if (claim_elem(w) < 0)
        return w->err;
    return pack_uint(w, v);
}

int knit_msg_add_bin(struct knit_msg_writer *w, const void *p, size_t len)
{
    if (check_bytes(w, p, len, false) < 0 || claim_elem(w) < 0)
        return w->err;
    return pack_bytes(w, p, len, false);
}

int knit_msg_add_str(struct knit_msg_writer *w, const char *s, size_t len)
{
    if (check_bytes(w, s, len, true) < 0 || claim_elem(w) < 0)
        return w->err;
    return pack_bytes(w, s, len, true);
}

int knit_msg_add_map_begin(struct knit_msg_writer *w, uint32_t field_count)
{
    if (field_count > KNIT_MSG_MAX_KEY + 1)
        return fail(w, KNIT_E_INVAL);
    if (claim_elem(w) < 0)
        return w->err;
    return pack_container(w, true, field_count);
}

/* The top-level map is closed by knit_msg_end(), never here. */
static int close_level(struct knit_msg_writer *w, bool is_map)
{
    struct knit_msg_wlevel *l = innermost(w);
    if (w->err)
        return w->err;
    if (l == NULL || w->depth < 2 || l->is_map != is_map || l->left != 0)
        return fail(w, KNIT_E_INVAL);
    w->depth--;
    return 0;
}

int knit_msg_map_end(struct knit_msg_writer *w)
{
    return close_level(w, true);
}

int knit_msg_array_end(struct knit_msg_writer *w)
{
    return close_level(w, false);
}

int knit_msg_end(struct knit_msg_writer *w, size_t *frame_len)
{
    *frame_len = 0;
    if (w->err)
        return w->err;
    if (w->state != W_OPEN || w->depth != 1 || w->level[0].left != 0)
        return fail(w, KNIT_E_INVAL);
    size_t body_len = w->len - KNIT_MSG_HEADER_LEN;
    if (body_len > KNIT_MSG_MAX_CEILING)
        return fail(w, KNIT_E_TOO_BIG);
    w->buf[0] = (uint8_t)(body_len >> 24);
    w->buf[1] = (uint8_t)(body_len >> 16);
    w->buf[2] = (uint8_t)(body_len >> 8);
    w->buf[3] = (uint8_t)body_len;
    w->state = W_DONE;
    w->depth = 0;
    *frame_len = w->len;
    return 0;
}
