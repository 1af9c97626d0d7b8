/* PCP MAP requests and responses (RFC 6887); layout in pcp_msg.h. */
#include "pcp_msg.h"

#include <string.h>

#include "transport/error.h"

#define R_BIT 0x80
#define OPTION_HEADER_LEN 4

static const uint8_t v4_mapped_prefix[12] = {0, 0, 0, 0, 0, 0,
                                             0, 0, 0, 0, 0xff, 0xff};

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
           ((uint32_t)p[2] << 8) | p[3];
}

static bool is_ip(const struct knit_addr *a)
{
    return a->family == KNIT_AF_IP4 || a->family == KNIT_AF_IP6;
}

/* An address as PCP's 16 bytes: IPv4 becomes ::ffff:a.b.c.d. */
static void put_ip(uint8_t out[16], const struct knit_addr *a)
{
    if (a->family == KNIT_AF_IP4) {
        memcpy(out, v4_mapped_prefix, sizeof v4_mapped_prefix);
        memcpy(out + 12, a->ip, 4);
    } else {
        memcpy(out, a->ip, 16);
    }
}

static void get_ip(const uint8_t in[16], uint16_t port, struct knit_addr *a)
{
    if (memcmp(in, v4_mapped_prefix, sizeof v4_mapped_prefix) == 0)
        knit_addr_set(a, in + 12, 4, port);
    else
        knit_addr_set(a, in, 16, port);
}

int knit_pcp_map_request_encode(const struct knit_pcp_map_request *req,
                                uint8_t *out, size_t cap, size_t *len)
{
    if (!req || !out || !len || !is_ip(&req->client) || req->protocol == 0 ||
        req->internal_port == 0)
        return KNIT_E_INVAL;
    if (req->suggested.family != 0 &&
        req->suggested.family != req->client.family)
        return KNIT_E_INVAL;
    if (cap < KNIT_PCP_MAP_LEN)
        return KNIT_E_NO_SPACE;
    memset(out, 0, KNIT_PCP_MAP_LEN);
    out[0] = KNIT_PCP_VERSION;
    out[1] = KNIT_PCP_OPCODE_MAP;
    put32(out + 4, req->lifetime_s);
    put_ip(out + 8, &req->client);
    memcpy(out + 24, req->nonce, KNIT_PCP_NONCE_LEN);
    out[36] = req->protocol;
    put16(out + 40, req->internal_port);
    put16(out + 42, req->suggested.port);
    if (req->suggested.family != 0) {
        put_ip(out + 44, &req->suggested);
    } else if (req->client.family == KNIT_AF_IP4) {
        /* "Any IPv4 address" is ::ffff:0.0.0.0, not :: (section 11.1). */
        memcpy(out + 44, v4_mapped_prefix, sizeof v4_mapped_prefix);
    }
    *len = KNIT_PCP_MAP_LEN;
    return KNIT_OK;
}

/* Options follow the MAP payload; each must fit. Their content is not
 * needed: a client ignores options it does not ask for. */
static int check_options(const uint8_t *p, size_t len)
{
    size_t at = 0;
    while (at < len) {
        if (len - at < OPTION_HEADER_LEN)
            return KNIT_E_TRUNCATED;
        size_t data = get16(p + at + 2);
        size_t padded = (data + 3) & ~(size_t)3;
        if (padded > len - at - OPTION_HEADER_LEN)
            return KNIT_E_TRUNCATED;
        at += OPTION_HEADER_LEN + padded;
    }
    return KNIT_OK;
}

