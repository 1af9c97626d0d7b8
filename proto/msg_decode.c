/* Schema-driven decoding of message bodies, and the accessors that re-read
 * arrays and nested maps from the validated body.
 *
 * Recursion follows the schema, never the input, and stops at
 * KNIT_MSG_MAX_DEPTH even for a schema that refers to itself. Every declared
 * length and count is checked against the schema before anything is taken,
 * and the reader checks it against the bytes left, so a hostile count costs
 * one comparison. */
#include <string.h>

#include "msg.h"
#include "msg_internal.h"

#include "transport/error.h"

/* Key 0 of a top-level map: implied, so schemas list only the payload. */
static const struct knit_msg_field type_field =
    KNIT_MSG_F_UINT(0, KNIT_MSG_REQUIRED, UINT64_MAX);

static int decode_map(struct knit_msg_rd *r, uint64_t count,
                      const struct knit_msg_schema *s, unsigned depth,
                      bool top, struct knit_msg *out);

static bool is_array_type(uint8_t t)
{
    return t == KNIT_MSG_ARRAY_OF_UINT || t == KNIT_MSG_ARRAY_OF_BIN ||
           t == KNIT_MSG_ARRAY_OF_STR || t == KNIT_MSG_ARRAY_OF_MAP;
}

/* A fixed-size item (min == max) has simply the wrong length either way. */
static int check_len(uint64_t n, uint32_t min, uint32_t max)
{
    if (n >= min && n <= max)
        return 0;
    if (min == max || n < min)
        return KNIT_E_LENGTH;
    return KNIT_E_TOO_BIG;
}

/* A broken schema is the programmer's bug; report it rather than guess. */
static int check_schema(const struct knit_msg_schema *s, bool top)
{
    if (s == NULL || (s->fields == NULL && s->count > 0) ||
        s->count > KNIT_MSG_MAX_KEY + 1)
        return KNIT_E_INVAL;
    uint64_t keys = 0;
    for (size_t i = 0; i < s->count; i++) {
        const struct knit_msg_field *f = &s->fields[i];
        if (f->key > KNIT_MSG_MAX_KEY || (top && f->key == 0) ||
            (keys & (UINT64_C(1) << f->key)) ||
            f->type < KNIT_MSG_UINT || f->type > KNIT_MSG_ARRAY_OF_MAP ||
            f->min > f->max || f->elem_min > f->elem_max ||
            ((f->type == KNIT_MSG_MAP || f->type == KNIT_MSG_ARRAY_OF_MAP) &&
             f->sub == NULL))
            return KNIT_E_INVAL;
        keys |= UINT64_C(1) << f->key;
    }
    return 0;
}

static const struct knit_msg_field *
find_field(const struct knit_msg_schema *s, uint64_t key)
{
    for (size_t i = 0; i < s->count; i++)
        if (s->fields[i].key == key)
            return &s->fields[i];
    return NULL;
}

/* What each element of an array field must be, as a field of its own. */
static struct knit_msg_field element_of(const struct knit_msg_field *f)
{
    struct knit_msg_field e = { .key = f->key, .required = true };
    switch (f->type) {
    case KNIT_MSG_ARRAY_OF_UINT:
        e.type = KNIT_MSG_UINT;
        e.max_value = f->max_value;
        break;
    case KNIT_MSG_ARRAY_OF_BIN:
    case KNIT_MSG_ARRAY_OF_STR:
        e.type = f->type == KNIT_MSG_ARRAY_OF_BIN ? KNIT_MSG_BIN : KNIT_MSG_STR;
        e.min = f->elem_min;
        e.max = f->elem_max;
        break;
    default:
        e.type = KNIT_MSG_MAP;
        e.sub = f->sub;
        break;
    }
    return e;
}

static int decode_bytes(struct knit_msg_rd *r, const struct knit_msg_head *h,
                        const struct knit_msg_field *f, struct knit_msg_val *v)
{
    uint8_t want = f->type == KNIT_MSG_BIN ? KNIT_MK_BIN : KNIT_MK_STR;
    if (h->kind != want)
        return KNIT_E_TYPE;
    int err = check_len(h->v, f->min, f->max);
    if (err == 0)
        err = knit_msg_rd_take(r, h->v, &v->p);
    if (err < 0)
        return err;
    if (f->type == KNIT_MSG_STR && !knit_msg_utf8_valid(v->p, h->v))
        return KNIT_E_MALFORMED;
    v->size = (uint32_t)h->v;
    return 0;
}

