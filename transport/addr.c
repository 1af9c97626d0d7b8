#include "io.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "error.h"

bool knit_addr_same_ip(const struct knit_addr *a, const struct knit_addr *b)
{
    if (a->family != b->family)
        return false;
    /* Constant lengths, so the compiler compares in place rather than
     * calling memcmp: this runs in loops over whole tables. */
    return a->family == KNIT_AF_IP4 ? memcmp(a->ip, b->ip, 4) == 0
                                    : memcmp(a->ip, b->ip, 16) == 0;
}

bool knit_addr_equal(const struct knit_addr *a, const struct knit_addr *b)
{
    return a->port == b->port && knit_addr_same_ip(a, b);
}

int knit_addr_set(struct knit_addr *a, const uint8_t *ip, size_t len,
                  uint16_t port)
{
    if (len != 4 && len != 16)
        return KNIT_E_LENGTH;
    memset(a, 0, sizeof *a);
    a->family = len == 4 ? KNIT_AF_IP4 : KNIT_AF_IP6;
    memcpy(a->ip, ip, len);
    a->port = port;
    return KNIT_OK;
}

bool knit_addr_is_unspecified(const struct knit_addr *a)
{
    static const uint8_t zero[16];
    size_t n = a->family == KNIT_AF_IP4 ? 4 : 16;
    return memcmp(a->ip, zero, n) == 0;
}

bool knit_addr_is_global(const struct knit_addr *a)
{
    const uint8_t *ip = a->ip;
    if (a->family == KNIT_AF_IP4) {
        return !(ip[0] == 0 || ip[0] == 10 || ip[0] == 127 ||
                 (ip[0] == 100 && (ip[1] & 0xc0) == 64) ||      /* CGNAT */
                 (ip[0] == 169 && ip[1] == 254) ||
                 (ip[0] == 172 && (ip[1] & 0xf0) == 16) ||
                 (ip[0] == 192 && ip[1] == 168) || ip[0] >= 224);
    }
    if (a->family != KNIT_AF_IP6)
        return false;
    static const uint8_t loopback[16] = {[15] = 1};
    if (knit_addr_is_unspecified(a) || memcmp(ip, loopback, 16) == 0)
        return false;
    static const uint8_t v4mapped[12] = {[10] = 0xff, [11] = 0xff};
    if (memcmp(ip, v4mapped, 12) == 0) {
        struct knit_addr v4 = {.family = KNIT_AF_IP4};
        memcpy(v4.ip, ip + 12, 4);
        return knit_addr_is_global(&v4);
    }
    return !((ip[0] & 0xfe) == 0xfc ||                  /* unique local */
             (ip[0] == 0xfe && (ip[1] & 0xc0) == 0x80) ||   /* link-local */
             ip[0] == 0xff);                             /* multicast */
}

int knit_addr_format(const struct knit_addr *a, char *out, size_t cap)
{
    char ip[INET6_ADDRSTRLEN];
    int n;
    if (a->family == KNIT_AF_IP4) {
        if (!inet_ntop(AF_INET, a->ip, ip, sizeof ip))
            return KNIT_E_BAD_IP;
        n = snprintf(out, cap, "%s:%u", ip, (unsigned)a->port);
    } else if (a->family == KNIT_AF_IP6) {
        if (!inet_ntop(AF_INET6, a->ip, ip, sizeof ip))
            return KNIT_E_BAD_IP;
        n = snprintf(out, cap, "[%s]:%u", ip, (unsigned)a->port);
    } else {
        return KNIT_E_INVAL;
    }
    if (n < 0 || (size_t)n >= cap)
        return KNIT_E_NO_SPACE;
    return KNIT_OK;
}
