#include "frame.h"

#include <string.h>

#include "proto/varint.h"
#include "transport/error.h"

/* Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing past
 * U+10FFFF. A reason is shown to users and logged, so it must be text. */
static bool utf8_valid(const uint8_t *p, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint8_t c = p[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t more;
        uint32_t cp, min;
        if ((c & 0xe0) == 0xc0) {
            more = 1, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            more = 2, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            more = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return false;
        }
        if (len - i - 1 < more)
            return false;
        for (size_t k = 1; k <= more; k++) {
            uint8_t d = p[i + k];
            if ((d & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (d & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += 1 + more;
    }
    return true;
}

/* ---- decoding ------------------------------------------------------------ */

struct reader {
    const uint8_t *p;
    size_t len, off;
};

static int get(struct reader *r, uint64_t *v)
{
    size_t n;
    int err = knit_varint_decode(r->p + r->off, r->len - r->off, v, &n);
    if (err < 0)
        return err;
    r->off += n;
    return 0;
}

static size_t left(const struct reader *r)
{
    return r->len - r->off;
}

/* Each range below the first is described relative to the smallest packet
 * number of the range above it: its largest is that smallest - gap - 2 (the
 * 2 because neither the two ranges nor the gap between them can be empty),
 * its smallest is its largest - range_len. Every step is checked so that a
 * hostile frame cannot wrap below packet number 0. */
static int decode_ack(struct reader *r, struct knit_frame *f)
{
    uint64_t largest, delay, count, first;
    int err;
    if ((err = get(r, &largest)) < 0 || (err = get(r, &delay)) < 0 ||
        (err = get(r, &count)) < 0)
        return err;
    if (count >= KNIT_ACK_MAX_RANGES)
        return KNIT_E_MALFORMED;
    if ((err = get(r, &first)) < 0)
        return err;
    if (first > largest)
        return KNIT_E_MALFORMED;
    struct knit_ack_range *ranges = f->u.ack.ranges;
    ranges[0].hi = largest;
    ranges[0].lo = largest - first;
    for (uint64_t i = 1; i <= count; i++) {
        uint64_t gap, range_len;
        uint64_t above = ranges[i - 1].lo;
        if ((err = get(r, &gap)) < 0)
            return err;
        /* gap < 2^62, so gap + 2 cannot wrap. */
        if (gap + 2 > above)
            return KNIT_E_MALFORMED;
        uint64_t hi = above - gap - 2;
        if ((err = get(r, &range_len)) < 0)
            return err;
        if (range_len > hi)
            return KNIT_E_MALFORMED;
        ranges[i].hi = hi;
        ranges[i].lo = hi - range_len;
    }
    f->u.ack.ack_delay_us = delay;
    f->u.ack.count = (uint32_t)count + 1;
    return 0;
}

static int decode_stream(struct reader *r, uint8_t type, struct knit_frame *f)
{
    uint64_t id, offset = 0, length;
    int err;
    if ((err = get(r, &id)) < 0)
        return err;
    if ((type & KNIT_FRAME_STREAM_OFF) && (err = get(r, &offset)) < 0)
        return err;
    if (type & KNIT_FRAME_STREAM_LEN) {
        if ((err = get(r, &length)) < 0)
            return err;
    } else {
        length = left(r);
    }
    /* RFC 9000 §19.8: the end of the data must stay below 2^62. Both are
     * below 2^62 here, so the sum cannot wrap. */
    if (offset + length > KNIT_VARINT_MAX)
        return KNIT_E_TOO_BIG;
    if (length > left(r))
        return KNIT_E_TRUNCATED;
    f->u.stream.stream_id = id;
    f->u.stream.offset = offset;
    f->u.stream.data = r->p + r->off;
    f->u.stream.len = (size_t)length;
    f->u.stream.fin = (type & KNIT_FRAME_STREAM_FIN) != 0;
    r->off += (size_t)length;
    return 0;
}

static int decode_close(struct reader *r, struct knit_frame *f)
{
    uint64_t code, reason_len;
    int err;
    if ((err = get(r, &code)) < 0 || (err = get(r, &reason_len)) < 0)
        return err;
    if (reason_len > KNIT_FRAME_CLOSE_REASON_MAX)
        return KNIT_E_MALFORMED;
    if (reason_len > left(r))
        return KNIT_E_TRUNCATED;
    const uint8_t *reason = r->p + r->off;
    if (!utf8_valid(reason, (size_t)reason_len))
        return KNIT_E_MALFORMED;
    f->u.close.error_code = code;
    f->u.close.reason = reason;
    f->u.close.reason_len = (size_t)reason_len;
    r->off += (size_t)reason_len;
    return 0;
}

static int decode_body(struct reader *r, uint8_t type, struct knit_frame *f)
{
    int err = 0;
    switch (type) {
    case KNIT_FRAME_PADDING:
        /* One frame for the whole run keeps a padded packet from costing a
         * decode call per byte. */
        while (r->off < r->len && r->p[r->off] == 0)
            r->off++;
        return 0;
    case KNIT_FRAME_PING:
        return 0;
    case KNIT_FRAME_ACK:
        return decode_ack(r, f);
    case KNIT_FRAME_RESET_STREAM:
        if ((err = get(r, &f->u.reset.stream_id)) < 0 ||
            (err = get(r, &f->u.reset.error_code)) < 0)
            return err;
        return get(r, &f->u.reset.final_size);
    case KNIT_FRAME_STOP_SENDING:
        if ((err = get(r, &f->u.stop.stream_id)) < 0)
            return err;
        return get(r, &f->u.stop.error_code);
    case KNIT_FRAME_MAX_DATA:
        return get(r, &f->u.max_data.max);
    case KNIT_FRAME_MAX_STREAM_DATA:
        if ((err = get(r, &f->u.max_stream_data.stream_id)) < 0)
            return err;
        return get(r, &f->u.max_stream_data.max);
    case KNIT_FRAME_MAX_STREAMS:
        return get(r, &f->u.max_streams.max);
    case KNIT_FRAME_PATH_CHALLENGE:
    case KNIT_FRAME_PATH_RESPONSE:
        if (left(r) < sizeof f->u.path.data)
            return KNIT_E_TRUNCATED;
        memcpy(f->u.path.data, r->p + r->off, sizeof f->u.path.data);
        r->off += sizeof f->u.path.data;
        return 0;
    case KNIT_FRAME_CLOSE:
        return decode_close(r, f);
    default:
        if ((type & ~7) == KNIT_FRAME_STREAM)
            return decode_stream(r, type, f);
        return KNIT_E_UNSUPPORTED;
    }
}

int knit_frame_decode(const uint8_t *in, size_t len, struct knit_frame *f,
                      size_t *consumed)
{
    if (!in || !f || !consumed)
        return KNIT_E_INVAL;
    *consumed = 0;
    if (len == 0)
        return KNIT_E_TRUNCATED;
    /* Frame types are varints in QUIC; every type we speak fits in one byte
     * below 0x40, so a first byte of 0x40 or more names a type we do not
     * know (or one of ours in a longer form than needed, which RFC 9000
     * §12.4 lets us refuse). Either way the default case refuses it. */
    uint8_t type = in[0];
    struct reader r = {in, len, 1};
    int err = decode_body(&r, type, f);
    if (err < 0)
        return err;
    f->type = (type & ~7) == KNIT_FRAME_STREAM ? KNIT_FRAME_STREAM : type;
    *consumed = r.off;
    return 0;
}

/* ---- encoding ------------------------------------------------------------ */

/* With p NULL the writer only counts, so a frame is sized (and its integers
 * range-checked) before a byte is written: a frame that does not fit leaves
 * out untouched. */
struct writer {
    uint8_t *p;
    size_t off;
    int err;
};

static void put(struct writer *w, uint64_t v)
{
    size_t n = knit_varint_size(v);
    if (n == 0) {
        w->err = KNIT_E_TOO_BIG;
        return;
    }
    if (w->p)
        (void)knit_varint_encode(v, w->p + w->off, n, &n);
    w->off += n;
}

static void put_bytes(struct writer *w, const uint8_t *b, size_t len)
{
    if (len > SIZE_MAX - w->off) {
        w->err = KNIT_E_TOO_BIG;
        return;
    }
    if (w->p && len)
        memcpy(w->p + w->off, b, len);
    w->off += len;
}

static void put_byte(struct writer *w, uint8_t b)
{
    put_bytes(w, &b, 1);
}

static int check_ack(const struct knit_frame *f)
{
    uint32_t count = f->u.ack.count;
    const struct knit_ack_range *r = f->u.ack.ranges;
    if (count == 0 || count > KNIT_ACK_MAX_RANGES)
        return KNIT_E_INVAL;
    for (uint32_t i = 0; i < count; i++) {
        if (r[i].lo > r[i].hi)
            return KNIT_E_INVAL;
        /* Adjacent ranges would need a gap of -1: they must be merged. */
        if (i > 0 && (r[i - 1].lo < 2 || r[i].hi > r[i - 1].lo - 2))
            return KNIT_E_INVAL;
    }
    return 0;
}

static int check(const struct knit_frame *f)
{
    switch (f->type) {
    case KNIT_FRAME_ACK:
        return check_ack(f);
    case KNIT_FRAME_STREAM:
        if (!f->u.stream.data && f->u.stream.len)
            return KNIT_E_INVAL;
        if (f->u.stream.offset > KNIT_VARINT_MAX ||
            f->u.stream.len > KNIT_VARINT_MAX - f->u.stream.offset)
            return KNIT_E_TOO_BIG;
        return 0;
    case KNIT_FRAME_CLOSE:
        if (!f->u.close.reason && f->u.close.reason_len)
            return KNIT_E_INVAL;
        if (f->u.close.reason_len > KNIT_FRAME_CLOSE_REASON_MAX ||
            !utf8_valid(f->u.close.reason, f->u.close.reason_len))
            return KNIT_E_INVAL;
        return 0;
    case KNIT_FRAME_PADDING:
    case KNIT_FRAME_PING:
    case KNIT_FRAME_RESET_STREAM:
    case KNIT_FRAME_STOP_SENDING:
    case KNIT_FRAME_MAX_DATA:
    case KNIT_FRAME_MAX_STREAM_DATA:
    case KNIT_FRAME_MAX_STREAMS:
    case KNIT_FRAME_PATH_CHALLENGE:
    case KNIT_FRAME_PATH_RESPONSE:
        return 0;
    default:
        return KNIT_E_INVAL;
    }
}

static void emit_ack(struct writer *w, const struct knit_frame *f)
{
    const struct knit_ack_range *r = f->u.ack.ranges;
    put(w, r[0].hi);
    put(w, f->u.ack.ack_delay_us);
    put(w, f->u.ack.count - 1);
    put(w, r[0].hi - r[0].lo);
    for (uint32_t i = 1; i < f->u.ack.count; i++) {
        put(w, r[i - 1].lo - r[i].hi - 2);
        put(w, r[i].hi - r[i].lo);
    }
}

static void emit_stream(struct writer *w, const struct knit_frame *f)
{
    uint8_t type = KNIT_FRAME_STREAM | KNIT_FRAME_STREAM_LEN;
    if (f->u.stream.offset > 0)
        type |= KNIT_FRAME_STREAM_OFF;
    if (f->u.stream.fin)
        type |= KNIT_FRAME_STREAM_FIN;
    put_byte(w, type);
    put(w, f->u.stream.stream_id);
    if (f->u.stream.offset > 0)
        put(w, f->u.stream.offset);
    put(w, f->u.stream.len);
    put_bytes(w, f->u.stream.data, f->u.stream.len);
}

/* check() has accepted f. */
static void emit(struct writer *w, const struct knit_frame *f)
{
    if (f->type == KNIT_FRAME_STREAM) {
        emit_stream(w, f);
        return;
    }
    put_byte(w, f->type);
    switch (f->type) {
    case KNIT_FRAME_ACK:
        emit_ack(w, f);
        break;
    case KNIT_FRAME_RESET_STREAM:
        put(w, f->u.reset.stream_id);
        put(w, f->u.reset.error_code);
        put(w, f->u.reset.final_size);
        break;
    case KNIT_FRAME_STOP_SENDING:
        put(w, f->u.stop.stream_id);
        put(w, f->u.stop.error_code);
        break;
    case KNIT_FRAME_MAX_DATA:
        put(w, f->u.max_data.max);
        break;
    case KNIT_FRAME_MAX_STREAM_DATA:
        put(w, f->u.max_stream_data.stream_id);
        put(w, f->u.max_stream_data.max);
        break;
    case KNIT_FRAME_MAX_STREAMS:
        put(w, f->u.max_streams.max);
        break;
    case KNIT_FRAME_PATH_CHALLENGE:
    case KNIT_FRAME_PATH_RESPONSE:
        put_bytes(w, f->u.path.data, sizeof f->u.path.data);
        break;
    case KNIT_FRAME_CLOSE:
        put(w, f->u.close.error_code);
        put(w, f->u.close.reason_len);
        put_bytes(w, f->u.close.reason, f->u.close.reason_len);
        break;
    default: /* PADDING, PING: the type byte is the frame */
        break;
    }
}

int knit_frame_encode(const struct knit_frame *f, uint8_t *out, size_t cap,
                      size_t *n)
{
    if (!f || !out || !n)
        return KNIT_E_INVAL;
    int err = check(f);
    if (err < 0)
        return err;
    struct writer w = {NULL, 0, 0};
    emit(&w, f);
    if (w.err < 0)
        return w.err;
    if (w.off > cap)
        return KNIT_E_NO_SPACE;
    size_t size = w.off;
    w = (struct writer){out, 0, 0};
    emit(&w, f);
    *n = size;
    return 0;
}

size_t knit_frame_stream_overhead(uint64_t stream_id, uint64_t offset,
                                  size_t len)
{
    size_t id_n = knit_varint_size(stream_id);
    size_t off_n = offset > 0 ? knit_varint_size(offset) : 0;
    size_t len_n = knit_varint_size(len);
    if (!id_n || (offset > 0 && !off_n) || !len_n)
        return 0;
    return 1 + id_n + off_n + len_n;
}

int knit_frame_encode_stream_fit(uint64_t stream_id, uint64_t offset,
                                 const uint8_t *data, size_t len, bool fin,
                                 uint8_t *out, size_t cap, size_t *data_taken,
                                 size_t *n)
{
    if ((!data && len) || !out || !data_taken || !n)
        return KNIT_E_INVAL;
    *data_taken = 0;
    *n = 0;
    size_t id_n = knit_varint_size(stream_id);
    size_t off_n = offset > 0 ? knit_varint_size(offset) : 0;
    if (!id_n || (offset > 0 && !off_n))
        return KNIT_E_TOO_BIG;
    size_t head = 1 + id_n + off_n;
    if (cap <= head)
        return KNIT_E_NO_SPACE;
    /* room holds the LEN field and the data; the LEN field grows with the
     * amount taken, so back off until both fit (a few steps at most, where
     * the field size steps from 1 to 2 or 2 to 4 bytes). */
    size_t room = cap - head;
    size_t take = len < room - 1 ? len : room - 1;
    while (take > 0 && knit_varint_size(take) + take > room)
        take--;
    if (take == 0 && len > 0)
        return KNIT_E_NO_SPACE;

    struct knit_frame f;
    f.type = KNIT_FRAME_STREAM;
    f.u.stream.stream_id = stream_id;
    f.u.stream.offset = offset;
    f.u.stream.data = data;
    f.u.stream.len = take;
    f.u.stream.fin = fin && take == len;
    int err = knit_frame_encode(&f, out, cap, n);
    if (err < 0)
        return err;
    *data_taken = take;
    return 0;
}

bool knit_frame_is_ack_eliciting(uint8_t type)
{
    return type != KNIT_FRAME_ACK && type != KNIT_FRAME_PADDING &&
           type != KNIT_FRAME_CLOSE;
}
