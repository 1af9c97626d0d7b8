/* Protocol messages: length-prefixed msgpack maps over reliable streams.
 *
 * Every protocol that runs on a stream (identify, dht, autonat, relay, punch,
 * the control socket) sends its messages through this layer; it owns the
 * framing, the encoder and the schema-checked decoder, and knows nothing of
 * any particular protocol.
 *
 * Frame: a 4-byte big-endian body length, then that many bytes of body. An
 * empty body is malformed. Each protocol picks its own size limit (at most
 * KNIT_MSG_MAX_CEILING) and the deframer rejects a larger frame from its
 * header alone, so a peer can never make us wait for or buffer more.
 *
 * Body: one msgpack map whose keys are unsigned integers 0..63. At the top
 * level key 0 is the message type (uint); the other keys are the message's
 * fields. Nested maps follow the same key rule, with key 0 an ordinary field.
 *
 * Encoding uses msgpack-c's packer into a caller's fixed buffer (no heap).
 * Decoding is a small pull reader over the raw bytes, not msgpack_unpack():
 * msgpack-c allocates per declared container size before anything is checked,
 * whereas this reader allocates nothing, recurses only along the schema (so
 * at most KNIT_MSG_MAX_DEPTH deep) and checks every declared length and count
 * against the schema and the bytes left before using it. Values point into
 * the input; arrays and nested maps are re-read on access.
 *
 * Accepted: any msgpack width for integers, lengths and counts (a peer may
 * pack 5 as uint16 or as a non-negative int64). Rejected: nil, floats, ext,
 * negative integers and anything else the schema does not ask for; strings
 * that are not valid UTF-8; unknown or duplicate keys; trailing bytes. */
#ifndef KNIT_MSG_H
#define KNIT_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KNIT_MSG_HEADER_LEN 4
#define KNIT_MSG_MAX_DEFAULT (64 * 1024)      /* body limit most protocols use */
#define KNIT_MSG_MAX_CEILING (1024 * 1024)    /* no limit may exceed this */
#define KNIT_MSG_MAX_KEY 63
/* Containers from the top-level map down: enough for a list of peers, each a
 * map holding a list of addresses (4), with room to spare. */
#define KNIT_MSG_MAX_DEPTH 6

/* ---- framing ------------------------------------------------------------ */

struct knit_msg_frame {
    const uint8_t *body;   /* into the caller's buffer */
    size_t body_len;
    size_t len;            /* header + body: bytes the frame occupies */
};

/* Looks at the bytes of a stream received so far (buf may hold several
 * frames; only the first is looked at). max is the protocol's body limit,
 * 1..KNIT_MSG_MAX_CEILING, else KNIT_E_INVAL.
 *   0               a whole frame: out->body, out->body_len; drop out->len
 *                   bytes from the buffer before the next call.
 *   KNIT_E_AGAIN    incomplete; out->len is how many bytes the buffer must
 *                   hold before the next call can succeed.
 *   KNIT_E_TOO_BIG  the header announces more than max (known from the
 *                   header alone); the stream is beyond repair.
 *   KNIT_E_MALFORMED  the header announces an empty body. */
int knit_msg_deframe(const uint8_t *buf, size_t len, size_t max,
                     struct knit_msg_frame *out);

/* ---- writing ------------------------------------------------------------ */

/* Writes one frame (header and body) into buf. Usage:
 *
 *   struct knit_msg_writer w;
 *   knit_msg_writer_init(&w, buf, sizeof buf);
 *   knit_msg_begin(&w, MSG_FIND_NODE, 2);       2 fields follow the type
 *   knit_msg_put_bin(&w, 1, key, 32);
 *   knit_msg_put_array_begin(&w, 2, n);
 *   for (...) knit_msg_add_bin(&w, addr, addr_len);
 *   knit_msg_array_end(&w);
 *   if ((err = knit_msg_end(&w, &frame_len)) < 0) ...
 *
 * The first error sticks: every later call returns it and does nothing, so
 * checking knit_msg_end() alone is enough. Errors: KNIT_E_NO_SPACE (buffer
 * full), KNIT_E_INVAL (key over 63, more or fewer fields/elements than
 * declared, put where an array is open or add where a map is, a call out of
 * order, str not valid UTF-8), KNIT_E_DUPLICATE (a key twice in one map;
 * key 0 of the top map is the type's),
 * KNIT_E_DEPTH (containers nested past KNIT_MSG_MAX_DEPTH), KNIT_E_TOO_BIG
 * (body or one value over KNIT_MSG_MAX_CEILING). The writer checks counts
 * and keys, not a schema. */
