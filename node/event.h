/* Events the node core reports to its embedder through knit_io.event.
 *
 * The core prints nothing and owns no log file: it says what happened, and
 * the daemon (or the simulator) decides whether and how to show it. The
 * event and anything it points to are valid only during the callback. */
#ifndef KNIT_EVENT_H
#define KNIT_EVENT_H

#include <stdint.h>

#include "transport/io.h"

enum knit_event_type {
    KNIT_EVENT_LOG = 1,
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
    union {
        struct {
            enum knit_log_level level;
            const char *message;
        } log;
    } u;
};

#endif
