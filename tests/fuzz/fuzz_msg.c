/* Fuzzes the message layer: the input is decoded as a body against a test
 * schema with nested maps and arrays (and against a schema that contains
 * itself), then deframed with a small limit and each frame decoded. Every
 * successful decode is re-encoded with the writer and decoded again; the
 * values must match and the second encoding must equal the first. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "proto/msg.h"
#include "transport/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct knit_msg_field leaf_fields[] = {
    KNIT_MSG_F_UINT(0, KNIT_MSG_REQUIRED, UINT64_MAX),
    KNIT_MSG_F_ARRAY_OF_STR(1, KNIT_MSG_OPTIONAL, 0, 4, 0, 8),
    KNIT_MSG_F_BOOL(2, KNIT_MSG_OPTIONAL),
};
static const struct knit_msg_schema leaf = KNIT_MSG_SCHEMA(leaf_fields);

static const struct knit_msg_field peer_fields[] = {
    KNIT_MSG_F_BIN(0, KNIT_MSG_REQUIRED, 1, 38),
    KNIT_MSG_F_ARRAY_OF_BIN(1, KNIT_MSG_OPTIONAL, 0, 4, 1, 32),
    KNIT_MSG_F_MAP(2, KNIT_MSG_OPTIONAL, &leaf),
};
static const struct knit_msg_schema peer = KNIT_MSG_SCHEMA(peer_fields);

static const struct knit_msg_field inner_fields[] = {
    KNIT_MSG_F_UINT(0, KNIT_MSG_REQUIRED, 1000),
    KNIT_MSG_F_STR(1, KNIT_MSG_OPTIONAL, 0, 16),
    KNIT_MSG_F_BOOL(63, KNIT_MSG_OPTIONAL),
};
static const struct knit_msg_schema inner = KNIT_MSG_SCHEMA(inner_fields);

static const struct knit_msg_field top_fields[] = {
    KNIT_MSG_F_UINT(1, KNIT_MSG_OPTIONAL, 1000),
    KNIT_MSG_F_BOOL(2, KNIT_MSG_OPTIONAL),
    KNIT_MSG_F_BIN(3, KNIT_MSG_OPTIONAL, 0, 32),
    KNIT_MSG_F_STR(4, KNIT_MSG_OPTIONAL, 1, 16),
    KNIT_MSG_F_ARRAY_OF_UINT(5, KNIT_MSG_OPTIONAL, 0, 8, UINT64_C(1) << 40),
    KNIT_MSG_F_ARRAY_OF_BIN(6, KNIT_MSG_OPTIONAL, 0, 4, 0, 16),
    KNIT_MSG_F_ARRAY_OF_STR(7, KNIT_MSG_OPTIONAL, 0, 4, 0, 8),
    KNIT_MSG_F_MAP(8, KNIT_MSG_OPTIONAL, &inner),
    KNIT_MSG_F_ARRAY_OF_MAP(9, KNIT_MSG_OPTIONAL, 0, 4, &peer),
    KNIT_MSG_F_BIN(10, KNIT_MSG_OPTIONAL, 4, 4),
};
static const struct knit_msg_schema top = KNIT_MSG_SCHEMA(top_fields);

static const struct knit_msg_schema self;
static const struct knit_msg_field self_fields[] = {
    KNIT_MSG_F_MAP(1, KNIT_MSG_OPTIONAL, &self),
    KNIT_MSG_F_ARRAY_OF_MAP(2, KNIT_MSG_OPTIONAL, 0, 3, &self),
    KNIT_MSG_F_UINT(3, KNIT_MSG_OPTIONAL, UINT64_MAX),
};
static const struct knit_msg_schema self = KNIT_MSG_SCHEMA(self_fields);

#define CHECK(x) do { if (!(x)) __builtin_trap(); } while (0)

static uint32_t present_count(const struct knit_msg *m,
                              const struct knit_msg_schema *s)
{
    uint32_t n = 0;
    for (size_t i = 0; i < s->count; i++)
        n += knit_msg_has(m, s->fields[i].key);
    return n;
}

static void put_fields(struct knit_msg_writer *w, const struct knit_msg *m,
                       const struct knit_msg_schema *s);

static void put_array(struct knit_msg_writer *w, const struct knit_msg *m,
                      const struct knit_msg_field *f)
{
    struct knit_msg_iter it;
    CHECK(knit_msg_iter_init(&it, m, f->key) == 0);
    knit_msg_put_array_begin(w, f->key, m->f[f->key].n);
    for (uint32_t i = 0; i < m->f[f->key].n; i++) {
        uint64_t u;
        const uint8_t *p;
        size_t len;
        struct knit_msg sub;
        switch (f->type) {
        case KNIT_MSG_ARRAY_OF_UINT:
            CHECK(knit_msg_next_uint(&it, &u) == 0);
            knit_msg_add_uint(w, u);
            break;
        case KNIT_MSG_ARRAY_OF_BIN:
            CHECK(knit_msg_next_bytes(&it, &p, &len) == 0);
            knit_msg_add_bin(w, p, len);
            break;
        case KNIT_MSG_ARRAY_OF_STR:
            CHECK(knit_msg_next_bytes(&it, &p, &len) == 0);
            knit_msg_add_str(w, (const char *)p, len);
            break;
        default:
            CHECK(knit_msg_next_map(&it, &sub) == 0);
            knit_msg_add_map_begin(w, present_count(&sub, f->sub));
            put_fields(w, &sub, f->sub);
            knit_msg_map_end(w);
            break;
        }
    }
    CHECK(knit_msg_next_uint(&it, &(uint64_t){0}) == KNIT_E_NOT_FOUND);
    knit_msg_array_end(w);
}

static void put_fields(struct knit_msg_writer *w, const struct knit_msg *m,
                       const struct knit_msg_schema *s)
{
    for (size_t i = 0; i < s->count; i++) {
        const struct knit_msg_field *f = &s->fields[i];
        const uint8_t *p;
        size_t len;
        struct knit_msg sub;
        if (!knit_msg_has(m, f->key))
            continue;
        switch (f->type) {
        case KNIT_MSG_UINT:
            knit_msg_put_uint(w, f->key, knit_msg_uint(m, f->key));
            break;
        case KNIT_MSG_BOOL:
            knit_msg_put_bool(w, f->key, knit_msg_uint(m, f->key) != 0);
            break;
        case KNIT_MSG_BIN:
        case KNIT_MSG_STR:
            p = knit_msg_bytes(m, f->key, &len);
            CHECK(p != NULL);
            if (f->type == KNIT_MSG_BIN)
                knit_msg_put_bin(w, f->key, p, len);
            else
                knit_msg_put_str(w, f->key, (const char *)p, len);
            break;
        case KNIT_MSG_MAP:
            CHECK(knit_msg_get_map(m, f->key, &sub) == 0);
            knit_msg_put_map_begin(w, f->key, present_count(&sub, f->sub));
            put_fields(w, &sub, f->sub);
            knit_msg_map_end(w);
            break;
        default:
            put_array(w, m, f);
            break;
        }
    }
}

static void same_fields(const struct knit_msg *a, const struct knit_msg *b,
                        const struct knit_msg_schema *s);

static void same_array(const struct knit_msg *a, const struct knit_msg *b,
                       const struct knit_msg_field *f)
{
    struct knit_msg_iter ia, ib;
    CHECK(a->f[f->key].n == b->f[f->key].n);
    CHECK(knit_msg_iter_init(&ia, a, f->key) == 0);
    CHECK(knit_msg_iter_init(&ib, b, f->key) == 0);
    for (uint32_t i = 0; i < a->f[f->key].n; i++) {
        uint64_t ua, ub;
        const uint8_t *pa, *pb;
        size_t la, lb;
        struct knit_msg sa, sb;
        switch (f->type) {
        case KNIT_MSG_ARRAY_OF_UINT:
            CHECK(knit_msg_next_uint(&ia, &ua) == 0);
            CHECK(knit_msg_next_uint(&ib, &ub) == 0);
            CHECK(ua == ub && ua <= f->max_value);
            break;
        case KNIT_MSG_ARRAY_OF_BIN:
        case KNIT_MSG_ARRAY_OF_STR:
            CHECK(knit_msg_next_bytes(&ia, &pa, &la) == 0);
            CHECK(knit_msg_next_bytes(&ib, &pb, &lb) == 0);
            CHECK(la == lb && la >= f->elem_min && la <= f->elem_max);
            CHECK(la == 0 || memcmp(pa, pb, la) == 0);
            break;
        default:
            CHECK(knit_msg_next_map(&ia, &sa) == 0);
            CHECK(knit_msg_next_map(&ib, &sb) == 0);
            same_fields(&sa, &sb, f->sub);
            break;
        }
    }
}

static void same_fields(const struct knit_msg *a, const struct knit_msg *b,
                        const struct knit_msg_schema *s)
{
    CHECK(a->present == b->present);
    for (size_t i = 0; i < s->count; i++) {
        const struct knit_msg_field *f = &s->fields[i];
        const uint8_t *pa, *pb;
        size_t la, lb;
        struct knit_msg sa, sb;
        if (!knit_msg_has(a, f->key))
            continue;
        switch (f->type) {
        case KNIT_MSG_UINT:
        case KNIT_MSG_BOOL:
            CHECK(knit_msg_uint(a, f->key) == knit_msg_uint(b, f->key));
            break;
        case KNIT_MSG_BIN:
        case KNIT_MSG_STR:
            pa = knit_msg_bytes(a, f->key, &la);
            pb = knit_msg_bytes(b, f->key, &lb);
            CHECK(la == lb && la >= f->min && la <= f->max);
            CHECK(la == 0 || memcmp(pa, pb, la) == 0);
            break;
        case KNIT_MSG_MAP:
            CHECK(knit_msg_get_map(a, f->key, &sa) == 0);
            CHECK(knit_msg_get_map(b, f->key, &sb) == 0);
            same_fields(&sa, &sb, f->sub);
            break;
        default:
            same_array(a, b, f);
            break;
        }
    }
}

/* Re-encoding never takes more room than the input did, since the packer
 * picks the shortest form of everything; the buffer leaves margin. */
