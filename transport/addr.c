#include "io.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "error.h"

bool knit_addr_equal(const struct knit_addr *a, const struct knit_addr *b)
{
    if (a->family != b->family || a->port != b->port)
        return false;
    size_t n = a->family == KNIT_AF_IP4 ? 4 : 16;
    return memcmp(a->ip, b->ip, n) == 0;
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