struct knit_msg_wlevel {
    uint64_t seen;              /* keys written, for maps */
    uint32_t left;              /* fields or elements still to write */
    bool is_map;
};

struct knit_msg_writer {
    uint8_t *buf;
    size_t cap;
    size_t len;
    int err;
    uint8_t state;              /* fresh, open, done */
    uint8_t depth;              /* containers open */
    struct knit_msg_wlevel level[KNIT_MSG_MAX_DEPTH];
};

void knit_msg_writer_init(struct knit_msg_writer *w, uint8_t *buf, size_t cap);
/* Opens the top-level map with key 0 = type; field_count fields follow. */
int knit_msg_begin(struct knit_msg_writer *w, uint64_t type,
                   uint32_t field_count);
/* Fields of the innermost open map. */
int knit_msg_put_uint(struct knit_msg_writer *w, unsigned key, uint64_t v);
int knit_msg_put_bool(struct knit_msg_writer *w, unsigned key, bool v);
int knit_msg_put_bin(struct knit_msg_writer *w, unsigned key, const void *p,
                     size_t len);
int knit_msg_put_str(struct knit_msg_writer *w, unsigned key, const char *s,
                     size_t len);
/* Opens a nested map of field_count fields; close with knit_msg_map_end. */
int knit_msg_put_map_begin(struct knit_msg_writer *w, unsigned key,
                           uint32_t field_count);
/* Opens an array of n elements; close with knit_msg_array_end. */
int knit_msg_put_array_begin(struct knit_msg_writer *w, unsigned key,
                             uint32_t n);
/* Elements of the innermost open array. */
int knit_msg_add_uint(struct knit_msg_writer *w, uint64_t v);
int knit_msg_add_bin(struct knit_msg_writer *w, const void *p, size_t len);
int knit_msg_add_str(struct knit_msg_writer *w, const char *s, size_t len);
int knit_msg_add_map_begin(struct knit_msg_writer *w, uint32_t field_count);
/* Close the innermost container; KNIT_E_INVAL if it is of the other kind or
 * not every declared field or element was written. */
int knit_msg_map_end(struct knit_msg_writer *w);
int knit_msg_array_end(struct knit_msg_writer *w);
/* Checks everything is closed and complete, writes the length header and
 * sets *frame_len to the bytes of buf used (header + body). */
int knit_msg_end(struct knit_msg_writer *w, size_t *frame_len);

/* ---- schemas ------------------------------------------------------------ */

enum knit_msg_ftype {
    KNIT_MSG_UINT = 1,         /* max_value bounds it */
    KNIT_MSG_BOOL,
    KNIT_MSG_BIN,              /* min..max bytes */
    KNIT_MSG_STR,              /* min..max bytes of UTF-8 */
    KNIT_MSG_MAP,              /* fields from sub */
    KNIT_MSG_ARRAY_OF_UINT,    /* min..max elements, each <= max_value */
    KNIT_MSG_ARRAY_OF_BIN,     /* min..max elements of elem_min..elem_max */
    KNIT_MSG_ARRAY_OF_STR,     /* likewise */
    KNIT_MSG_ARRAY_OF_MAP,     /* min..max elements, each a map of sub */
};

struct knit_msg_schema;

struct knit_msg_field {
    uint8_t key;               /* 0..63; not 0 in a top-level schema */
    uint8_t type;              /* enum knit_msg_ftype */
    bool required;
    uint32_t min, max;         /* BIN/STR: bytes; ARRAY_OF_*: elements */
    uint32_t elem_min, elem_max; /* ARRAY_OF_BIN/STR: bytes per element */
    uint64_t max_value;        /* UINT, ARRAY_OF_UINT */
    const struct knit_msg_schema *sub;  /* MAP, ARRAY_OF_MAP */
};

