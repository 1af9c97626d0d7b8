#include "multiaddr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "transport/error.h"

/* A code varint longer than this cannot name any protocol we speak; 3 bytes
 * (21 bits) is what libp2p itself allows for multicodecs. Lengths use the same
 * bound: no value here is anywhere near 2^21 bytes. */
#define VARINT_MAX_BYTES 3

struct proto_info {
    uint16_t code;
    const char *name;
    size_t value_len;   /* fixed size in binary; 0 for none or varint-sized */
    bool has_value;
};

static const struct proto_info protocols[] = {
    { KNIT_MA_IP4, "ip4", 4, true },
    { KNIT_MA_IP6, "ip6", 16, true },
    { KNIT_MA_UDP, "udp", 2, true },
    { KNIT_MA_P2P_CIRCUIT, "p2p-circuit", 0, false },
    { KNIT_MA_P2P, "p2p", 0, true },
};

static const struct proto_info *proto_by_code(uint32_t code)
{
    for (size_t i = 0; i < sizeof protocols / sizeof protocols[0]; i++)
        if (protocols[i].code == code)
            return &protocols[i];
    return NULL;
}

static const struct proto_info *proto_by_name(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof protocols / sizeof protocols[0]; i++)
        if (strlen(protocols[i].name) == len &&
            memcmp(protocols[i].name, name, len) == 0)
            return &protocols[i];
    return NULL;
}

/* The accepted shapes as a state machine, shared by all four directions so
 * text, binary and hand-built structs obey exactly the same rules. */
enum shape_state {
    S_START,
    S_IP,        /* /ipX/<ip>, waiting for /udp */
    S_ENDPOINT,  /* complete: /ipX/<ip>/udp/<port> */
    S_PEER,      /* complete: [endpoint]/p2p/<id> */
    S_CIRCUIT,   /* complete: .../p2p/<relay>/p2p-circuit */
    S_TARGET,    /* complete and final: .../p2p-circuit/p2p/<target> */
};

static int shape_step(enum shape_state *st, uint16_t proto)
{
    enum shape_state next;
    switch (*st) {
    case S_START:
        if (proto == KNIT_MA_IP4 || proto == KNIT_MA_IP6)
            next = S_IP;
        else if (proto == KNIT_MA_P2P)
            next = S_PEER;
        else
            return KNIT_E_SHAPE;
        break;
    case S_IP:
        if (proto != KNIT_MA_UDP)
            return KNIT_E_SHAPE;
        next = S_ENDPOINT;
        break;
    case S_ENDPOINT:
        if (proto != KNIT_MA_P2P)
            return KNIT_E_SHAPE;
        next = S_PEER;
        break;
    case S_PEER:
        if (proto != KNIT_MA_P2P_CIRCUIT)
            return KNIT_E_SHAPE;
        next = S_CIRCUIT;
        break;
    case S_CIRCUIT:
        if (proto != KNIT_MA_P2P)
            return KNIT_E_SHAPE;
        next = S_TARGET;
        break;
    case S_TARGET:
    default:
        /* Nothing may follow a circuit target: these are extra components. */
        return KNIT_E_TRAILING;
    }
    *st = next;
    return KNIT_OK;
}

static bool shape_complete(enum shape_state st)
{
    return st == S_ENDPOINT || st == S_PEER || st == S_CIRCUIT ||
           st == S_TARGET;
}

/* For the encoders: a struct built by hand must be refused, not encoded. */
static int check_shape(const struct knit_multiaddr *ma)
{
    if (ma->count > KNIT_MA_MAX_COMPONENTS)
        return KNIT_E_TRAILING;
    enum shape_state st = S_START;
    for (size_t i = 0; i < ma->count; i++) {
        if (!proto_by_code(ma->c[i].protocol))
            return KNIT_E_UNKNOWN_PROTOCOL;
        int err = shape_step(&st, ma->c[i].protocol);
        if (err)
            return err;
    }
    return shape_complete(st) ? KNIT_OK : KNIT_E_SHAPE;
}

/* ---- text ------------------------------------------------------------- */

static size_t next_slash(const char *text, size_t from, size_t len)
{
    while (from < len && text[from] != '/')
        from++;
    return from;
}

