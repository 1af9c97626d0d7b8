/* Signed peer records: canonical CBOR encoding, a strict decoder and the
 * signed envelope around them.
 *
 * Encoding uses libcbor's allocation-free head encoders. Decoding pulls one
 * item at a time from libcbor's streaming decoder and checks each head
 * against the shortest form, so the only input accepted is the one encoding
 * our own encoder produces; a final re-encode makes sure of it. */
#include "record.h"

#include <stdbool.h>
#include <string.h>

#include <cbor.h>

#include "transport/error.h"

enum record_key {
    KEY_PEER = 1,
    KEY_SEQ = 2,
    KEY_ISSUED = 3,
    KEY_ADDRS = 4,
    KEY_NAT = 5,
};
#define RECORD_KEYS_ALL 0x3eu   /* bits 1..5 */

enum nat_key {
    NAT_MAPPING = 1,
    NAT_FILTERING = 2,
    NAT_REACHABILITY = 3,
};
#define NAT_KEYS_ALL 0x0eu      /* bits 1..3 */

/* CBOR major types; MT_NONE means no callback described the item. */
enum major_type {
    MT_NONE = -1,
    MT_UINT = 0,
    MT_NEGINT = 1,
    MT_BYTES = 2,
    MT_TEXT = 3,
    MT_ARRAY = 4,
    MT_MAP = 5,
    MT_TAG = 6,
    MT_SIMPLE = 7,
};

/* ---- encoding ------------------------------------------------------------ */

/* The first failure sticks, so a sequence of puts needs one check at the
 * end. */
struct writer {
    uint8_t *buf;
    size_t cap;
    size_t len;
    int err;
};

static void wrote(struct writer *w, size_t n)
{
    if (w->err)
        return;
    if (n == 0)
        w->err = KNIT_E_NO_SPACE;
    else
        w->len += n;
}

static void put_uint(struct writer *w, uint64_t v)
{
    if (!w->err)
        wrote(w, cbor_encode_uint(v, w->buf + w->len, w->cap - w->len));
}

static void put_array(struct writer *w, size_t n)
{
    if (!w->err)
        wrote(w, cbor_encode_array_start(n, w->buf + w->len, w->cap - w->len));
}

static void put_map(struct writer *w, size_t n)
{
    if (!w->err)
        wrote(w, cbor_encode_map_start(n, w->buf + w->len, w->cap - w->len));
}

static void put_bytes(struct writer *w, const uint8_t *p, size_t n)
{
    if (w->err)
        return;
    wrote(w, cbor_encode_bytestring_start(n, w->buf + w->len,
                                          w->cap - w->len));
    if (w->err)
        return;
    if (n > w->cap - w->len) {
        w->err = KNIT_E_NO_SPACE;
        return;
    }
    memcpy(w->buf + w->len, p, n);
    w->len += n;
}

static bool nat_valid(const struct knit_nat_info *nat)
{
    return nat->mapping <= KNIT_MAPPING_ADDRESS_PORT_DEPENDENT &&
           nat->filtering <= KNIT_FILTERING_ADDRESS_PORT_DEPENDENT &&
           nat->reachability <= KNIT_REACHABILITY_PRIVATE;
}

int knit_record_encode_payload(const struct knit_peer_record *rec,
                               uint8_t *out, size_t cap, size_t *out_len)
{
    struct writer w = { out, cap, 0, 0 };
    uint8_t id[KNIT_PEER_ID_BYTES];

    if (!rec || !out || !out_len)
        return KNIT_E_INVAL;
    if (rec->addr_count > KNIT_RECORD_MAX_ADDRS || !nat_valid(&rec->nat))
        return KNIT_E_INVAL;
    knit_peer_id_to_bytes(&rec->peer, id);

    /* Keys in ascending order: for canonical unsigned integers that is the
     * bytewise order of their encodings that RFC 8949 §4.2.1 asks for. */
    put_map(&w, 5);
    put_uint(&w, KEY_PEER);
    put_bytes(&w, id, sizeof id);
    put_uint(&w, KEY_SEQ);
    put_uint(&w, rec->seq);
    put_uint(&w, KEY_ISSUED);
    put_uint(&w, rec->issued);
    put_uint(&w, KEY_ADDRS);
    put_array(&w, rec->addr_count);
    for (size_t i = 0; i < rec->addr_count; i++) {
        uint8_t ma[KNIT_MA_BINARY_MAX];
        size_t ma_len;
        int err = knit_multiaddr_encode(&rec->addrs[i], ma, sizeof ma,
                                        &ma_len);
        if (err)
            return err;
        put_bytes(&w, ma, ma_len);
    }
    put_uint(&w, KEY_NAT);
    put_map(&w, 3);
    put_uint(&w, NAT_MAPPING);
    put_uint(&w, rec->nat.mapping);
    put_uint(&w, NAT_FILTERING);
    put_uint(&w, rec->nat.filtering);
    put_uint(&w, NAT_REACHABILITY);
    put_uint(&w, rec->nat.reachability);
    if (w.err)
        return w.err;
    *out_len = w.len;
    return 0;
}