struct knit_msg_schema {
    const struct knit_msg_field *fields;
    size_t count;
};

#define KNIT_MSG_REQUIRED true
#define KNIT_MSG_OPTIONAL false

/* Field declarations, e.g.
 *   static const struct knit_msg_field find_node_fields[] = {
 *       KNIT_MSG_F_BIN(1, KNIT_MSG_REQUIRED, 32, 32),
 *       KNIT_MSG_F_ARRAY_OF_MAP(2, KNIT_MSG_OPTIONAL, 0, 20, &peer_schema),
 *   };
 *   static const struct knit_msg_schema find_node =
 *       KNIT_MSG_SCHEMA(find_node_fields); */
#define KNIT_MSG_F_UINT(k, req, maxv) \
    { .key = (k), .type = KNIT_MSG_UINT, .required = (req), .max_value = (maxv) }
#define KNIT_MSG_F_BOOL(k, req) \
    { .key = (k), .type = KNIT_MSG_BOOL, .required = (req) }
#define KNIT_MSG_F_BIN(k, req, lo, hi) \
    { .key = (k), .type = KNIT_MSG_BIN, .required = (req), .min = (lo), .max = (hi) }
#define KNIT_MSG_F_STR(k, req, lo, hi) \
    { .key = (k), .type = KNIT_MSG_STR, .required = (req), .min = (lo), .max = (hi) }
#define KNIT_MSG_F_MAP(k, req, schema) \
    { .key = (k), .type = KNIT_MSG_MAP, .required = (req), .sub = (schema) }
#define KNIT_MSG_F_ARRAY_OF_UINT(k, req, lo, hi, maxv) \
    { .key = (k), .type = KNIT_MSG_ARRAY_OF_UINT, .required = (req), \
      .min = (lo), .max = (hi), .max_value = (maxv) }
#define KNIT_MSG_F_ARRAY_OF_BIN(k, req, lo, hi, elo, ehi) \
    { .key = (k), .type = KNIT_MSG_ARRAY_OF_BIN, .required = (req), \
      .min = (lo), .max = (hi), .elem_min = (elo), .elem_max = (ehi) }
#define KNIT_MSG_F_ARRAY_OF_STR(k, req, lo, hi, elo, ehi) \
    { .key = (k), .type = KNIT_MSG_ARRAY_OF_STR, .required = (req), \
      .min = (lo), .max = (hi), .elem_min = (elo), .elem_max = (ehi) }
#define KNIT_MSG_F_ARRAY_OF_MAP(k, req, lo, hi, schema) \
    { .key = (k), .type = KNIT_MSG_ARRAY_OF_MAP, .required = (req), \
      .min = (lo), .max = (hi), .sub = (schema) }
#define KNIT_MSG_SCHEMA(fields_array) \
    { (fields_array), sizeof(fields_array) / sizeof((fields_array)[0]) }

/* ---- decoding ----------------------------------------------------------- */

/* One decoded field. BIN/STR: p, size = the bytes (STR is not
 * NUL-terminated). ARRAY_OF_*: n elements, p..p+size their encoding. MAP: n
 * entries, likewise. UINT/BOOL: u. */
struct knit_msg_val {
    const uint8_t *p;
    const struct knit_msg_field *field;   /* NULL for the type */
    uint64_t u;
    uint32_t size;
    uint32_t n;
};

/* A decoded map, indexed by key: bit k of present says f[k] holds a value.
 * At the top level f[0].u is the message type. Pointers point into the
 * decoded body, which must outlive this. About 2 KiB: keep it on the stack,
 * one per nesting level being read. */
struct knit_msg {
    uint64_t present;
    struct knit_msg_val f[KNIT_MSG_MAX_KEY + 1];
};

/* Reads only the type (key 0) of a body so the caller can pick the schema.
 * Checks no more than it must: KNIT_E_TYPE (not a map, a key or the type not
 * a uint), KNIT_E_MISSING (no key 0), KNIT_E_TRUNCATED, KNIT_E_MALFORMED.
 * Unknown types are the caller's to reject (KNIT_E_UNSUPPORTED suits). */
