#include "control_client.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "datadir.h"
#include "transport/error.h"

int knit_control_connect(struct knit_control_conn *c, const char *data_dir,
                         char *err, size_t errcap)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    char path[KNIT_PATH_MAX];
    c->fd = -1;
    c->have = c->last_frame = 0;
    if (knit_datadir_path(data_dir, KNIT_CONTROL_SOCKET_NAME, path,
                          sizeof path) != KNIT_OK ||
        strlen(path) >= sizeof sun.sun_path) {
        snprintf(err, errcap, "control socket path is too long");
        return KNIT_E_TOO_BIG;
    }
    memcpy(sun.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errcap, "socket: %s", strerror(errno));
        return KNIT_E_IO;
    }
    if (connect(fd, (struct sockaddr *)&sun, sizeof sun) != 0) {
        int e = errno;
        close(fd);
        snprintf(err, errcap,
                 "no daemon is running with data directory %s (start one "
                 "with 'knit daemon')", data_dir);
        return (e == ENOENT || e == ECONNREFUSED) ? KNIT_E_NOT_FOUND
                                                  : KNIT_E_IO;
    }
    c->fd = fd;
    return KNIT_OK;
}

void knit_control_disconnect(struct knit_control_conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

int knit_control_request(struct knit_control_conn *c, const uint8_t *frame,
                         size_t len, char *err, size_t errcap)
{
    size_t sent = 0;
    while (sent < len) {
        ssize_t n = send(c->fd, frame + sent, len - sent, MSG_NOSIGNAL);
        if (n <= 0) {
            snprintf(err, errcap, "cannot send to the daemon: %s",
                     strerror(errno));
            return KNIT_E_IO;
        }
        sent += (size_t)n;
    }
    return KNIT_OK;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int knit_control_next(struct knit_control_conn *c, int timeout_ms,
                      uint64_t *type, const uint8_t **body, size_t *len,
                      char *err, size_t errcap)
{
    /* Drop the frame handed out last time. */
    memmove(c->buf, c->buf + c->last_frame, c->have - c->last_frame);
    c->have -= c->last_frame;
    c->last_frame = 0;
    uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
    struct knit_msg_frame frame;
    for (;;) {
        int rc = knit_msg_deframe(c->buf, c->have, KNIT_CONTROL_MAX_MSG,
                                  &frame);
        if (rc == KNIT_OK)
            break;
        if (rc != KNIT_E_AGAIN) {
            snprintf(err, errcap, "daemon sent a bad frame: %s",
                     knit_strerror(rc));
            return rc;
        }
        uint64_t now = now_ms();
        if (now >= deadline) {
            snprintf(err, errcap, "daemon did not answer within %d ms",
                     timeout_ms);
            return KNIT_E_AGAIN;
        }
        struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
        if (poll(&pfd, 1, (int)(deadline - now)) <= 0)
            continue;
        ssize_t n = read(c->fd, c->buf + c->have, sizeof c->buf - c->have);
        if (n <= 0) {
            snprintf(err, errcap, "daemon closed the control connection");
            return KNIT_E_IO;
        }
        c->have += (size_t)n;
    }
    c->last_frame = frame.len;
    int rc = knit_msg_peek_type(frame.body, frame.body_len, type);
    if (rc == KNIT_OK && *type == KNIT_CTL_ERROR) {
        struct knit_msg m;
        rc = knit_msg_decode(frame.body, frame.body_len, &knit_control_error,
                             &m);
        if (rc == KNIT_OK) {
            size_t tlen;
            const uint8_t *text = knit_msg_bytes(&m, 2, &tlen);
            int code = (int)knit_msg_uint(&m, 1);
            snprintf(err, errcap, "%.*s", (int)tlen, (const char *)text);
            return code > 0 ? -code : KNIT_E_IO;
        }
    }
    if (rc < 0) {
        snprintf(err, errcap, "daemon sent a malformed answer: %s",
                 knit_strerror(rc));
        return rc;
    }
    *body = frame.body;
    *len = frame.body_len;
    return KNIT_OK;
}

int knit_control_call(const char *data_dir, const uint8_t *request,
                      size_t request_len, uint64_t response_type,
                      const struct knit_msg_schema *schema,
                      struct knit_control_reply *reply, char *err,
                      size_t errcap)
{
    int rc = knit_control_connect(&reply->conn, data_dir, err, errcap);
    if (rc < 0)
        return rc;
    uint64_t type;
    const uint8_t *body;
    size_t len;
    rc = knit_control_request(&reply->conn, request, request_len, err, errcap);
    if (rc == KNIT_OK)
        rc = knit_control_next(&reply->conn, KNIT_CONTROL_TIMEOUT_MS, &type,
                               &body, &len, err, errcap);
    knit_control_disconnect(&reply->conn);
    if (rc < 0)
        return rc;
    if (type != response_type) {
        snprintf(err, errcap, "daemon sent an unexpected answer (type %llu)",
                 (unsigned long long)type);
        return KNIT_E_TYPE;
    }
    rc = knit_msg_decode(body, len, schema, &reply->msg);
    if (rc < 0)
        snprintf(err, errcap, "daemon sent a malformed answer: %s",
                 knit_strerror(rc));
    return rc;
}