int knit_record_sign(const struct knit_peer_record *rec,
                     const struct knit_identity *ident, uint8_t *out,
                     size_t cap, size_t *out_len)
{
    uint8_t payload[KNIT_RECORD_MAX_BYTES];
    uint8_t env[KNIT_RECORD_MAX_BYTES];
    uint8_t sig[KNIT_SIGNATURE_LEN];
    size_t payload_len;
    int err;

    if (!rec || !ident || !out || !out_len)
        return KNIT_E_INVAL;
    if (!knit_peer_id_equal(&rec->peer, &ident->id))
        return KNIT_E_KEY_MISMATCH;
    err = knit_record_encode_payload(rec, payload, sizeof payload,
                                     &payload_len);
    if (err)
        return err == KNIT_E_NO_SPACE ? KNIT_E_TOO_BIG : err;
    err = knit_sign(ident, KNIT_RECORD_DOMAIN, payload, payload_len, sig);
    if (err)
        return err;

    /* Built in a buffer of the verify limit first, so a record that no
     * peer would accept is refused as too big, whatever cap is. */
    struct writer w = { env, sizeof env, 0, 0 };
    put_array(&w, 3);
    put_bytes(&w, ident->id.pubkey, KNIT_PUBKEY_LEN);
    put_bytes(&w, payload, payload_len);
    put_bytes(&w, sig, sizeof sig);
    if (w.err)
        return KNIT_E_TOO_BIG;
    if (w.len > cap)
        return KNIT_E_NO_SPACE;
    memcpy(out, env, w.len);
    *out_len = w.len;
    return 0;
}

/* ---- decoding ------------------------------------------------------------ */

/* What the one callback of a cbor_stream_decode() call saw. */
struct item {
    int major;              /* enum major_type */
    bool indefinite;
    uint64_t value;         /* integer, string length or element count */
    const uint8_t *data;    /* byte string contents */
};

struct reader {
    const uint8_t *buf;
    size_t len;
    size_t pos;
    struct cbor_callbacks cb;
};

static void saw(void *ctx, int major, bool indefinite, uint64_t value)
{
    struct item *it = ctx;
    it->major = major;
    it->indefinite = indefinite;
    it->value = value;
}

static void on_uint8(void *ctx, uint8_t v) { saw(ctx, MT_UINT, false, v); }
static void on_uint16(void *ctx, uint16_t v) { saw(ctx, MT_UINT, false, v); }
static void on_uint32(void *ctx, uint32_t v) { saw(ctx, MT_UINT, false, v); }
static void on_uint64(void *ctx, uint64_t v) { saw(ctx, MT_UINT, false, v); }
static void on_negint8(void *ctx, uint8_t v) { saw(ctx, MT_NEGINT, false, v); }
static void on_negint16(void *ctx, uint16_t v) { saw(ctx, MT_NEGINT, false, v); }
static void on_negint32(void *ctx, uint32_t v) { saw(ctx, MT_NEGINT, false, v); }
static void on_negint64(void *ctx, uint64_t v) { saw(ctx, MT_NEGINT, false, v); }

static void on_bytes(void *ctx, cbor_data data, size_t len)
{
    struct item *it = ctx;
    saw(ctx, MT_BYTES, false, len);
    it->data = data;
}

