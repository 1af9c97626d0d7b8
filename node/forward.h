/* Port forwarding over the overlay (daemon side: libuv TCP).
 *
 * expose: a local TCP port (127.0.0.1:<port>) offered to listed peers as a
 * named service. forward: a local TCP listener (127.0.0.1 only) whose every
 * connection becomes a stream to a peer's service. Between the two runs
 * the /knit/forward/1 protocol (node/service_msg.h): the opener names the
 * service, the exposing side answers yes or why not, then the stream
 * carries the TCP bytes both ways.
 *
 * A connection closes the way TCP does: EOF on one side becomes the
 * stream's FIN and then a shutdown (FIN) on the other side's socket; a
 * reset, a socket error or the session's end resets the other side, so an
 * application never hangs on a dead path. Peers that are not allowed are
 * refused and logged. Flow control: a socket is read only while the stream
 * accepts bytes, and a stream only while the socket's writes drain.
 *
 * Exposes and forwards made by `knit expose` and `knit forward` last until
 * removed or until the daemon stops; those made with an owner (the MPyC
 * launcher's control client) go when knit_forwarder_drop_owner is called
 * for it. Owned by node/daemon.c, which feeds it the node's events. */
#ifndef KNIT_FORWARD_H
#define KNIT_FORWARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "daemon_reach.h"
#include "event.h"
#include "node.h"
#include "transport/uv_driver.h"

#define KNIT_FORWARD_PROTOCOL "/knit/forward/1"
#define KNIT_FORWARD_MAX_EXPOSES 64
#define KNIT_FORWARD_MAX_LISTENERS 64
#define KNIT_FORWARD_MAX_ALLOW 64
/* Bridged connections at once, both directions together. */
#define KNIT_FORWARD_MAX_CONNECTIONS 256

struct knit_forwarder;

int knit_forwarder_new(struct knit_forwarder **out, uv_loop_t *loop,
                       struct knit_node *node, struct knit_uv_driver *drv,
                       struct knit_daemon_reach *reach);
/* Resets every bridged connection, closes every listener; memory is
 * released as the loop runs on. */
void knit_forwarder_close(struct knit_forwarder *f);

/* Offers 127.0.0.1:port as service to the allow_count peers in allow
 * (allow_count 0: any peer). Service names are 1..64 bytes of
 * [A-Za-z0-9._/:-] (KNIT_E_INVAL otherwise); KNIT_E_EXISTS when the name is
 * taken. owner NULL: until knit_forwarder_unexpose. */
int knit_forwarder_expose(struct knit_forwarder *f, const char *service,
                          uint16_t port, const struct knit_peer_id *allow,
                          size_t allow_count, const void *owner);
/* KNIT_E_NOT_FOUND when no such service is exposed. Connections already
 * bridged to it are left to finish. */
int knit_forwarder_unexpose(struct knit_forwarder *f, const char *service);

/* Binds a listener on 127.0.0.1:*port (0: a free port, written back) for
 * peer's service. listen_now false: bound only, so the port is ours but a
 * connection is refused until knit_forwarder_start_listening (the MPyC
 * launcher opens a party's listener once its session is up).
 * KNIT_E_ADDR_IN_USE when the port is taken. */
int knit_forwarder_forward(struct knit_forwarder *f, uint16_t *port,
                           const struct knit_peer_id *peer,
                           const char *service, bool listen_now,
                           const void *owner);
int knit_forwarder_start_listening(struct knit_forwarder *f, uint16_t port);
/* Closes the listener on port (KNIT_E_NOT_FOUND if none); its bridged
 * connections are left to finish. */
int knit_forwarder_unforward(struct knit_forwarder *f, uint16_t port);

/* Removes every expose and forward made with owner, and resets their
 * bridged connections. */
void knit_forwarder_drop_owner(struct knit_forwarder *f, const void *owner);

/* Refusals and failures are logged as warnings on stderr; below
 * KNIT_LOG_WARN they are not (the default is KNIT_LOG_INFO). */
void knit_forwarder_set_log_level(struct knit_forwarder *f,
                                  enum knit_log_level level);

void knit_forwarder_on_event(struct knit_forwarder *f,
                             const struct knit_event *ev);

/* For `knit forwards`: what is exposed and forwarded now, with the
 * connections bridged through each (an expose counts those past the
 * handshake). Each returns how many it wrote, at most cap. */
#define KNIT_FORWARD_SERVICE_MAX 64
struct knit_forward_expose_info {
    char service[KNIT_FORWARD_SERVICE_MAX + 1];
    uint16_t port;
    size_t allow_count;                      /* 0: any peer */
    const struct knit_peer_id *allow;        /* until the next change */
    uint32_t connections;
};
struct knit_forward_listener_info {
    uint16_t port;
    struct knit_peer_id peer;
    char service[KNIT_FORWARD_SERVICE_MAX + 1];
    bool listening;
    uint32_t connections;
};
size_t knit_forwarder_list_exposes(const struct knit_forwarder *f,
                                   struct knit_forward_expose_info *out,
                                   size_t cap);
size_t knit_forwarder_list_forwards(const struct knit_forwarder *f,
                                    struct knit_forward_listener_info *out,
                                    size_t cap);

#endif