static int parse_ip(struct knit_ma_component *c, const char *s, size_t len)
{
    char buf[INET6_ADDRSTRLEN];
    if (len >= sizeof buf)
        return KNIT_E_BAD_IP;
    /* A NUL would let inet_pton see only a prefix of the value; a zone ID
     * ('%eth0') names a local interface, which means nothing to a peer. */
    if (memchr(s, '\0', len) || memchr(s, '%', len))
        return KNIT_E_BAD_IP;
    memcpy(buf, s, len);
    buf[len] = '\0';
    int af = c->protocol == KNIT_MA_IP4 ? AF_INET : AF_INET6;
    if (inet_pton(af, buf, c->protocol == KNIT_MA_IP4 ? c->v.ip4 : c->v.ip6)
        != 1)
        return KNIT_E_BAD_IP;
    return KNIT_OK;
}

/* Leading zeros are refused ("04001", "00") so that every accepted text has
 * exactly one binary form and back: text -> binary -> text is the identity. */
static int parse_port(uint16_t *port, const char *s, size_t len)
{
    if (len == 0 || len > 5 || (len > 1 && s[0] == '0'))
        return KNIT_E_BAD_PORT;
    uint32_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return KNIT_E_BAD_PORT;
        v = v * 10 + (uint32_t)(s[i] - '0');
    }
    if (v > 65535)
        return KNIT_E_BAD_PORT;
    *port = (uint16_t)v;
    return KNIT_OK;
}

static int parse_value(struct knit_ma_component *c, const char *s, size_t len)
{
    switch (c->protocol) {
    case KNIT_MA_IP4:
    case KNIT_MA_IP6:
        return parse_ip(c, s, len);
    case KNIT_MA_UDP:
        return parse_port(&c->v.port, s, len);
    case KNIT_MA_P2P:
        return knit_peer_id_from_text(&c->v.peer, s, len);
    default:
        return KNIT_E_UNKNOWN_PROTOCOL;
    }
}

static int parse_text(struct knit_multiaddr *ma, const char *text, size_t len)
{
    if (len == 0 || text[0] != '/')
        return KNIT_E_MALFORMED;
    enum shape_state st = S_START;
    size_t pos = 0;   /* always at a '/' or at len */
    while (pos < len) {
        size_t start = pos + 1;
        size_t end = next_slash(text, start, len);
        if (end == start) {
            if (end < len)
                return KNIT_E_MALFORMED;       /* "//" */
            /* "/" alone has no address at all; after one it is trailing. */
            return ma->count == 0 ? KNIT_E_MALFORMED : KNIT_E_TRAILING;
        }
        const struct proto_info *p = proto_by_name(text + start, end - start);
        if (!p)
            return KNIT_E_UNKNOWN_PROTOCOL;
        int err = shape_step(&st, p->code);
        if (err)
            return err;
        /* shape_step bounds the count: S_TARGET refuses a 7th component. */
        struct knit_ma_component *c = &ma->c[ma->count];
        c->protocol = p->code;
        pos = end;
        if (p->has_value) {
            if (pos == len)
                return KNIT_E_TRUNCATED;
            size_t vstart = pos + 1;
            size_t vend = next_slash(text, vstart, len);
            if (vend == vstart)
                return vend == len ? KNIT_E_TRUNCATED : KNIT_E_MALFORMED;
            err = parse_value(c, text + vstart, vend - vstart);
            if (err)
                return err;
            pos = vend;
        }
        ma->count++;
    }
    return shape_complete(st) ? KNIT_OK : KNIT_E_SHAPE;
}

int knit_multiaddr_parse(struct knit_multiaddr *ma, const char *text,
                         size_t len)
{
    if (!ma || (!text && len))
        return KNIT_E_INVAL;
    /* Zeroed so unused union bytes never hold stale data. */
    memset(ma, 0, sizeof *ma);
    if (len >= KNIT_MA_TEXT_MAX)
        return KNIT_E_TOO_BIG;
    int err = parse_text(ma, text, len);
    if (err)
        memset(ma, 0, sizeof *ma);
    return err;
}

static int put_text(char *out, size_t cap, size_t *pos, const char *s)
{
    size_t n = strlen(s);
    if (n >= cap - *pos)
        return KNIT_E_NO_SPACE;
    memcpy(out + *pos, s, n + 1);
    *pos += n;
    return KNIT_OK;
}

