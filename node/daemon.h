/* The daemon: one node on real sockets, run in the foreground until SIGINT
 * or SIGTERM. Owns the libuv loop, the driver and the node; called by the
 * `knit daemon` command (node/cli_daemon.c). */
#ifndef KNIT_DAEMON_H
#define KNIT_DAEMON_H

#include <stdbool.h>
#include <stddef.h>

#include "bootstrap_list.h"
#include "dht/dht.h"
#include "event.h"
#include "transport/io.h"

#define KNIT_DEFAULT_PORT 4001
#define KNIT_DAEMON_MAX_LISTEN 8
/* --bootstrap and --bootstrap-file together, after merging duplicates. */
#define KNIT_DAEMON_MAX_BOOTSTRAP 64
#define KNIT_DAEMON_MAX_RELAY_ALLOW 64

struct knit_daemon_options {
    const char *data_dir;                  /* resolved, not NULL */
    struct knit_addr listen[KNIT_DAEMON_MAX_LISTEN];
    size_t listen_count;                   /* 0 = the defaults */
    enum knit_log_level log_level;
    uint32_t keepalive_s;                  /* 0 = the default (25 s) */
    struct knit_bootstrap_peer bootstrap[KNIT_DAEMON_MAX_BOOTSTRAP];
    size_t bootstrap_count;                /* distinct peer IDs */
    enum knit_dht_mode dht_mode;           /* KNIT_DHT_MODE_AUTO unless set */
    /* Peers our relay serves without limits (relay/hop.h's allowed class). */
    struct knit_peer_id relay_allow[KNIT_DAEMON_MAX_RELAY_ALLOW];
    size_t relay_allow_count;
    uint32_t min_observers;                /* 0 = the node's default (3) */
    /* --no-port-mapping: never ask the gateway (node/daemon_portmap.h). */
    bool no_port_mapping;
};

/* Runs the daemon; returns a process exit code (0 after a clean shutdown). */
int knit_daemon_run(const struct knit_daemon_options *opts);

#endif
