/* The CLI's side of the control socket (node/control_proto.h): connect to a
 * running daemon, send requests, read answers with a deadline. Plain
 * blocking POSIX calls; the CLI has no event loop. */
#ifndef KNIT_CONTROL_CLIENT_H
#define KNIT_CONTROL_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "control_proto.h"

#define KNIT_CONTROL_TIMEOUT_MS 5000

struct knit_control_conn {
    int fd;
    size_t have;              /* bytes in buf */
    size_t last_frame;        /* bytes of the frame returned last */
    uint8_t buf[KNIT_MSG_HEADER_LEN + KNIT_CONTROL_MAX_MSG];
};

/* KNIT_E_NOT_FOUND (with err saying so) when no daemon runs there. */
int knit_control_connect(struct knit_control_conn *c, const char *data_dir,
                         char *err, size_t errcap);
void knit_control_disconnect(struct knit_control_conn *c);
int knit_control_request(struct knit_control_conn *c, const uint8_t *frame,
                         size_t len, char *err, size_t errcap);
/* Waits up to timeout_ms for the next answer. An error answer comes back as
 * its code, with its text in err; otherwise *type is the answer's type and
 * *body and *len its body (valid until the next call). */
int knit_control_next(struct knit_control_conn *c, int timeout_ms,
                      uint64_t *type, const uint8_t **body, size_t *len,
                      char *err, size_t errcap);

struct knit_control_reply {
    struct knit_control_conn conn;
    struct knit_msg msg;      /* points into conn.buf */
};

/* One request, one answer of response_type, decoded with schema. */
int knit_control_call(const char *data_dir, const uint8_t *request,
                      size_t request_len, uint64_t response_type,
                      const struct knit_msg_schema *schema,
                      struct knit_control_reply *reply, char *err,
                      size_t errcap);

#endif