static void on_bytes_indef(void *ctx) { saw(ctx, MT_BYTES, true, 0); }
static void on_text(void *ctx, cbor_data data, size_t len)
{
    (void)data;
    saw(ctx, MT_TEXT, false, len);
}
static void on_text_indef(void *ctx) { saw(ctx, MT_TEXT, true, 0); }
static void on_array(void *ctx, size_t n) { saw(ctx, MT_ARRAY, false, n); }
static void on_array_indef(void *ctx) { saw(ctx, MT_ARRAY, true, 0); }
static void on_map(void *ctx, size_t n) { saw(ctx, MT_MAP, false, n); }
static void on_map_indef(void *ctx) { saw(ctx, MT_MAP, true, 0); }
static void on_tag(void *ctx, uint64_t tag) { saw(ctx, MT_TAG, false, tag); }
static void on_float(void *ctx, float f)
{
    (void)f;
    saw(ctx, MT_SIMPLE, false, 0);
}
static void on_double(void *ctx, double d)
{
    (void)d;
    saw(ctx, MT_SIMPLE, false, 0);
}
static void on_simple(void *ctx) { saw(ctx, MT_SIMPLE, false, 0); }
static void on_bool(void *ctx, bool b)
{
    (void)b;
    saw(ctx, MT_SIMPLE, false, 0);
}

static void reader_init(struct reader *r, const uint8_t *buf, size_t len)
{
    r->buf = buf;
    r->len = len;
    r->pos = 0;
    /* Every callback is set, so no item can slip past unrecorded; starting
     * from the empty bundle covers any a later libcbor might add. */
    r->cb = cbor_empty_callbacks;
    r->cb.uint8 = on_uint8;
    r->cb.uint16 = on_uint16;
    r->cb.uint32 = on_uint32;
    r->cb.uint64 = on_uint64;
    r->cb.negint8 = on_negint8;
    r->cb.negint16 = on_negint16;
    r->cb.negint32 = on_negint32;
    r->cb.negint64 = on_negint64;
    r->cb.byte_string = on_bytes;
    r->cb.byte_string_start = on_bytes_indef;
    r->cb.string = on_text;
    r->cb.string_start = on_text_indef;
    r->cb.array_start = on_array;
    r->cb.indef_array_start = on_array_indef;
    r->cb.map_start = on_map;
    r->cb.indef_map_start = on_map_indef;
    r->cb.tag = on_tag;
    r->cb.float2 = on_float;
    r->cb.float4 = on_float;
    r->cb.float8 = on_double;
    r->cb.undefined = on_simple;
    r->cb.null = on_simple;
    r->cb.boolean = on_bool;
    r->cb.indef_break = on_simple;
}

/* Size of the shortest head that carries v (RFC 8949 §4.2.1). */
static size_t head_size(uint64_t v)
{
    if (v < 24)
        return 1;
    if (v <= UINT8_MAX)
        return 2;
    if (v <= UINT16_MAX)
        return 3;
    if (v <= UINT32_MAX)
        return 5;
    return 9;
}

/* Reads the next item, which must be of the given major type with a definite
 * length in its shortest form. For arrays and maps only the head is
 * consumed; the caller reads the elements. */
static int read_item(struct reader *r, int major, struct item *it)
{
    struct cbor_decoder_result res;
    size_t left = r->len - r->pos;
    size_t head;

    it->major = MT_NONE;
    it->indefinite = false;
    it->value = 0;
    it->data = NULL;
    if (left == 0)
        return KNIT_E_TRUNCATED;
    res = cbor_stream_decode(r->buf + r->pos, left, &r->cb, it);
    if (res.status == CBOR_DECODER_NEDATA)
        return KNIT_E_TRUNCATED;
    if (res.status != CBOR_DECODER_FINISHED || it->major == MT_NONE ||
        res.read == 0 || res.read > left)
        return KNIT_E_MALFORMED;
    r->pos += res.read;

    if (it->major != major)
        return KNIT_E_TYPE;
    /* A deterministic encoding has no indefinite lengths: the same value
     * with a definite length is the one accepted form. */
    if (it->indefinite)
        return KNIT_E_NONCANONICAL;
    head = res.read;
    if (major == MT_BYTES) {
        if (it->value > head)
            return KNIT_E_MALFORMED;
        head -= (size_t)it->value;
    }
    if (head != head_size(it->value))
        return KNIT_E_NONCANONICAL;
    return 0;
}

