/* What sessions report, turned into node events for the embedder, and the
 * embedder's stream calls, turned into conn calls followed by a flush. */
#include <string.h>

#include "node/node_internal.h"
#include "node/node_punch.h"
#include "node/node_relay.h"
#include "node/node_traversal.h"
#include "proto/conn.h"
#include "transport/error.h"

static bool served_by_embedder(const struct knit_node *node,
                               const char *protocol)
{
    for (size_t i = 0; node->served && node->served[i]; i++)
        if (strcmp(node->served[i], protocol) == 0)
            return true;
    return false;
}

void node_on_session_event(struct knit_node *node, struct knit_session *s,
                           const struct knit_session_event *sev)
{
    struct knit_event ev = {
        .peer = knit_session_peer(s), .stream_id = sev->stream_id,
        .now = node->now,
    };
    switch (sev->type) {
    case KNIT_SESSION_UP:
        node_dht_session_up(node, s);
        node_relay_session_up(node, s);
        traversal_session_up(node, s);
        punch_path_changed(node, s);
        ev.type = KNIT_EVENT_PEER_UP;
        break;
    case KNIT_SESSION_DOWN:
        node_services_forget(node, s);
        node_dht_session_down(node, s);
        node_relay_session_down(node, s);
        traversal_session_down(node, s);
        punch_session_down(node, s);
        ev.type = KNIT_EVENT_PEER_DOWN;
        ev.u.down.error = sev->error;
        ev.u.down.reason = sev->reason;
        break;
    case KNIT_SESSION_STREAM_OPENED:
        if (node_services_open(node, s, sev->stream_id, sev->protocol) ||
            node_dht_open(node, s, sev->stream_id, sev->protocol) ||
            node_relay_open(node, s, sev->stream_id, sev->protocol) ||
            traversal_open(node, s, sev->stream_id, sev->protocol) ||
            punch_open(node, s, sev->stream_id, sev->protocol))
            return;
        if (!served_by_embedder(node, sev->protocol)) {
            knit_conn_stream_refuse(knit_session_conn(s), sev->stream_id,
                                    KNIT_CONN_UNKNOWN_PROTOCOL);
            return;
        }
        ev.type = KNIT_EVENT_STREAM_OPENED;
        ev.u.opened.protocol = sev->protocol;
        break;
    case KNIT_SESSION_STREAM_READABLE:
    case KNIT_SESSION_STREAM_WRITABLE:
    case KNIT_SESSION_STREAM_RESET:
    case KNIT_SESSION_STREAM_CLOSED:
        if (node_services_event(node, s, sev) ||
            node_dht_event(node, s, sev) || node_relay_event(node, s, sev) ||
            traversal_event(node, s, sev) || punch_event(node, s, sev))
            return;
        ev.type = sev->type == KNIT_SESSION_STREAM_READABLE
                      ? KNIT_EVENT_STREAM_READABLE
                  : sev->type == KNIT_SESSION_STREAM_WRITABLE
                      ? KNIT_EVENT_STREAM_WRITABLE
                  : sev->type == KNIT_SESSION_STREAM_RESET
                      ? KNIT_EVENT_STREAM_RESET
                      : KNIT_EVENT_STREAM_CLOSED;
        ev.u.reset.code = sev->code;
        break;
    case KNIT_SESSION_PATH_CHANGED:
        punch_path_changed(node, s);
        ev.type = KNIT_EVENT_PATH_CHANGED;
        break;
    default:
        return;
    }
    node_emit(node, &ev);
}

static struct knit_conn *conn_of(struct knit_node *node,
                                 const struct knit_peer_id *peer,
                                 struct knit_session **s)
{
    *s = node_find_session(node, peer);
    return *s ? knit_session_conn(*s) : NULL;
}

int knit_node_open_stream(struct knit_node *node,
                          const struct knit_peer_id *peer,
                          const char *protocol, uint64_t now,
                          uint64_t *stream_id)
{
    struct knit_session *s;
    node->now = now;
    struct knit_conn *c = conn_of(node, peer, &s);
    if (!c)
        return KNIT_E_NOT_FOUND;
    int err = knit_conn_open_stream(c, protocol, stream_id);
    if (err == KNIT_OK)
        knit_session_flush(s, now);
    return err;
}

int knit_node_stream_write(struct knit_node *node,
                           const struct knit_peer_id *peer, uint64_t stream_id,
                           const uint8_t *data, size_t len, uint64_t now,
                           size_t *accepted)
{
    struct knit_session *s;
    node->now = now;
    struct knit_conn *c = conn_of(node, peer, &s);
    *accepted = 0;
    if (!c)
        return KNIT_E_NOT_FOUND;
    int err = knit_conn_stream_write(c, stream_id, data, len, accepted);
    if (err == KNIT_OK)
        knit_session_flush(s, now);
    return err;
}

int knit_node_stream_finish(struct knit_node *node,
                            const struct knit_peer_id *peer,
                            uint64_t stream_id, uint64_t now)
{
    struct knit_session *s;
    node->now = now;
    struct knit_conn *c = conn_of(node, peer, &s);
    if (!c)
        return KNIT_E_NOT_FOUND;
    int err = knit_conn_stream_finish(c, stream_id);
    if (err == KNIT_OK)
        knit_session_flush(s, now);
    return err;
}

int knit_node_stream_read(struct knit_node *node,
                          const struct knit_peer_id *peer, uint64_t stream_id,
                          uint8_t *buf, size_t cap, size_t *n, bool *fin,
                          uint64_t now)
{
    struct knit_session *s;
    node->now = now;
    struct knit_conn *c = conn_of(node, peer, &s);
    *n = 0;
    *fin = false;
    if (!c)
        return KNIT_E_NOT_FOUND;
    int err = knit_conn_stream_read(c, stream_id, buf, cap, n, fin);
    /* Reading may have opened the window: tell the peer. */
    if (err == KNIT_OK)
        knit_session_flush(s, now);
    return err;
}

int knit_node_stream_reset(struct knit_node *node,
                           const struct knit_peer_id *peer, uint64_t stream_id,
                           uint64_t code, uint64_t now)
{
    struct knit_session *s;
    node->now = now;
    struct knit_conn *c = conn_of(node, peer, &s);
    if (!c)
        return KNIT_E_NOT_FOUND;
    int err = knit_conn_stream_reset(c, stream_id, code);
    if (err == KNIT_OK)
        knit_session_flush(s, now);
    return err;
}