static int format_value(const struct knit_ma_component *c, char *buf,
                        size_t cap)
{
    switch (c->protocol) {
    case KNIT_MA_IP4:
        return inet_ntop(AF_INET, c->v.ip4, buf, (socklen_t)cap)
                   ? KNIT_OK : KNIT_E_BAD_IP;
    case KNIT_MA_IP6:
        return inet_ntop(AF_INET6, c->v.ip6, buf, (socklen_t)cap)
                   ? KNIT_OK : KNIT_E_BAD_IP;
    case KNIT_MA_UDP:
        snprintf(buf, cap, "%u", (unsigned)c->v.port);
        return KNIT_OK;
    case KNIT_MA_P2P:
        return knit_peer_id_to_text(&c->v.peer, buf, cap);
    default:
        buf[0] = '\0';
        return KNIT_OK;
    }
}

int knit_multiaddr_format(const struct knit_multiaddr *ma, char *out,
                          size_t cap)
{
    if (!ma || !out || cap == 0)
        return KNIT_E_INVAL;
    out[0] = '\0';
    int err = check_shape(ma);
    if (err)
        return err;
    size_t pos = 0;
    for (size_t i = 0; i < ma->count; i++) {
        const struct knit_ma_component *c = &ma->c[i];
        const struct proto_info *p = proto_by_code(c->protocol);
        /* Big enough for an IPv6 text and a peer ID text alike. */
        char value[KNIT_PEER_ID_TEXT_MAX > INET6_ADDRSTRLEN
                       ? KNIT_PEER_ID_TEXT_MAX : INET6_ADDRSTRLEN];
        if ((err = put_text(out, cap, &pos, "/")) ||
            (err = put_text(out, cap, &pos, p->name)))
            break;
        if (!p->has_value)
            continue;
        if ((err = format_value(c, value, sizeof value)) ||
            (err = put_text(out, cap, &pos, "/")) ||
            (err = put_text(out, cap, &pos, value)))
            break;
    }
    if (err)
        out[0] = '\0';
    return err;
}

/* ---- binary ----------------------------------------------------------- */

/* Unsigned LEB128, minimal form only: a final 0x00 byte after others would
 * give a second encoding of the same number, which signed records cannot
 * tolerate. */
static int read_varint(const uint8_t *in, size_t len, size_t *pos,
                       uint32_t *out)
{
    uint32_t v = 0;
    for (size_t i = 0; i < VARINT_MAX_BYTES; i++) {
        if (*pos >= len)
            return KNIT_E_TRUNCATED;
        uint8_t b = in[(*pos)++];
        v |= (uint32_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            if (b == 0 && i > 0)
                return KNIT_E_NONCANONICAL;
            *out = v;
            return KNIT_OK;
        }
    }
    return KNIT_E_MALFORMED;
}

static int put_varint(uint8_t *out, size_t cap, size_t *pos, uint32_t v)
{
    do {
        if (*pos >= cap)
            return KNIT_E_NO_SPACE;
        uint8_t b = v & 0x7f;
        v >>= 7;
        out[(*pos)++] = (uint8_t)(v ? b | 0x80 : b);
    } while (v);
    return KNIT_OK;
}

static int put_bytes(uint8_t *out, size_t cap, size_t *pos, const uint8_t *b,
                     size_t n)
{
    if (n > cap - *pos)
        return KNIT_E_NO_SPACE;
    memcpy(out + *pos, b, n);
    *pos += n;
    return KNIT_OK;
}

static int decode_value(struct knit_ma_component *c,
                        const struct proto_info *p, const uint8_t *in,
                        size_t len, size_t *pos)
{
    if (c->protocol == KNIT_MA_P2P) {
        uint32_t n;
        int err = read_varint(in, len, pos, &n);
        if (err)
            return err;
        if (n > len - *pos)
            return KNIT_E_TRUNCATED;
        err = knit_peer_id_from_bytes(&c->v.peer, in + *pos, n);
        if (err)
            return err;
        *pos += n;
        return KNIT_OK;
    }
    if (p->value_len > len - *pos)
        return KNIT_E_TRUNCATED;
    const uint8_t *v = in + *pos;
    switch (c->protocol) {
    case KNIT_MA_IP4:
        memcpy(c->v.ip4, v, 4);
        break;
    case KNIT_MA_IP6:
        memcpy(c->v.ip6, v, 16);
        break;
    case KNIT_MA_UDP:
        c->v.port = (uint16_t)(v[0] << 8 | v[1]);
        break;
    default:
        break;
    }
    *pos += p->value_len;
    return KNIT_OK;
}