int knit_msg_peek_type(const uint8_t *body, size_t len, uint64_t *type);

/* A protocol's message with one schema per type, in one call: refuses a
 * body over max (KNIT_E_TOO_BIG), reads its type, asks schema_of for that
 * type's schema (NULL: KNIT_E_UNSUPPORTED) and decodes it into *out. */
int knit_msg_decode_typed(const uint8_t *body, size_t len, size_t max,
                          const struct knit_msg_schema *(*schema_of)(
                              uint64_t type),
                          uint64_t *type, struct knit_msg *out);

/* Validates the whole body against schema (which lists the fields besides
 * the type; key 0 is always a required uint) and fills *out. Errors, the
 * first one met in reading order:
 *   KNIT_E_TYPE          body not a map; key not a uint; a value of the wrong
 *                        type (including nil, float, ext, negative integer)
 *   KNIT_E_DEPTH         a map or array where the schema has a scalar (or
 *                        nesting past KNIT_MSG_MAX_DEPTH, which only a
 *                        schema that deep, e.g. one containing itself, lets
 *                        input reach)
 *   KNIT_E_UNKNOWN_FIELD a key over 63 or not in the schema
 *   KNIT_E_DUPLICATE     a key twice in one map
 *   KNIT_E_TOO_BIG       a length or count over its max, a uint over its
 *                        max_value, a body over KNIT_MSG_MAX_CEILING, a map
 *                        of more than 64 entries
 *   KNIT_E_LENGTH        a length or count under its min, or any other
 *                        length when min == max (a fixed-size item)
 *   KNIT_E_MISSING       a required field absent (checked at the map's end)
 *   KNIT_E_TRUNCATED     the body ends inside an item (or is empty)
 *   KNIT_E_TRAILING      bytes after the map
 *   KNIT_E_MALFORMED     a byte msgpack never uses (0xc1); a str not UTF-8
 *   KNIT_E_INVAL         a broken schema (key over 63 or 0 at the top level,
 *                        a key twice, min > max, unknown type, MAP without
 *                        sub-schema)
 * On error *out is cleared. Uses no heap and a fixed amount of stack. */
int knit_msg_decode(const uint8_t *body, size_t len,
                    const struct knit_msg_schema *schema,
                    struct knit_msg *out);

/* The public decoder of a protocol's messages around its own body
 * decoder: KNIT_E_INVAL for no out, or no body with a length; *out (of
 * out_size bytes) is zeroed before decode runs and again when it fails,
 * so a caller never holds half a message. */
int knit_msg_decode_whole(const uint8_t *body, size_t len, void *out,
                          size_t out_size,
                          int (*decode)(const uint8_t *body, size_t len,
                                        void *out));

bool knit_msg_has(const struct knit_msg *m, unsigned key);
/* The value of a UINT or BOOL field, 0 when absent. */
uint64_t knit_msg_uint(const struct knit_msg *m, unsigned key);
/* The bytes of a BIN or STR field, NULL (and *len 0) when absent. */
const uint8_t *knit_msg_bytes(const struct knit_msg *m, unsigned key,
                              size_t *len);
/* Decodes a MAP field into *out; KNIT_E_NOT_FOUND when absent, KNIT_E_TYPE
 * when the field is not a MAP. */
int knit_msg_get_map(const struct knit_msg *m, unsigned key,
                     struct knit_msg *out);

/* Walks an ARRAY_OF_* field, re-reading the body one element at a time. */
struct knit_msg_iter {
    const uint8_t *p, *end;
    const struct knit_msg_field *field;
    uint32_t left;
};

/* An absent field walks as empty. KNIT_E_TYPE if key is not an array. */
int knit_msg_iter_init(struct knit_msg_iter *it, const struct knit_msg *m,
                       unsigned key);
/* Each returns 0 with the next element, KNIT_E_NOT_FOUND past the last, or
 * KNIT_E_TYPE when the array holds another type. */
int knit_msg_next_uint(struct knit_msg_iter *it, uint64_t *v);
int knit_msg_next_bytes(struct knit_msg_iter *it, const uint8_t **p,
                        size_t *len);
int knit_msg_next_map(struct knit_msg_iter *it, struct knit_msg *out);

#endif
