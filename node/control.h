/* The daemon's control socket server (daemon side: libuv, files).
 *
 * Listens on a Unix socket, reads framed requests (node/control_proto.h) and
 * hands each body to the daemon's handler, which writes the response frame.
 * Owns only the socket: clients, buffers, framing, the stale-socket check.
 * Memory per client is bounded by the message limit, clients by
 * KNIT_CONTROL_MAX_CLIENTS. */
#ifndef KNIT_CONTROL_H
#define KNIT_CONTROL_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#define KNIT_CONTROL_MAX_CLIENTS 32

struct knit_control_client;

/* Answers one request body from client: either writes a whole response
 * frame into out and sets *out_len, or sets *out_len = 0 and answers later
 * (possibly several times) with knit_control_send(). A negative return is
 * sent back as a KNIT_CTL_ERROR message. */
typedef int (*knit_control_handler)(void *ctx,
                                    struct knit_control_client *client,
                                    const uint8_t *body, size_t len,
                                    uint8_t *out, size_t cap, size_t *out_len);
/* A client went away; answers pending for it must be dropped. */
typedef void (*knit_control_closed)(void *ctx,
                                    struct knit_control_client *client);

struct knit_control;

/* Starts listening on path. If a socket file is there already and a daemon
 * answers on it, fails with KNIT_E_ADDR_IN_USE (two daemons must not share
 * one identity); a stale file is removed. err gets a one-line message. */
int knit_control_start(struct knit_control **out, uv_loop_t *loop,
                       const char *path, knit_control_handler handler,
                       knit_control_closed closed, void *ctx, char *err,
                       size_t errcap);
/* Sends a frame (header and body) to a client, now or as a deferred or
 * repeated answer. */
int knit_control_send(struct knit_control_client *client,
                      const uint8_t *frame, size_t len);
/* Sends a KNIT_CTL_ERROR message with the code's sentence or text. */
int knit_control_send_error(struct knit_control_client *client, int code,
                            const char *text);
/* Closes the server and every client and removes the socket file; memory is
 * released as the loop runs on. */
void knit_control_close(struct knit_control *ctl);

#endif