/* Decodes one value of field f found in a container at depth. */
static int decode_value(struct knit_msg_rd *r, const struct knit_msg_field *f,
                        unsigned depth, struct knit_msg_val *v)
{
    struct knit_msg_head h;
    int err = knit_msg_rd_head(r, &h);
    if (err < 0)
        return err;
    bool container = h.kind == KNIT_MK_ARRAY || h.kind == KNIT_MK_MAP;
    bool want_container = f->type == KNIT_MSG_MAP || is_array_type(f->type);
    if (container && !want_container)
        return KNIT_E_DEPTH;
    if (container && depth + 1 > KNIT_MSG_MAX_DEPTH)
        return KNIT_E_DEPTH;

    switch (f->type) {
    case KNIT_MSG_UINT:
        if (h.kind != KNIT_MK_UINT)
            return KNIT_E_TYPE;
        if (h.v > f->max_value)
            return KNIT_E_TOO_BIG;
        v->u = h.v;
        return 0;
    case KNIT_MSG_BOOL:
        if (h.kind != KNIT_MK_BOOL)
            return KNIT_E_TYPE;
        v->u = h.v;
        return 0;
    case KNIT_MSG_BIN:
    case KNIT_MSG_STR:
        return decode_bytes(r, &h, f, v);
    case KNIT_MSG_MAP:
        if (h.kind != KNIT_MK_MAP)
            return KNIT_E_TYPE;
        v->p = r->p;
        err = decode_map(r, h.v, f->sub, depth + 1, false, NULL);
        break;
    default: {
        if (h.kind != KNIT_MK_ARRAY)
            return KNIT_E_TYPE;
        if ((err = check_len(h.v, f->min, f->max)) < 0)
            return err;
        struct knit_msg_field e = element_of(f);
        struct knit_msg_val ev;
        v->p = r->p;
        for (uint64_t i = 0; i < h.v && err == 0; i++)
            err = decode_value(r, &e, depth + 1, &ev);
        break;
    }
    }
    if (err < 0)
        return err;
    v->size = (uint32_t)(r->p - v->p);
    v->n = (uint32_t)h.v;
    return 0;
}

/* Decodes the entries of a map whose header has been read; out may be NULL
 * when only validation is wanted (nested maps are re-read on access). */
static int decode_map(struct knit_msg_rd *r, uint64_t count,
                      const struct knit_msg_schema *s, unsigned depth,
                      bool top, struct knit_msg *out)
{
    int err = check_schema(s, top);
    if (err < 0)
        return err;
    /* Distinct keys 0..63 allow no more; this also bounds the loop. */
    if (count > KNIT_MSG_MAX_KEY + 1)
        return KNIT_E_TOO_BIG;

    uint64_t seen = 0;
    for (uint64_t i = 0; i < count; i++) {
        struct knit_msg_head k;
        if ((err = knit_msg_rd_head(r, &k)) < 0)
            return err;
        if (k.kind != KNIT_MK_UINT)
            return KNIT_E_TYPE;
        if (k.v > KNIT_MSG_MAX_KEY)
            return KNIT_E_UNKNOWN_FIELD;
        const struct knit_msg_field *f =
            top && k.v == 0 ? &type_field : find_field(s, k.v);
        if (f == NULL)
            return KNIT_E_UNKNOWN_FIELD;
        if (seen & (UINT64_C(1) << k.v))
            return KNIT_E_DUPLICATE;
        seen |= UINT64_C(1) << k.v;
        struct knit_msg_val v = { 0 };
        if ((err = decode_value(r, f, depth, &v)) < 0)
            return err;
        v.field = f == &type_field ? NULL : f;
        if (out)
            out->f[k.v] = v;
    }

    if (top && !(seen & 1))
        return KNIT_E_MISSING;
    for (size_t i = 0; i < s->count; i++)
        if (s->fields[i].required &&
            !(seen & (UINT64_C(1) << s->fields[i].key)))
            return KNIT_E_MISSING;
    if (out)
        out->present = seen;
    return 0;
}