#define MAX_INPUT (16 * 1024)
static uint8_t enc1[MAX_INPUT + 64], enc2[MAX_INPUT + 64];

static size_t encode(const struct knit_msg *m,
                     const struct knit_msg_schema *s, uint8_t *buf,
                     size_t cap)
{
    struct knit_msg_writer w;
    size_t n;
    knit_msg_writer_init(&w, buf, cap);
    knit_msg_begin(&w, knit_msg_uint(m, 0), present_count(m, s));
    put_fields(&w, m, s);
    CHECK(knit_msg_end(&w, &n) == 0);
    return n;
}

static void round_trip(const uint8_t *body, size_t len,
                       const struct knit_msg_schema *s)
{
    struct knit_msg m1, m2, m3;
    int err = knit_msg_decode(body, len, s, &m1);
    if (err < 0) {
        CHECK(m1.present == 0);
        return;
    }
    uint64_t type;
    CHECK(knit_msg_peek_type(body, len, &type) == 0);
    CHECK(type == knit_msg_uint(&m1, 0));

    size_t n1 = encode(&m1, s, enc1, sizeof enc1);
    CHECK(n1 <= len + KNIT_MSG_HEADER_LEN);
    struct knit_msg_frame fr;
    CHECK(knit_msg_deframe(enc1, n1, KNIT_MSG_MAX_CEILING, &fr) == 0);
    CHECK(fr.len == n1);
    CHECK(knit_msg_decode(fr.body, fr.body_len, s, &m2) == 0);
    CHECK(knit_msg_uint(&m2, 0) == type);
    same_fields(&m1, &m2, s);

    size_t n2 = encode(&m2, s, enc2, sizeof enc2);
    CHECK(n2 == n1 && memcmp(enc1, enc2, n1) == 0);
    CHECK(knit_msg_decode(enc2 + KNIT_MSG_HEADER_LEN, n2 - KNIT_MSG_HEADER_LEN,
                          s, &m3) == 0);
    same_fields(&m1, &m3, s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_INPUT)
        return 0;
    round_trip(data, size, &top);
    round_trip(data, size, &self);

    /* The same bytes as a stream of frames, with a small limit. */
    size_t off = 0;
    for (;;) {
        struct knit_msg_frame fr;
        int err = knit_msg_deframe(data + off, size - off, 64, &fr);
        if (err == KNIT_E_AGAIN) {
            CHECK(fr.len > size - off && fr.body == NULL);
            break;
        }
        if (err < 0) {
            CHECK(err == KNIT_E_TOO_BIG || err == KNIT_E_MALFORMED);
            break;
        }
        CHECK(fr.len <= size - off && fr.body_len <= 64 &&
              fr.len == fr.body_len + KNIT_MSG_HEADER_LEN);
        round_trip(fr.body, fr.body_len, &top);
        off += fr.len;
    }
    return 0;
}
