/* Events the node core reports to its embedder through knit_io.event.
 *
 * The core prints nothing and owns no log file: it says what happened, and
 * the daemon (or the simulator) decides what to do about it. The event and
 * everything it points to are valid only during the callback; the embedder
 * may call back into the node from inside it (read a stream, say). */
#ifndef KNIT_EVENT_H
#define KNIT_EVENT_H

#include <stdint.h>

#include "proto/peer_id.h"
#include "proto/record.h"
#include "transport/io.h"

enum knit_event_type {
    KNIT_EVENT_LOG = 1,
    KNIT_EVENT_PEER_UP,          /* a session with peer is established */
    KNIT_EVENT_PEER_DOWN,        /* ...and gone: u.down says why */
    KNIT_EVENT_STREAM_OPENED,    /* the peer opened a stream we serve */
    KNIT_EVENT_STREAM_READABLE,
    KNIT_EVENT_STREAM_WRITABLE,  /* send buffer space freed up */
    KNIT_EVENT_STREAM_RESET,     /* the peer abandoned the stream */
    KNIT_EVENT_STREAM_CLOSED,    /* finished both ways; the id is gone */
    KNIT_EVENT_PATH_CHANGED,     /* traffic to peer moved to a new path */
    KNIT_EVENT_FOUND,            /* a knit_node_find ended: u.found */
};

enum knit_log_level {
    KNIT_LOG_ERROR = 0,
    KNIT_LOG_WARN = 1,
    KNIT_LOG_INFO = 2,
    KNIT_LOG_DEBUG = 3,
};

struct knit_event {
    enum knit_event_type type;
    uint64_t now;
    const struct knit_peer_id *peer;     /* all but LOG; FOUND: the target */
    uint64_t stream_id;                  /* STREAM_* */
    union {
        struct {
            enum knit_log_level level;
            const char *message;
        } log;
        struct {
            int error;                   /* KNIT_E_* */
            const char *reason;
        } down;
        struct {
            const char *protocol;
        } opened;
        struct {
            uint64_t code;
        } reset;
        struct {
            uint64_t handle;
            int error;                   /* 0, KNIT_E_NOT_FOUND, _TIMEOUT */
            const struct knit_peer_record *record;   /* when found */
            uint16_t hops;
            uint32_t queries;
            uint64_t elapsed_us;
        } found;
    } u;
};

#endif
