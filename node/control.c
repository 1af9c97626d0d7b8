#include "control.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "control_proto.h"
#include "datadir.h"
#include "transport/error.h"

struct knit_control_client {
    uv_pipe_t pipe;
    struct knit_control *ctl;
    size_t len;
    uint8_t buf[KNIT_MSG_HEADER_LEN + KNIT_CONTROL_MAX_MSG];
};

struct knit_control {
    uv_pipe_t server;
    knit_control_handler handler;
    knit_control_closed closed;
    void *ctx;
    char path[KNIT_PATH_MAX];
    struct knit_control_client *clients[KNIT_CONTROL_MAX_CLIENTS];
    int open_handles;
    bool closing;
};

struct write_request {
    uv_write_t req;
    uint8_t data[];
};

static void release_handle(struct knit_control *ctl)
{
    if (--ctl->open_handles == 0)
        free(ctl);
}

static void on_client_closed(uv_handle_t *handle)
{
    struct knit_control_client *c = handle->data;
    struct knit_control *ctl = c->ctl;
    free(c);
    release_handle(ctl);
}

static void close_client(struct knit_control_client *c)
{
    if (uv_is_closing((uv_handle_t *)&c->pipe))
        return;
    for (int i = 0; i < KNIT_CONTROL_MAX_CLIENTS; i++)
        if (c->ctl->clients[i] == c)
            c->ctl->clients[i] = NULL;
    if (c->ctl->closed)
        c->ctl->closed(c->ctl->ctx, c);
    uv_close((uv_handle_t *)&c->pipe, on_client_closed);
}

static void on_written(uv_write_t *req, int status)
{
    (void)status;   /* a client that went away just misses its answer */
    free(req);
}

int knit_control_send(struct knit_control_client *c, const uint8_t *frame,
                      size_t len)
{
    if (uv_is_closing((uv_handle_t *)&c->pipe))
        return KNIT_E_IO;
    struct write_request *wr = malloc(sizeof *wr + len);
    if (!wr) {
        close_client(c);
        return KNIT_E_NOMEM;
    }
    memcpy(wr->data, frame, len);
    uv_buf_t buf = uv_buf_init((char *)wr->data, (unsigned)len);
    if (uv_write(&wr->req, (uv_stream_t *)&c->pipe, &buf, 1, on_written)) {
        free(wr);
        close_client(c);
        return KNIT_E_IO;
    }
    return KNIT_OK;
}

int knit_control_send_error(struct knit_control_client *c, int code,
                            const char *text)
{
    uint8_t out[KNIT_MSG_HEADER_LEN + 1024];
    size_t out_len;
    struct knit_msg_writer w;
    if (!text)
        text = knit_strerror(code);
    knit_msg_writer_init(&w, out, sizeof out);
    knit_msg_begin(&w, KNIT_CTL_ERROR, 2);
    knit_msg_put_uint(&w, 1, (uint64_t)(code < 0 ? -code : 1));
    knit_msg_put_str(&w, 2, text, strnlen(text, 512));
    int err = knit_msg_end(&w, &out_len);
    return err ? err : knit_control_send(c, out, out_len);
}

static void answer(struct knit_control_client *c, const uint8_t *body,
                   size_t len)
{
    static uint8_t out[KNIT_MSG_HEADER_LEN + KNIT_CONTROL_MAX_MSG];
    size_t out_len = 0;
    int rc = c->ctl->handler(c->ctl->ctx, c, body, len, out, sizeof out,
                             &out_len);
    if (rc < 0)
        knit_control_send_error(c, rc, NULL);
    else if (out_len > 0)
        knit_control_send(c, out, out_len);
}

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    struct knit_control_client *c = handle->data;
    buf->base = (char *)c->buf + c->len;
    buf->len = sizeof c->buf - c->len;
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    struct knit_control_client *c = stream->data;
    if (nread < 0) {
        close_client(c);
        return;
    }
    c->len += (size_t)nread;
    for (;;) {
        struct knit_msg_frame frame;
        int rc = knit_msg_deframe(c->buf, c->len, KNIT_CONTROL_MAX_MSG, &frame);
        if (rc == KNIT_E_AGAIN)
            return;
        if (rc < 0) {
            /* An oversized or broken frame: this client is beyond repair. */
            close_client(c);
            return;
        }
        answer(c, frame.body, frame.body_len);
        if (uv_is_closing((uv_handle_t *)&c->pipe))
            return;
        memmove(c->buf, c->buf + frame.len, c->len - frame.len);
        c->len -= frame.len;
    }
}