static int decode(const uint8_t *pkt, size_t len,
                  struct knit_pcp_map_response *out)
{
    if (len == 0)
        return KNIT_E_TRUNCATED;
    /* The version first: a NAT-PMP gateway's 8-byte "unsupported version"
     * answer must read as such, not as a short PCP packet. */
    if (pkt[0] != KNIT_PCP_VERSION)
        return KNIT_E_UNSUPPORTED;
    if (len < KNIT_PCP_HEADER_LEN)
        return KNIT_E_TRUNCATED;
    if (len > KNIT_PCP_MAX_LEN)
        return KNIT_E_TOO_BIG;
    if (len % 4 != 0)
        return KNIT_E_MALFORMED;
    if (!(pkt[1] & R_BIT))
        return KNIT_E_MALFORMED;
    if ((pkt[1] & ~R_BIT) != KNIT_PCP_OPCODE_MAP)
        return KNIT_E_TYPE;
    out->result = pkt[3];
    out->lifetime_s = get32(pkt + 4);
    out->epoch_s = get32(pkt + 8);
    if (len < KNIT_PCP_MAP_LEN)
        return out->result == KNIT_PCP_SUCCESS ? KNIT_E_TRUNCATED : KNIT_OK;
    out->has_map = true;
    memcpy(out->nonce, pkt + 24, KNIT_PCP_NONCE_LEN);
    out->protocol = pkt[36];
    out->internal_port = get16(pkt + 40);
    get_ip(pkt + 44, get16(pkt + 42), &out->external);
    if (out->result == KNIT_PCP_SUCCESS && out->lifetime_s != 0 &&
        out->external.port == 0)
        return KNIT_E_MALFORMED;
    return check_options(pkt + KNIT_PCP_MAP_LEN, len - KNIT_PCP_MAP_LEN);
}

int knit_pcp_map_response_decode(const uint8_t *pkt, size_t len,
                                 struct knit_pcp_map_response *out)
{
    if (!out)
        return KNIT_E_INVAL;
    memset(out, 0, sizeof *out);
    if (!pkt)
        return KNIT_E_INVAL;
    int err = decode(pkt, len, out);
    if (err)
        memset(out, 0, sizeof *out);
    return err;
}

int knit_pcp_map_response_encode(const struct knit_pcp_map_response *resp,
                                 uint8_t *out, size_t cap, size_t *len)
{
    if (!resp || !out || !len || (resp->has_map && !is_ip(&resp->external)))
        return KNIT_E_INVAL;
    size_t need = resp->has_map ? KNIT_PCP_MAP_LEN : KNIT_PCP_HEADER_LEN;
    if (cap < need)
        return KNIT_E_NO_SPACE;
    memset(out, 0, need);
    out[0] = KNIT_PCP_VERSION;
    out[1] = R_BIT | KNIT_PCP_OPCODE_MAP;
    out[3] = resp->result;
    put32(out + 4, resp->lifetime_s);
    put32(out + 8, resp->epoch_s);
    if (resp->has_map) {
        memcpy(out + 24, resp->nonce, KNIT_PCP_NONCE_LEN);
        out[36] = resp->protocol;
        put16(out + 40, resp->internal_port);
        put16(out + 42, resp->external.port);
        put_ip(out + 44, &resp->external);
    }
    *len = need;
    return KNIT_OK;
}

bool knit_pcp_map_response_matches(const struct knit_pcp_map_request *req,
                                   const struct knit_pcp_map_response *resp)
{
    return req && resp && resp->has_map &&
           memcmp(req->nonce, resp->nonce, KNIT_PCP_NONCE_LEN) == 0 &&
           req->protocol == resp->protocol &&
           req->internal_port == resp->internal_port;
}

const char *knit_pcp_result_name(uint8_t result)
{
    static const char *const names[] = {
        "SUCCESS",           "UNSUPP_VERSION",  "NOT_AUTHORIZED",
        "MALFORMED_REQUEST", "UNSUPP_OPCODE",   "UNSUPP_OPTION",
        "MALFORMED_OPTION",  "NETWORK_FAILURE", "NO_RESOURCES",
        "UNSUPP_PROTOCOL",   "USER_EX_QUOTA",   "CANNOT_PROVIDE_EXTERNAL",
        "ADDRESS_MISMATCH",  "EXCESSIVE_REMOTE_PEERS",
    };
    return result < sizeof names / sizeof names[0] ? names[result]
                                                   : "UNKNOWN";
}
