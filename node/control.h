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

/* Answers one request body: writes a whole response frame into out and sets
 * *out_len, or returns a negative KNIT_E_* code, which the server sends
 * back as a KNIT_CTL_ERROR message. */
typedef int (*knit_control_handler)(void *ctx, const uint8_t *body,
                                    size_t len, uint8_t *out, size_t cap,
                                    size_t *out_len);

struct knit_control;

/* Starts listening on path. If a socket file is there already and a daemon
 * answers on it, fails with KNIT_E_ADDR_IN_USE (two daemons must not share
 * one identity); a stale file is removed. err gets a one-line message. */
int knit_control_start(struct knit_control **out, uv_loop_t *loop,
                       const char *path, knit_control_handler handler,
                       void *ctx, char *err, size_t errcap);
/* Closes the server and every client and removes the socket file; memory is
 * released as the loop runs on. */
void knit_control_close(struct knit_control *ctl);

#endif
