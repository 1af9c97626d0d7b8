#include "bootstrap_list.h"

#include <string.h>

#include "proto/multiaddr.h"
#include "transport/error.h"

int knit_bootstrap_parse_one(const char *text, size_t len,
                             struct knit_bootstrap_peer *out)
{
    struct knit_multiaddr ma;
    struct knit_bootstrap_peer p;
    int err = knit_multiaddr_parse(&ma, text, len);
    if (err)
        return err;
    /* The endpoint + /p2p shape, and nothing else: a bare /p2p/<id> cannot
     * be dialed, and a circuit needs a relay we are not connected to. */
    if (ma.count != 3 || ma.c[1].protocol != KNIT_MA_UDP ||
        ma.c[2].protocol != KNIT_MA_P2P ||
        knit_multiaddr_to_socket(&ma, &p.addr) != KNIT_OK ||
        knit_multiaddr_peer(&ma, &p.id) != KNIT_OK)
        return KNIT_E_SHAPE;
    if (knit_addr_is_unspecified(&p.addr))
        return KNIT_E_BAD_IP;
    if (p.addr.port == 0)
        return KNIT_E_BAD_PORT;
    *out = p;
    return KNIT_OK;
}

int knit_bootstrap_add(struct knit_bootstrap_peer *peers, size_t cap,
                       size_t *count, const struct knit_bootstrap_peer *p)
{
    for (size_t i = 0; i < *count; i++)
        if (knit_peer_id_equal(&peers[i].id, &p->id))
            return KNIT_OK;
    if (*count >= cap)
        return KNIT_E_TOO_BIG;
    peers[(*count)++] = *p;
    return KNIT_OK;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* The line starting at text[off]: its length up to (not including) the
 * '\n' or the end of the text. */
static size_t line_length(const char *text, size_t len, size_t off)
{
    const char *nl = memchr(text + off, '\n', len - off);
    return nl ? (size_t)(nl - (text + off)) : len - off;
}

static int parse_line(const char *line, size_t n,
                      struct knit_bootstrap_peer *peers, size_t cap,
                      size_t *count)
{
    if (memchr(line, '\0', n))
        return KNIT_E_MALFORMED;
    if (n > KNIT_MA_TEXT_MAX - 1)
        return KNIT_E_TOO_BIG;
    while (n && is_space(*line))
        line++, n--;
    while (n && is_space(line[n - 1]))
        n--;
    if (n == 0 || line[0] == '#')
        return KNIT_OK;
    struct knit_bootstrap_peer p;
    int err = knit_bootstrap_parse_one(line, n, &p);
    return err ? err : knit_bootstrap_add(peers, cap, count, &p);
}

int knit_bootstrap_parse_text(const char *text, size_t len,
                              struct knit_bootstrap_peer *peers, size_t cap,
                              size_t *count, size_t *bad_line)
{
    *bad_line = 0;
    size_t off = 0, line_no = 0;
    /* A final line without '\n' is a line; the empty rest after a final
     * '\n' is not. */
    while (off < len) {
        size_t n = line_length(text, len, off);
        line_no++;
        int err = parse_line(text + off, n, peers, cap, count);
        if (err) {
            *bad_line = line_no;
            return err;
        }
        off += n + 1;
    }
    return KNIT_OK;
}

int knit_bootstrap_line(const char *text, size_t len, size_t n,
                        const char **line, size_t *line_len)
{
    size_t off = 0;
    for (size_t i = 1; off < len; i++) {
        size_t l = line_length(text, len, off);
        if (i == n) {
            *line = text + off;
            *line_len = l;
            return KNIT_OK;
        }
        off += l + 1;
    }
    return KNIT_E_NOT_FOUND;
}