static void on_connection(uv_stream_t *server, int status)
{
    struct knit_control *ctl = server->data;
    if (status < 0 || ctl->closing)
        return;
    struct knit_control_client *c = calloc(1, sizeof *c);
    if (!c)
        return;
    c->ctl = ctl;
    uv_pipe_init(server->loop, &c->pipe, 0);
    c->pipe.data = c;
    ctl->open_handles++;
    int slot = -1;
    for (int i = 0; i < KNIT_CONTROL_MAX_CLIENTS && slot < 0; i++)
        if (!ctl->clients[i])
            slot = i;
    if (uv_accept(server, (uv_stream_t *)&c->pipe) != 0 || slot < 0) {
        uv_close((uv_handle_t *)&c->pipe, on_client_closed);
        return;
    }
    ctl->clients[slot] = c;
    if (uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read) != 0)
        close_client(c);
}

/* True if a daemon answers on path: then it is no stale leftover. */
static bool socket_is_live(const char *path)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    bool live = connect(fd, (struct sockaddr *)&sun, sizeof sun) == 0;
    close(fd);
    return live;
}

static void on_server_closed(uv_handle_t *handle)
{
    release_handle(handle->data);
}

int knit_control_start(struct knit_control **out, uv_loop_t *loop,
                       const char *path, knit_control_handler handler,
                       knit_control_closed closed, void *ctx, char *err,
                       size_t errcap)
{
    if (strlen(path) >= sizeof ((struct sockaddr_un *)0)->sun_path) {
        snprintf(err, errcap, "control socket path %s is too long for a Unix "
                              "socket; use a shorter --data-dir", path);
        return KNIT_E_TOO_BIG;
    }
    struct stat st;
    if (lstat(path, &st) == 0) {
        if (S_ISSOCK(st.st_mode) && socket_is_live(path)) {
            snprintf(err, errcap, "another knit daemon is running with this "
                                  "data directory (%s answers)", path);
            return KNIT_E_ADDR_IN_USE;
        }
        if (!S_ISSOCK(st.st_mode)) {
            snprintf(err, errcap, "%s exists and is not a socket; remove it",
                     path);
            return KNIT_E_IO;
        }
        unlink(path);   /* a stale socket left by a daemon that crashed */
    }
    struct knit_control *ctl = calloc(1, sizeof *ctl);
    if (!ctl) {
        snprintf(err, errcap, "out of memory");
        return KNIT_E_NOMEM;
    }
    ctl->handler = handler;
    ctl->closed = closed;
    ctl->ctx = ctx;
    snprintf(ctl->path, sizeof ctl->path, "%s", path);
    uv_pipe_init(loop, &ctl->server, 0);
    ctl->server.data = ctl;
    ctl->open_handles = 1;
    /* Only the daemon's user may talk to it: the socket is created 0600
     * (the process is single-threaded here, so the umask swap is safe). */
    mode_t old_mask = umask(077);
    int rc = uv_pipe_bind(&ctl->server, path);
    umask(old_mask);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&ctl->server, 8, on_connection);
    if (rc != 0) {
        snprintf(err, errcap, "cannot open control socket %s: %s", path,
                 uv_strerror(rc));
        uv_close((uv_handle_t *)&ctl->server, on_server_closed);
        return KNIT_E_IO;
    }
    *out = ctl;
    return KNIT_OK;
}

void knit_control_close(struct knit_control *ctl)
{
    if (!ctl || ctl->closing)
        return;
    ctl->closing = true;
    for (int i = 0; i < KNIT_CONTROL_MAX_CLIENTS; i++)
        if (ctl->clients[i])
            close_client(ctl->clients[i]);
    unlink(ctl->path);
    uv_close((uv_handle_t *)&ctl->server, on_server_closed);
}