int knit_msg_decode(const uint8_t *body, size_t len,
                    const struct knit_msg_schema *schema,
                    struct knit_msg *out)
{
    memset(out, 0, sizeof *out);
    if ((body == NULL && len > 0) || schema == NULL)
        return KNIT_E_INVAL;
    if (len > KNIT_MSG_MAX_CEILING)
        return KNIT_E_TOO_BIG;
    if (len == 0)
        return KNIT_E_TRUNCATED;

    struct knit_msg_rd r = { body, body + len };
    struct knit_msg_head h;
    int err = knit_msg_rd_head(&r, &h);
    if (err == 0 && h.kind != KNIT_MK_MAP)
        err = KNIT_E_TYPE;
    if (err == 0)
        err = decode_map(&r, h.v, schema, 1, true, out);
    if (err == 0 && r.p != r.end)
        err = KNIT_E_TRAILING;
    if (err < 0)
        memset(out, 0, sizeof *out);
    return err;
}

int knit_msg_peek_type(const uint8_t *body, size_t len, uint64_t *type)
{
    *type = 0;
    if (body == NULL && len > 0)
        return KNIT_E_INVAL;
    if (len == 0)
        return KNIT_E_TRUNCATED;
    struct knit_msg_rd r = { body, body + len };
    struct knit_msg_head h;
    int err = knit_msg_rd_head(&r, &h);
    if (err < 0)
        return err;
    if (h.kind != KNIT_MK_MAP)
        return KNIT_E_TYPE;
    /* Each entry takes at least two bytes, so the input bounds the loop. */
    for (uint64_t i = 0; i < h.v; i++) {
        struct knit_msg_head k;
        if ((err = knit_msg_rd_head(&r, &k)) < 0)
            return err;
        if (k.kind != KNIT_MK_UINT)
            return KNIT_E_TYPE;
        if (k.v != 0) {
            if ((err = knit_msg_rd_skip(&r)) < 0)
                return err;
            continue;
        }
        struct knit_msg_head t;
        if ((err = knit_msg_rd_head(&r, &t)) < 0)
            return err;
        if (t.kind != KNIT_MK_UINT)
            return KNIT_E_TYPE;
        *type = t.v;
        return 0;
    }
    return KNIT_E_MISSING;
}

/* ---- accessors ---------------------------------------------------------- */

bool knit_msg_has(const struct knit_msg *m, unsigned key)
{
    return key <= KNIT_MSG_MAX_KEY && (m->present & (UINT64_C(1) << key));
}

uint64_t knit_msg_uint(const struct knit_msg *m, unsigned key)
{
    if (!knit_msg_has(m, key))
        return 0;
    const struct knit_msg_field *f = m->f[key].field;
    if (f != NULL && f->type != KNIT_MSG_UINT && f->type != KNIT_MSG_BOOL)
        return 0;
    return m->f[key].u;
}

const uint8_t *knit_msg_bytes(const struct knit_msg *m, unsigned key,
                              size_t *len)
{
    *len = 0;
    if (!knit_msg_has(m, key))
        return NULL;
    const struct knit_msg_field *f = m->f[key].field;
    if (f == NULL || (f->type != KNIT_MSG_BIN && f->type != KNIT_MSG_STR))
        return NULL;
    *len = m->f[key].size;
    return m->f[key].p;
}

/* Re-reads a map validated by knit_msg_decode(); depth restarts at 1, which
 * can only be shallower than where the map was first checked. */
static int reread_map(const uint8_t *p, const uint8_t *end, uint64_t count,
                      const struct knit_msg_schema *s, struct knit_msg *out,
                      const uint8_t **next)
{
    struct knit_msg_rd r = { p, end };
    memset(out, 0, sizeof *out);
    int err = decode_map(&r, count, s, 1, false, out);
    if (err < 0) {
        memset(out, 0, sizeof *out);
        return err;
    }
    *next = r.p;
    return 0;
}

