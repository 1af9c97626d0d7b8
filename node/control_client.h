/* The CLI's side of the control socket (node/control_proto.h): connect to a
 * running daemon, send one request, wait (bounded) for its response. Plain
 * blocking POSIX calls; the CLI has no event loop. */
#ifndef KNIT_CONTROL_CLIENT_H
#define KNIT_CONTROL_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "control_proto.h"

#define KNIT_CONTROL_TIMEOUT_MS 5000

struct knit_control_reply {
    uint8_t frame[KNIT_MSG_HEADER_LEN + KNIT_CONTROL_MAX_MSG];
    struct knit_msg msg;      /* points into frame */
};

/* Sends the request frame to the daemon of data_dir and decodes its answer,
 * which must be of response_type, with schema. KNIT_E_NOT_FOUND when no
 * daemon is running there; an error answer from the daemon comes back as
 * its code, with its text in err. */
int knit_control_call(const char *data_dir, const uint8_t *request,
                      size_t request_len, uint64_t response_type,
                      const struct knit_msg_schema *schema,
                      struct knit_control_reply *reply, char *err,
                      size_t errcap);

#endif