static int decode_binary(struct knit_multiaddr *ma, const uint8_t *in,
                         size_t len)
{
    if (len == 0)
        return KNIT_E_TRUNCATED;
    enum shape_state st = S_START;
    size_t pos = 0;
    while (pos < len) {
        uint32_t code;
        int err = read_varint(in, len, &pos, &code);
        if (err)
            return err;
        const struct proto_info *p = proto_by_code(code);
        if (!p)
            return KNIT_E_UNKNOWN_PROTOCOL;
        if ((err = shape_step(&st, p->code)))
            return err;
        struct knit_ma_component *c = &ma->c[ma->count];
        c->protocol = p->code;
        if ((err = decode_value(c, p, in, len, &pos)))
            return err;
        ma->count++;
    }
    return shape_complete(st) ? KNIT_OK : KNIT_E_SHAPE;
}

int knit_multiaddr_decode(struct knit_multiaddr *ma, const uint8_t *in,
                          size_t len)
{
    if (!ma || (!in && len))
        return KNIT_E_INVAL;
    memset(ma, 0, sizeof *ma);
    if (len > KNIT_MA_BINARY_MAX)
        return KNIT_E_TOO_BIG;
    int err = decode_binary(ma, in, len);
    if (err)
        memset(ma, 0, sizeof *ma);
    return err;
}

int knit_multiaddr_encode(const struct knit_multiaddr *ma, uint8_t *out,
                          size_t cap, size_t *out_len)
{
    if (!ma || !out || !out_len)
        return KNIT_E_INVAL;
    *out_len = 0;
    int err = check_shape(ma);
    if (err)
        return err;
    size_t pos = 0;
    for (size_t i = 0; i < ma->count && !err; i++) {
        const struct knit_ma_component *c = &ma->c[i];
        if ((err = put_varint(out, cap, &pos, c->protocol)))
            break;
        switch (c->protocol) {
        case KNIT_MA_IP4:
            err = put_bytes(out, cap, &pos, c->v.ip4, 4);
            break;
        case KNIT_MA_IP6:
            err = put_bytes(out, cap, &pos, c->v.ip6, 16);
            break;
        case KNIT_MA_UDP: {
            uint8_t be[2] = { (uint8_t)(c->v.port >> 8),
                              (uint8_t)(c->v.port & 0xff) };
            err = put_bytes(out, cap, &pos, be, 2);
            break;
        }
        case KNIT_MA_P2P: {
            uint8_t id[KNIT_PEER_ID_BYTES];
            knit_peer_id_to_bytes(&c->v.peer, id);
            if (!(err = put_varint(out, cap, &pos, KNIT_PEER_ID_BYTES)))
                err = put_bytes(out, cap, &pos, id, sizeof id);
            break;
        }
        default:
            break;
        }
    }
    if (err)
        return err;
    *out_len = pos;
    return KNIT_OK;
}

/* ---- helpers ---------------------------------------------------------- */

static bool component_equal(const struct knit_ma_component *a,
                            const struct knit_ma_component *b)
{
    if (a->protocol != b->protocol)
        return false;
    /* Per protocol, so bytes of the union that a value does not use are
     * never read, whoever built the struct. */
    switch (a->protocol) {
    case KNIT_MA_IP4:
        return memcmp(a->v.ip4, b->v.ip4, 4) == 0;
    case KNIT_MA_IP6:
        return memcmp(a->v.ip6, b->v.ip6, 16) == 0;
    case KNIT_MA_UDP:
        return a->v.port == b->v.port;
    case KNIT_MA_P2P:
        return knit_peer_id_equal(&a->v.peer, &b->v.peer);
    default:
        return true;
    }
}

bool knit_multiaddr_equal(const struct knit_multiaddr *a,
                          const struct knit_multiaddr *b)
{
    if (a->count != b->count || a->count > KNIT_MA_MAX_COMPONENTS)
        return false;
    for (size_t i = 0; i < a->count; i++)
        if (!component_equal(&a->c[i], &b->c[i]))
            return false;
    return true;
}