int knit_msg_get_map(const struct knit_msg *m, unsigned key,
                     struct knit_msg *out)
{
    if (!knit_msg_has(m, key)) {
        memset(out, 0, sizeof *out);
        return KNIT_E_NOT_FOUND;
    }
    const struct knit_msg_val *v = &m->f[key];
    if (v->field == NULL || v->field->type != KNIT_MSG_MAP) {
        memset(out, 0, sizeof *out);
        return KNIT_E_TYPE;
    }
    const uint8_t *next;
    return reread_map(v->p, v->p + v->size, v->n, v->field->sub, out, &next);
}

int knit_msg_iter_init(struct knit_msg_iter *it, const struct knit_msg *m,
                       unsigned key)
{
    memset(it, 0, sizeof *it);
    if (key > KNIT_MSG_MAX_KEY)
        return KNIT_E_INVAL;
    if (!knit_msg_has(m, key))
        return 0;
    const struct knit_msg_val *v = &m->f[key];
    if (v->field == NULL || !is_array_type(v->field->type))
        return KNIT_E_TYPE;
    it->p = v->p;
    it->end = v->p + v->size;
    it->field = v->field;
    it->left = v->n;
    return 0;
}

static int next_value(struct knit_msg_iter *it, uint8_t array_type,
                      struct knit_msg_val *v)
{
    if (it->left == 0)
        return KNIT_E_NOT_FOUND;
    if (it->field->type != array_type)
        return KNIT_E_TYPE;
    struct knit_msg_field e = element_of(it->field);
    struct knit_msg_rd r = { it->p, it->end };
    int err = decode_value(&r, &e, 1, v);
    if (err < 0)
        return err;
    it->p = r.p;
    it->left--;
    return 0;
}

int knit_msg_next_uint(struct knit_msg_iter *it, uint64_t *v)
{
    struct knit_msg_val ev = { 0 };
    int err = next_value(it, KNIT_MSG_ARRAY_OF_UINT, &ev);
    *v = ev.u;
    return err;
}

int knit_msg_next_bytes(struct knit_msg_iter *it, const uint8_t **p,
                        size_t *len)
{
    struct knit_msg_val ev = { 0 };
    uint8_t t = it->field && it->field->type == KNIT_MSG_ARRAY_OF_STR
                    ? KNIT_MSG_ARRAY_OF_STR : KNIT_MSG_ARRAY_OF_BIN;
    int err = next_value(it, t, &ev);
    *p = ev.p;
    *len = ev.size;
    return err;
}

int knit_msg_next_map(struct knit_msg_iter *it, struct knit_msg *out)
{
    memset(out, 0, sizeof *out);
    if (it->left == 0)
        return KNIT_E_NOT_FOUND;
    if (it->field->type != KNIT_MSG_ARRAY_OF_MAP)
        return KNIT_E_TYPE;
    struct knit_msg_rd r = { it->p, it->end };
    struct knit_msg_head h;
    int err = knit_msg_rd_head(&r, &h);
    if (err == 0 && h.kind != KNIT_MK_MAP)
        err = KNIT_E_TYPE;
    const uint8_t *next = r.p;
    if (err == 0)
        err = reread_map(r.p, r.end, h.v, it->field->sub, out, &next);
    if (err < 0)
        return err;
    it->p = next;
    it->left--;
    return 0;
}

int knit_msg_decode_typed(const uint8_t *body, size_t len, size_t max,
                          const struct knit_msg_schema *(*schema_of)(
                              uint64_t type),
                          uint64_t *type, struct knit_msg *out)
{
    if (len > max)
        return KNIT_E_TOO_BIG;
    int err = knit_msg_peek_type(body, len, type);
    if (err)
        return err;
    const struct knit_msg_schema *schema = schema_of(*type);
    if (!schema)
        return KNIT_E_UNSUPPORTED;
    return knit_msg_decode(body, len, schema, out);
}

int knit_msg_decode_whole(const uint8_t *body, size_t len, void *out,
                          size_t out_size,
                          int (*decode)(const uint8_t *body, size_t len,
                                        void *out))
{
    if (!out)
        return KNIT_E_INVAL;
    memset(out, 0, out_size);
    if (!body && len)
        return KNIT_E_INVAL;
    int err = decode(body, len, out);
    if (err)
        memset(out, 0, out_size);
    return err;
}
