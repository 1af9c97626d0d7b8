/* Views of a session (identity, state, statistics) for the node and its
 * embedder, the few flags they set on it, and what the peer's hello says it
 * serves. */
#include <stdlib.h>
#include <string.h>

#include "proto/session_internal.h"
#include "transport/error.h"

uint64_t knit_session_window(const struct knit_session *s)
{
    return s->cfg.conn.max_data;
}

const struct knit_peer_id *knit_session_peer(const struct knit_session *s)
{
    return &s->peer;
}

const uint8_t *knit_session_peer_static(const struct knit_session *s)
{
    return s->peer_x;
}

bool knit_session_is_up(const struct knit_session *s)
{
    return s->up;
}

bool knit_session_is_dead(const struct knit_session *s)
{
    return s->dead;
}

void knit_session_set_owner_slot(struct knit_session *s, uint32_t slot)
{
    s->owner_slot = slot;
}

uint32_t knit_session_owner_slot(const struct knit_session *s)
{
    return s->owner_slot;
}

void knit_session_set_wanted(struct knit_session *s, bool wanted)
{
    session_touch(s);
    s->wanted = wanted;
}

bool knit_session_is_wanted(const struct knit_session *s)
{
    return s->wanted;
}

struct knit_conn *knit_session_conn(struct knit_session *s)
{
    session_touch(s);   /* the caller may change the conn */
    return s->up ? s->conn : NULL;
}

void knit_session_get_stats(const struct knit_session *s,
                            struct knit_session_stats *out)
{
    memset(out, 0, sizeof *out);
    if (s->conn)
        knit_conn_get_stats(s->conn, &out->conn);
    out->path = knit_session_path_addr(s);
    out->path_sock = knit_session_path_sock(s);
    out->handshakes = s->handshakes;
    out->receive_window = s->cfg.conn.max_data;
    out->paths = (uint32_t)session_path_count(s);
}

struct knit_addr knit_session_path_addr(const struct knit_session *s)
{
    struct knit_addr none = {0};
    return s->active >= 0 ? s->paths[s->active].addr : none;
}

bool knit_session_peer_serves(const struct knit_session *s,
                              const char *protocol)
{
    for (size_t at = 0; at < s->peer_protocols_len;
         at += strlen(s->peer_protocols + at) + 1)
        if (strcmp(s->peer_protocols + at, protocol) == 0)
            return true;
    return false;
}

/* The names one after the other, each ended by its NUL. */
int session_keep_peer_protocols(struct knit_session *s,
                               const struct knit_hello *h)
{
    size_t len = 0;
    for (uint8_t i = 0; i < h->protocol_count; i++)
        len += strnlen(h->protocols[i], KNIT_HELLO_PROTOCOL_MAX) + 1;
    char *names = NULL;
    if (len) {
        names = malloc(len);
        if (!names)
            return KNIT_E_NOMEM;
        size_t at = 0;
        for (uint8_t i = 0; i < h->protocol_count; i++) {
            size_t n = strnlen(h->protocols[i], KNIT_HELLO_PROTOCOL_MAX);
            memcpy(names + at, h->protocols[i], n);
            names[at + n] = '\0';
            at += n + 1;
        }
    }
    free(s->peer_protocols);
    s->peer_protocols = names;
    s->peer_protocols_len = len;
    return KNIT_OK;
}

int knit_session_path_sock(const struct knit_session *s)
{
    return s->active >= 0 ? s->paths[s->active].sock : -1;
}