int knit_multiaddr_from_socket(struct knit_multiaddr *ma,
                               const struct knit_addr *addr,
                               const struct knit_peer_id *peer)
{
    if (!ma || !addr)
        return KNIT_E_INVAL;
    memset(ma, 0, sizeof *ma);
    if (addr->family == KNIT_AF_IP4) {
        ma->c[0].protocol = KNIT_MA_IP4;
        memcpy(ma->c[0].v.ip4, addr->ip, 4);
    } else if (addr->family == KNIT_AF_IP6) {
        ma->c[0].protocol = KNIT_MA_IP6;
        memcpy(ma->c[0].v.ip6, addr->ip, 16);
    } else {
        return KNIT_E_INVAL;
    }
    ma->c[1].protocol = KNIT_MA_UDP;
    ma->c[1].v.port = addr->port;
    ma->count = 2;
    if (peer) {
        ma->c[2].protocol = KNIT_MA_P2P;
        ma->c[2].v.peer = *peer;
        ma->count = 3;
    }
    return KNIT_OK;
}

int knit_multiaddr_to_socket(const struct knit_multiaddr *ma,
                             struct knit_addr *addr)
{
    if (!ma || !addr)
        return KNIT_E_INVAL;
    if (ma->count < 2 || ma->count > KNIT_MA_MAX_COMPONENTS ||
        ma->c[1].protocol != KNIT_MA_UDP)
        return KNIT_E_NOT_FOUND;
    if (ma->c[0].protocol == KNIT_MA_IP4)
        return knit_addr_set(addr, ma->c[0].v.ip4, 4, ma->c[1].v.port);
    if (ma->c[0].protocol == KNIT_MA_IP6)
        return knit_addr_set(addr, ma->c[0].v.ip6, 16, ma->c[1].v.port);
    return KNIT_E_NOT_FOUND;
}

int knit_multiaddr_peer(const struct knit_multiaddr *ma,
                        struct knit_peer_id *peer)
{
    if (!ma || !peer)
        return KNIT_E_INVAL;
    size_t n = ma->count > KNIT_MA_MAX_COMPONENTS ? KNIT_MA_MAX_COMPONENTS
                                                  : ma->count;
    for (size_t i = n; i-- > 0;) {
        if (ma->c[i].protocol == KNIT_MA_P2P) {
            *peer = ma->c[i].v.peer;
            return KNIT_OK;
        }
    }
    return KNIT_E_NOT_FOUND;
}

/* Index of the /p2p-circuit component, or -1. */
static int circuit_index(const struct knit_multiaddr *ma)
{
    size_t n = ma->count > KNIT_MA_MAX_COMPONENTS ? KNIT_MA_MAX_COMPONENTS
                                                  : ma->count;
    for (size_t i = 0; i < n; i++)
        if (ma->c[i].protocol == KNIT_MA_P2P_CIRCUIT)
            return (int)i;
    return -1;
}

bool knit_multiaddr_is_circuit(const struct knit_multiaddr *ma)
{
    return ma && circuit_index(ma) >= 0;
}

int knit_multiaddr_relay(const struct knit_multiaddr *ma,
                         struct knit_peer_id *relay)
{
    if (!ma || !relay)
        return KNIT_E_INVAL;
    int i = circuit_index(ma);
    if (i < 1 || ma->c[i - 1].protocol != KNIT_MA_P2P)
        return KNIT_E_NOT_FOUND;
    *relay = ma->c[i - 1].v.peer;
    return KNIT_OK;
}

int knit_multiaddr_decode_endpoint(struct knit_addr *out, const uint8_t *in,
                                   size_t len)
{
    struct knit_multiaddr ma;
    int err = knit_multiaddr_decode(&ma, in, len);
    if (err)
        return err;
    if (ma.count != 2 ||
        (ma.c[0].protocol != KNIT_MA_IP4 && ma.c[0].protocol != KNIT_MA_IP6) ||
        ma.c[1].protocol != KNIT_MA_UDP)
        return KNIT_E_SHAPE;
    return knit_multiaddr_to_socket(&ma, out);
}

int knit_endpoint_check(const struct knit_addr *a)
{
    if (a->family != KNIT_AF_IP4 && a->family != KNIT_AF_IP6)
        return KNIT_E_SHAPE;
    if (knit_addr_is_unspecified(a))
        return KNIT_E_BAD_IP;
    if (a->port == 0)
        return KNIT_E_BAD_PORT;
    return KNIT_OK;
}