static int read_uint(struct reader *r, uint64_t *v)
{
    struct item it;
    int err = read_item(r, MT_UINT, &it);
    if (err)
        return err;
    *v = it.value;
    return 0;
}

static int read_bytes(struct reader *r, const uint8_t **p, size_t *n)
{
    struct item it;
    int err = read_item(r, MT_BYTES, &it);
    if (err)
        return err;
    *p = it.data;
    *n = (size_t)it.value;
    return 0;
}

static int read_count(struct reader *r, int major, uint64_t *n)
{
    struct item it;
    int err = read_item(r, major, &it);
    if (err)
        return err;
    *n = it.value;
    return 0;
}

/* Map keys must rise strictly; for canonical unsigned integers numeric order
 * is the bytewise order of their encodings. */
static int read_key(struct reader *r, bool first, uint64_t prev,
                    uint64_t *key)
{
    int err = read_uint(r, key);
    if (err)
        return err;
    if (!first && *key == prev)
        return KNIT_E_DUPLICATE;
    if (!first && *key < prev)
        return KNIT_E_NONCANONICAL;
    return 0;
}

static int read_enum(struct reader *r, uint64_t max, uint8_t *out)
{
    uint64_t v;
    int err = read_uint(r, &v);
    if (err)
        return err;
    if (v > max)
        return KNIT_E_MALFORMED;
    *out = (uint8_t)v;
    return 0;
}

static int decode_nat(struct reader *r, struct knit_nat_info *nat)
{
    uint64_t n, key = 0;
    unsigned seen = 0;
    int err = read_count(r, MT_MAP, &n);
    if (err)
        return err;
    /* n comes from the input, but every round consumes input or fails, so
     * a huge count just ends in KNIT_E_TRUNCATED. */
    for (uint64_t i = 0; i < n; i++) {
        err = read_key(r, i == 0, key, &key);
        if (err)
            return err;
        switch (key) {
        case NAT_MAPPING:
            err = read_enum(r, KNIT_MAPPING_ADDRESS_PORT_DEPENDENT,
                            &nat->mapping);
            break;
        case NAT_FILTERING:
            err = read_enum(r, KNIT_FILTERING_ADDRESS_PORT_DEPENDENT,
                            &nat->filtering);
            break;
        case NAT_REACHABILITY:
            err = read_enum(r, KNIT_REACHABILITY_PRIVATE, &nat->reachability);
            break;
        default:
            return KNIT_E_UNKNOWN_FIELD;
        }
        if (err)
            return err;
        seen |= 1u << key;
    }
    return seen == NAT_KEYS_ALL ? 0 : KNIT_E_MISSING;
}

static int decode_addrs(struct reader *r, struct knit_peer_record *rec)
{
    uint64_t n;
    int err = read_count(r, MT_ARRAY, &n);
    if (err)
        return err;
    if (n > KNIT_RECORD_MAX_ADDRS)
        return KNIT_E_TOO_BIG;
    for (uint64_t i = 0; i < n; i++) {
        const uint8_t *p;
        size_t len;
        err = read_bytes(r, &p, &len);
        if (err)
            return err;
        err = knit_multiaddr_decode(&rec->addrs[i], p, len);
        if (err)
            return err;
    }
    rec->addr_count = (uint8_t)n;
    return 0;
}

static int decode_record(struct reader *r, struct knit_peer_record *rec)
{
    uint64_t n, key = 0;
    unsigned seen = 0;
    const uint8_t *p;
    size_t len;
    int err = read_count(r, MT_MAP, &n);
    if (err)
        return err;
    for (uint64_t i = 0; i < n; i++) {
        err = read_key(r, i == 0, key, &key);
        if (err)
            return err;
        switch (key) {
        case KEY_PEER:
            err = read_bytes(r, &p, &len);
            if (!err)
                err = knit_peer_id_from_bytes(&rec->peer, p, len);
            break;
        case KEY_SEQ:
            err = read_uint(r, &rec->seq);
            break;
        case KEY_ISSUED:
            err = read_uint(r, &rec->issued);
            break;
        case KEY_ADDRS:
            err = decode_addrs(r, rec);
            break;
        case KEY_NAT:
            err = decode_nat(r, &rec->nat);
            break;
        default:
            return KNIT_E_UNKNOWN_FIELD;
        }
        if (err)
            return err;
        seen |= 1u << key;
    }
    return seen == RECORD_KEYS_ALL ? 0 : KNIT_E_MISSING;
}

