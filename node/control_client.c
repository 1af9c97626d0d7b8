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

static int connect_daemon(const char *data_dir, char *err, size_t errcap)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    char path[KNIT_PATH_MAX];
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
        snprintf(err, errcap, "no daemon is running with data directory %s",
                 data_dir);
        return (e == ENOENT || e == ECONNREFUSED) ? KNIT_E_NOT_FOUND
                                                  : KNIT_E_IO;
    }
    return fd;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Reads until one whole frame is in reply->frame, or the deadline passes. */
static int read_frame(int fd, struct knit_control_reply *reply,
                      struct knit_msg_frame *frame, char *err, size_t errcap)
{
    size_t have = 0;
    uint64_t deadline = now_ms() + KNIT_CONTROL_TIMEOUT_MS;
    for (;;) {
        int rc = knit_msg_deframe(reply->frame, have, KNIT_CONTROL_MAX_MSG,
                                  frame);
        if (rc != KNIT_E_AGAIN) {
            if (rc < 0)
                snprintf(err, errcap, "daemon sent a bad frame: %s",
                         knit_strerror(rc));
            return rc;
        }
        uint64_t now = now_ms();
        if (now >= deadline) {
            snprintf(err, errcap, "daemon did not answer within %d ms",
                     KNIT_CONTROL_TIMEOUT_MS);
            return KNIT_E_AGAIN;
        }
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, (int)(deadline - now)) <= 0)
            continue;
        ssize_t n = read(fd, reply->frame + have, sizeof reply->frame - have);
        if (n <= 0) {
            snprintf(err, errcap, "daemon closed the control connection");
            return KNIT_E_IO;
        }
        have += (size_t)n;
    }
}

int knit_control_call(const char *data_dir, const uint8_t *request,
                      size_t request_len, uint64_t response_type,
                      const struct knit_msg_schema *schema,
                      struct knit_control_reply *reply, char *err,
                      size_t errcap)
{
    int fd = connect_daemon(data_dir, err, errcap);
    if (fd < 0)
        return fd;
    size_t sent = 0;
    while (sent < request_len) {
        ssize_t n = send(fd, request + sent, request_len - sent, MSG_NOSIGNAL);
        if (n <= 0) {
            close(fd);
            snprintf(err, errcap, "cannot send to the daemon: %s",
                     strerror(errno));
            return KNIT_E_IO;
        }
        sent += (size_t)n;
    }
    struct knit_msg_frame frame;
    int rc = read_frame(fd, reply, &frame, err, errcap);
    close(fd);
    if (rc < 0)
        return rc;
    uint64_t type;
    rc = knit_msg_peek_type(frame.body, frame.body_len, &type);
    if (rc == KNIT_OK && type == KNIT_CTL_ERROR) {
        rc = knit_msg_decode(frame.body, frame.body_len, &knit_control_error,
                             &reply->msg);
        if (rc == KNIT_OK) {
            size_t len;
            const uint8_t *text = knit_msg_bytes(&reply->msg, 2, &len);
            int code = (int)knit_msg_uint(&reply->msg, 1);
            snprintf(err, errcap, "daemon: %.*s", (int)len, (const char *)text);
            return code > 0 ? -code : KNIT_E_IO;
        }
    } else if (rc == KNIT_OK && type != response_type) {
        rc = KNIT_E_TYPE;
    } else if (rc == KNIT_OK) {
        rc = knit_msg_decode(frame.body, frame.body_len, schema, &reply->msg);
    }
    if (rc < 0)
        snprintf(err, errcap, "daemon sent a malformed answer: %s",
                 knit_strerror(rc));
    return rc;
}
