/* Read-only views of a session: identity, state and statistics, for the
 * node and its embedder. */
#include <string.h>

#include "proto/session_internal.h"

uint64_t knit_session_window(const struct knit_session *s)
{
    return s->cfg.conn.max_data;
}

const struct knit_peer_id *knit_session_peer(const struct knit_session *s)
{
    return &s->peer;
}

bool knit_session_is_up(const struct knit_session *s)
{
    return s->up;
}

bool knit_session_is_dead(const struct knit_session *s)
{
    return s->dead;
}

void knit_session_set_wanted(struct knit_session *s, bool wanted)
{
    session_touch(s);
    s->wanted = wanted;
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
    if (s->active >= 0)
        out->path = s->paths[s->active].addr;
    out->handshakes = s->handshakes;
    out->receive_window = s->cfg.conn.max_data;
    for (int i = 0; i < KNIT_SESSION_MAX_PATHS; i++)
        out->paths += s->paths[i].used;
}

bool knit_session_peer_serves(const struct knit_session *s,
                              const char *protocol)
{
    for (uint8_t i = 0; i < s->peer_protocol_count; i++)
        if (strcmp(s->peer_protocols[i], protocol) == 0)
            return true;
    return false;
}