int knit_record_decode_payload(struct knit_peer_record *rec,
                               const uint8_t *in, size_t len)
{
    struct knit_peer_record tmp;
    struct reader r;
    uint8_t again[KNIT_RECORD_MAX_BYTES];
    size_t again_len;
    int err;

    if (!rec || (!in && len))
        return KNIT_E_INVAL;
    if (len > KNIT_RECORD_MAX_BYTES)
        return KNIT_E_TOO_BIG;
    memset(&tmp, 0, sizeof tmp);
    reader_init(&r, in, len);
    err = decode_record(&r, &tmp);
    if (err)
        return err;
    if (r.pos != len)
        return KNIT_E_TRAILING;

    /* The belt to the braces above: whatever slipped past the item checks
     * (a multiaddr with a padded varint, say) cannot re-encode to the same
     * bytes, and records are compared and stored by their bytes. */
    err = knit_record_encode_payload(&tmp, again, sizeof again, &again_len);
    if (err || again_len != len || memcmp(again, in, len) != 0)
        return KNIT_E_NONCANONICAL;
    *rec = tmp;
    return 0;
}

static int verify(struct knit_record_cache *cache,
                  struct knit_peer_record *rec, const uint8_t *in,
                  size_t len);

int knit_record_verify(struct knit_peer_record *rec, const uint8_t *in,
                       size_t len)
{
    return verify(NULL, rec, in, len);
}

int knit_record_verify_cached(struct knit_record_cache *cache,
                              struct knit_peer_record *rec,
                              const uint8_t *in, size_t len)
{
    return verify(cache, rec, in, len);
}

/* With a cache, the signature of bytes it has seen verify is not checked
 * again; everything else is. */
static int verify(struct knit_record_cache *cache,
                  struct knit_peer_record *rec, const uint8_t *in,
                  size_t len)
{
    struct knit_peer_record tmp;
    struct knit_peer_id signer;
    struct reader r;
    const uint8_t *key, *payload, *sig;
    size_t key_len, payload_len, sig_len;
    uint64_t n;
    int err;

    if (!rec || (!in && len))
        return KNIT_E_INVAL;
    if (len > KNIT_RECORD_MAX_BYTES)
        return KNIT_E_TOO_BIG;
    reader_init(&r, in, len);
    err = read_count(&r, MT_ARRAY, &n);
    if (err)
        return err;
    if (n != 3)
        return KNIT_E_MALFORMED;
    err = read_bytes(&r, &key, &key_len);
    if (err)
        return err;
    if (key_len != KNIT_PUBKEY_LEN)
        return KNIT_E_LENGTH;
    err = read_bytes(&r, &payload, &payload_len);
    if (err)
        return err;
    err = read_bytes(&r, &sig, &sig_len);
    if (err)
        return err;
    if (sig_len != KNIT_SIGNATURE_LEN)
        return KNIT_E_LENGTH;
    if (r.pos != len)
        return KNIT_E_TRAILING;

    /* The signature comes before the payload parser, so unsigned input
     * never reaches the larger part of the decoder. */
    memcpy(signer.pubkey, key, KNIT_PUBKEY_LEN);
    uint8_t tag[KNIT_RECORD_CACHE_TAG_LEN];
    if (!cache || !knit_record_cache_lookup(cache, in, len, tag)) {
        err = knit_verify(&signer, KNIT_RECORD_DOMAIN, payload, payload_len,
                          sig);
        if (err)
            return err;
        if (cache)
            knit_record_cache_add(cache, tag);
    }
    err = knit_record_decode_payload(&tmp, payload, payload_len);
    if (err)
        return err;
    if (!knit_peer_id_equal(&tmp.peer, &signer))
        return KNIT_E_KEY_MISMATCH;
    *rec = tmp;
    return 0;
}
