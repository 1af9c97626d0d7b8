#include "daemon.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>
#include <uv.h>

#include "cli.h"
#include "control.h"
#include "control_proto.h"
#include "daemon_dht.h"
#include "daemon_ops.h"
#include "daemon_portmap.h"
#include "daemon_reach.h"
#include "daemon_status.h"
#include "datadir.h"
#include "forward.h"
#include "forward_control.h"
#include "keyfile.h"
#include "mpyc_session.h"
#include "node.h"
#include "node/party_msg.h"
#include "proto/multiaddr.h"
#include "transport/error.h"
#include "transport/uv_driver.h"

struct daemon {
    const struct knit_daemon_options *opts;
    uv_loop_t loop;
    uv_signal_t sigint, sigterm;
    struct knit_uv_driver *driver;
    struct knit_node *node;
    struct knit_control *control;
    struct knit_daemon_ops *ops;
    struct knit_daemon_dht *dht;
    struct knit_daemon_portmap *portmap;
    struct knit_daemon_reach *reach;
    struct knit_forwarder *forwarder;
    struct knit_mpyc_sessions *mpyc;
    struct knit_addr bound[KNIT_DAEMON_MAX_LISTEN];
    size_t bound_count;
    /* The addresses others can dial us at, as multiaddr text with /p2p. */
    char addrs[KNIT_CONTROL_MAX_ADDRS][KNIT_MA_TEXT_MAX];
    struct knit_addr addr_sockets[KNIT_CONTROL_MAX_ADDRS];
    size_t addr_count;
    int exit_code;
};

static const char *level_names[] = {"error", "warn", "info", "debug"};

static void log_peer(struct daemon *d, const struct knit_event *ev)
{
    char id[KNIT_PEER_ID_TEXT_MAX];
    knit_peer_id_to_text(ev->peer, id, sizeof id);
    if (ev->type == KNIT_EVENT_PEER_UP)
        fprintf(stderr, "knit: [info] session with %s is up\n", id);
    else
        fprintf(stderr, "knit: [info] session with %s ended: %s\n", id,
                ev->u.down.reason ? ev->u.down.reason : "closed");
    (void)d;
}

static void on_node_event(void *ctx, const struct knit_event *ev)
{
    struct daemon *d = ctx;
    if (ev->type == KNIT_EVENT_LOG) {
        if (ev->u.log.level <= d->opts->log_level)
            fprintf(stderr, "knit: [%s] %s\n", level_names[ev->u.log.level],
                    ev->u.log.message);
        return;
    }
    if ((ev->type == KNIT_EVENT_PEER_UP || ev->type == KNIT_EVENT_PEER_DOWN) &&
        d->opts->log_level >= KNIT_LOG_INFO)
        log_peer(d, ev);
    if (d->ops)
        knit_daemon_ops_on_event(d->ops, ev);
    /* The reach first: a forwarded connection waiting for this peer's
     * session opens its stream from the reach's answer. */
    if (d->reach)
        knit_daemon_reach_on_event(d->reach, ev);
    if (d->forwarder)
        knit_forwarder_on_event(d->forwarder, ev);
    if (d->mpyc)
        knit_mpyc_sessions_on_event(d->mpyc, ev);
}

static void on_packet(void *ctx, uint64_t now, int sock,
                      const struct knit_addr *from, const uint8_t *pkt,
                      size_t len)
{
    struct daemon *d = ctx;
    knit_node_receive(d->node, now, sock, from, pkt, len);
}

static void on_timer(void *ctx, uint64_t now)
{
    struct daemon *d = ctx;
    knit_node_timeout(d->node, now);
}

static uint64_t next_deadline(void *ctx)
{
    struct daemon *d = ctx;
    return knit_node_next_deadline(d->node);
}

static void on_signal(uv_signal_t *sig, int signum)
{
    struct daemon *d = sig->data;
    /* A second signal while shutting down has nothing left to stop. */
    if (uv_is_closing((uv_handle_t *)&d->sigint))
        return;
    printf("received %s, shutting down\n",
           signum == SIGINT ? "SIGINT" : "SIGTERM");
    fflush(stdout);
    /* First: it stops calling into the node, and deleting the mapping at
     * the gateway gets the most time while the rest closes. */
    knit_daemon_portmap_close(d->portmap);
    d->portmap = NULL;
    knit_daemon_ops_close(d->ops);
    d->ops = NULL;
    /* Resets every forwarded connection while the sessions still carry
     * the resets, then the reaches it no longer waits for. The MPyC
     * sessions go before both: they hold reaches and forwards. */
    knit_mpyc_sessions_close(d->mpyc);
    d->mpyc = NULL;
    knit_forwarder_close(d->forwarder);
    d->forwarder = NULL;
    knit_daemon_reach_close(d->reach);
    d->reach = NULL;
    knit_daemon_dht_close(d->dht);   /* saves the table one last time */
    d->dht = NULL;
    knit_uv_driver_close(d->driver);
    knit_control_close(d->control);
    uv_close((uv_handle_t *)&d->sigint, NULL);
    uv_close((uv_handle_t *)&d->sigterm, NULL);
}

static void format_listen_error(const struct knit_addr *a, int err, char *out,
                                size_t cap)
{
    struct knit_multiaddr ma;
    char text[KNIT_MA_TEXT_MAX] = "?";
    if (knit_multiaddr_from_socket(&ma, a, NULL) == KNIT_OK)
        knit_multiaddr_format(&ma, text, sizeof text);
    snprintf(out, cap, "cannot listen on %s: %s", text, knit_strerror(err));
}

static int bind_one(struct daemon *d, const struct knit_addr *want, char *err,
                    size_t errcap)
{
    struct knit_addr got;
    int rc = knit_uv_driver_listen(d->driver, want, &got);
    if (rc >= 0)
        rc = knit_node_add_socket(d->node, rc, &got);
    if (rc < 0) {
        format_listen_error(want, rc, err, errcap);
        return rc;
    }
    d->bound[d->bound_count++] = got;
    return KNIT_OK;
}

/* The defaults: 0.0.0.0 and :: on port 4001, both on one port. If 4001 is
 * taken, a free port is chosen and the user is told; a host without IPv6
 * simply listens on IPv4. */
static int bind_defaults(struct daemon *d, char *err, size_t errcap)
{
    struct knit_addr v4 = {.family = KNIT_AF_IP4, .port = KNIT_DEFAULT_PORT};
    struct knit_addr v6 = {.family = KNIT_AF_IP6, .port = KNIT_DEFAULT_PORT};
    int rc = bind_one(d, &v4, err, errcap);
    if (rc == KNIT_E_ADDR_IN_USE) {
        v4.port = 0;
        rc = bind_one(d, &v4, err, errcap);
        if (rc == KNIT_OK)
            printf("port %u is taken; listening on port %u instead\n",
                   KNIT_DEFAULT_PORT, d->bound[0].port);
    }
    if (rc != KNIT_OK)
        return rc;
    v6.port = d->bound[0].port;
    rc = bind_one(d, &v6, err, errcap);
    if (rc == KNIT_E_ADDR_IN_USE) {
        v6.port = 0;
        rc = bind_one(d, &v6, err, errcap);
    }
    if (rc == KNIT_E_UNSUPPORTED) {
        printf("no IPv6 on this host; listening on IPv4 only\n");
        return KNIT_OK;
    }
    return rc;
}

static int bind_listen_addresses(struct daemon *d, char *err, size_t errcap)
{
    if (d->opts->listen_count == 0)
        return bind_defaults(d, err, errcap);
    for (size_t i = 0; i < d->opts->listen_count; i++) {
        int rc = bind_one(d, &d->opts->listen[i], err, errcap);
        if (rc != KNIT_OK)
            return rc;
    }
    return KNIT_OK;
}

static void add_addr(struct daemon *d, const struct knit_addr *a)
{
    struct knit_multiaddr ma;
    if (d->addr_count == KNIT_CONTROL_MAX_ADDRS ||
        knit_multiaddr_from_socket(&ma, a, knit_node_peer_id(d->node)) != 0 ||
        knit_multiaddr_format(&ma, d->addrs[d->addr_count],
                              KNIT_MA_TEXT_MAX) != 0)
        return;
    d->addr_sockets[d->addr_count] = *a;
    d->addr_count++;
}

/* A socket bound to 0.0.0.0 or :: is reachable at every interface address of
 * its family; list those, as a user would dial them. IPv6 link-local
 * addresses are left out: they need a zone, which multiaddrs cannot carry. */
static void collect_addresses(struct daemon *d)
{
    uv_interface_address_t *ifs = NULL;
    int count = 0;
    if (uv_interface_addresses(&ifs, &count) != 0)
        count = 0;
    for (size_t i = 0; i < d->bound_count; i++) {
        const struct knit_addr *b = &d->bound[i];
        if (!knit_addr_is_unspecified(b)) {
            add_addr(d, b);
            continue;
        }
        for (int j = 0; j < count; j++) {
            struct knit_addr a;
            if (knit_uv_addr_from_sockaddr(
                    &a, (const struct sockaddr *)&ifs[j].address) != 0 ||
                a.family != b->family)
                continue;
            if (a.family == KNIT_AF_IP6 && a.ip[0] == 0xfe &&
                (a.ip[1] & 0xc0) == 0x80)
                continue;
            a.port = b->port;
            add_addr(d, &a);
        }
    }
    uv_free_interface_addresses(ifs, count);
}

static int answer_id(struct daemon *d, uint8_t *out, size_t cap,
                     size_t *out_len)
{
    char id_text[KNIT_PEER_ID_TEXT_MAX];
    knit_peer_id_to_text(knit_node_peer_id(d->node), id_text, sizeof id_text);
    struct knit_msg_writer w;
    knit_msg_writer_init(&w, out, cap);
    knit_msg_begin(&w, KNIT_CTL_ID_RESPONSE, 2);
    knit_msg_put_str(&w, 1, id_text, strlen(id_text));
    knit_msg_put_array_begin(&w, 2, (uint32_t)d->addr_count);
    for (size_t i = 0; i < d->addr_count; i++)
        knit_msg_add_str(&w, d->addrs[i], strlen(d->addrs[i]));
    knit_msg_array_end(&w);
    return knit_msg_end(&w, out_len);
}

/* One control request from the CLI (node/control_proto.h). Ping and bench
 * answer later, from node/daemon_ops.c. */
static int on_control_request(void *ctx, struct knit_control_client *client,
                              const uint8_t *body, size_t len, uint8_t *out,
                              size_t cap, size_t *out_len)
{
    struct daemon *d = ctx;
    uint64_t type;
    struct knit_msg msg;
    int rc = knit_msg_peek_type(body, len, &type);
    if (rc < 0)
        return rc;
    switch (type) {
    case KNIT_CTL_ID_REQUEST:
        rc = knit_msg_decode(body, len, &knit_control_id_request, &msg);
        return rc < 0 ? rc : answer_id(d, out, cap, out_len);
    case KNIT_CTL_PING_REQUEST:
        return d->ops ? knit_daemon_ops_ping(d->ops, client, body, len)
                      : KNIT_E_UNSUPPORTED;
    case KNIT_CTL_BENCH_REQUEST:
        return d->ops ? knit_daemon_ops_bench(d->ops, client, body, len)
                      : KNIT_E_UNSUPPORTED;
    case KNIT_CTL_FIND_REQUEST:
        return d->ops ? knit_daemon_ops_find(d->ops, client, body, len)
                      : KNIT_E_UNSUPPORTED;
    case KNIT_CTL_PEERS_REQUEST:
        rc = knit_msg_decode(body, len, &knit_control_peers_request, &msg);
        return rc < 0 ? rc : knit_daemon_answer_peers(d->node, out, cap,
                                                      out_len);
    case KNIT_CTL_STATUS_REQUEST: {
        rc = knit_msg_decode(body, len, &knit_control_status_request, &msg);
        if (rc < 0)
            return rc;
        struct knit_daemon_portmap_info portmap;
        knit_daemon_portmap_info(d->portmap, &portmap);
        return knit_daemon_answer_status(d->node,
                                         knit_uv_driver_now(d->driver),
                                         &portmap, out, cap, out_len);
    }
    case KNIT_CTL_DHT_TABLE_REQUEST:
        rc = knit_msg_decode(body, len, &knit_control_dht_table_request,
                             &msg);
        return rc < 0 ? rc : knit_daemon_answer_dht_table(d->node, out, cap,
                                                          out_len);
    case KNIT_CTL_MPYC_REQUEST:
        return d->mpyc ? knit_mpyc_sessions_request(d->mpyc, client, body,
                                                    len)
                       : KNIT_E_UNSUPPORTED;
    default:
        if (knit_forward_control_handles(type))
            return knit_forward_control(d->forwarder, client, type, body,
                                        len, out, cap, out_len);
        return KNIT_E_UNSUPPORTED;
    }
}

static void on_control_closed(void *ctx, struct knit_control_client *client)
{
    struct daemon *d = ctx;
    if (d->ops)
        knit_daemon_ops_client_closed(d->ops, client);
    if (d->mpyc)
        knit_mpyc_sessions_client_closed(d->mpyc, client);
    knit_forwarder_drop_owner(d->forwarder, client);
}

/* Our record, the saved DHT state, then the bootstrap peers. Addresses
 * beyond what a record holds are left out of it (they stay in `knit id`). */
static int join(struct daemon *d, char *err, size_t errcap)
{
    uint64_t now = knit_uv_driver_now(d->driver);
    size_t n = d->addr_count < KNIT_RECORD_MAX_ADDRS ? d->addr_count
                                                     : KNIT_RECORD_MAX_ADDRS;
    int rc = knit_node_set_addresses(d->node, d->addr_sockets, n, now);
    if (rc == KNIT_OK)
        rc = knit_daemon_dht_start(&d->dht, &d->loop, d->node, d->driver,
                                   d->opts->data_dir);
    if (rc == KNIT_OK)
        rc = knit_node_bootstrap(d->node, d->opts->bootstrap,
                                 d->opts->bootstrap_count, now);
    if (rc != KNIT_OK)
        snprintf(err, errcap, "cannot join the DHT: %s", knit_strerror(rc));
    knit_uv_driver_rearm(d->driver);
    return rc;
}

/* The stream protocols the daemon serves itself (node/node.h's list). */
static const char *const served_protocols[] = {
    KNIT_FORWARD_PROTOCOL,
    KNIT_PARTY_PROTOCOL,        /* knit mpyc: node/mpyc_session.h */
    NULL,
};

static int start(struct daemon *d, struct knit_identity *ident, char *err,
                 size_t errcap)
{
    struct knit_uv_callbacks cb = {
        .ctx = d, .on_packet = on_packet, .on_timer = on_timer,
        .next_deadline = next_deadline, .on_event = on_node_event,
    };
    int rc = knit_uv_driver_new(&d->driver, &d->loop, &cb);
    if (rc == KNIT_OK) {
        struct knit_io io;
        knit_uv_driver_io(d->driver, &io);
        /* The core reads no clocks: it gets the wall clock once, here, for
         * the timestamps that make replayed handshakes useless. */
        uv_timeval64_t tv;
        uv_gettimeofday(&tv);
        struct knit_session_config session;
        knit_session_config_default(&session);
        if (d->opts->keepalive_s) {
            session.keepalive_us = (uint64_t)d->opts->keepalive_s * 1000000u;
            /* Silence for three keepalives means the peer is gone. */
            session.idle_timeout_us = 3 * session.keepalive_us;
        }
        struct knit_relay_config relay;
        knit_relay_config_default(&relay);
        relay.allow = d->opts->relay_allow;
        relay.allow_count = d->opts->relay_allow_count;
        struct knit_node_config cfg = {
            .identity = ident,
            .protocols = served_protocols,
            .session = &session,
            .dht_mode = d->opts->dht_mode,
            .relay = &relay,
            .min_observers = d->opts->min_observers,
            .unix_time_us = (uint64_t)tv.tv_sec * 1000000u +
                            (uint64_t)tv.tv_usec,
        };
        rc = knit_node_new(&d->node, &cfg, &io,
                           knit_uv_driver_now(d->driver));
    }
    if (rc != KNIT_OK) {
        snprintf(err, errcap, "cannot start: %s", knit_strerror(rc));
        return rc;
    }
    char path[KNIT_PATH_MAX];
    rc = knit_datadir_path(d->opts->data_dir, KNIT_CONTROL_SOCKET_NAME, path,
                           sizeof path);
    if (rc == KNIT_OK)
        rc = knit_control_start(&d->control, &d->loop, path,
                                on_control_request, on_control_closed, d, err,
                                errcap);
    if (rc == KNIT_OK)
        rc = knit_daemon_ops_new(&d->ops, &d->loop, d->node, d->driver);
    if (rc == KNIT_OK)
        rc = knit_daemon_reach_new(&d->reach, &d->loop, d->node, d->driver);
    if (rc == KNIT_OK)
        rc = knit_forwarder_new(&d->forwarder, &d->loop, d->node, d->driver,
                                d->reach);
    if (rc == KNIT_OK)
        knit_forwarder_set_log_level(d->forwarder, d->opts->log_level);
    if (rc == KNIT_OK)
        rc = knit_mpyc_sessions_new(&d->mpyc, &d->loop, d->node, d->driver,
                                    d->reach, d->forwarder);
    if (rc == KNIT_OK)
        rc = bind_listen_addresses(d, err, errcap);
    if (rc == KNIT_OK)
        collect_addresses(d);
    return rc == KNIT_OK ? join(d, err, errcap) : rc;
}

int knit_daemon_run(const struct knit_daemon_options *opts)
{
    char err[512];
    char key_path[KNIT_PATH_MAX];
    if (sodium_init() < 0) {
        fprintf(stderr, "knit daemon: libsodium failed to initialise\n");
        return KNIT_EXIT_FAIL;
    }
    if (knit_datadir_path(opts->data_dir, KNIT_KEYFILE_NAME, key_path,
                          sizeof key_path) != KNIT_OK) {
        fprintf(stderr, "knit daemon: data directory path is too long\n");
        return KNIT_EXIT_FAIL;
    }
    if (knit_datadir_create(opts->data_dir, err, sizeof err) != KNIT_OK) {
        fprintf(stderr, "knit daemon: %s\n", err);
        return KNIT_EXIT_FAIL;
    }
    struct knit_identity ident;
    bool created = false;
    if (knit_keyfile_load_or_create(key_path, &ident, &created, err,
                                    sizeof err) != KNIT_OK) {
        fprintf(stderr, "knit daemon: %s\n", err);
        return KNIT_EXIT_FAIL;
    }

    /* Output is read by people and by scripts waiting for the addresses, so
     * each line leaves at once even when stdout is a pipe. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct daemon d = {.opts = opts, .exit_code = KNIT_EXIT_OK};
    if (uv_loop_init(&d.loop) != 0) {
        knit_identity_wipe(&ident);
        fprintf(stderr, "knit daemon: cannot start the event loop\n");
        return KNIT_EXIT_FAIL;
    }
    /* Signals are caught from here on, before "running" is printed, so
     * whoever waits for that line may stop us at once. */
    uv_signal_init(&d.loop, &d.sigint);
    uv_signal_init(&d.loop, &d.sigterm);
    d.sigint.data = d.sigterm.data = &d;
    uv_signal_start(&d.sigint, on_signal, SIGINT);
    uv_signal_start(&d.sigterm, on_signal, SIGTERM);
    int rc = start(&d, &ident, err, sizeof err);
    knit_identity_wipe(&ident);   /* the node holds its own copy */
    if (rc == KNIT_OK) {
        char id_text[KNIT_PEER_ID_TEXT_MAX];
        knit_peer_id_to_text(knit_node_peer_id(d.node), id_text,
                             sizeof id_text);
        printf("knit %s\n", KNIT_VERSION);
        printf("peer ID: %s\n", id_text);
        printf("data directory: %s (%s identity key)\n", opts->data_dir,
               created ? "created a new" : "loaded the");
        printf("listening on:\n");
        for (size_t i = 0; i < d.addr_count; i++)
            printf("  %s\n", d.addrs[i]);
        printf("DHT mode: %s\n",
               knit_node_dht_serving(d.node) ? "server" : "client");
        if (opts->bootstrap_count)
            printf("bootstrapping from %zu peer%s\n", opts->bootstrap_count,
                   opts->bootstrap_count == 1 ? "" : "s");
        else
            printf("no bootstrap peers configured\n");
        /* After the sockets are bound: it maps the main IPv4 socket's
         * port. Without it the node runs on, and status says off. */
        if (knit_daemon_portmap_start(&d.portmap, &d.loop, d.node, d.driver,
                                      d.bound, d.bound_count,
                                      !opts->no_port_mapping,
                                      opts->log_level) != KNIT_OK)
            fprintf(stderr, "knit: [warn] port mapping: out of memory\n");
        printf("running; stop with Ctrl-C (SIGINT) or SIGTERM\n");
    } else {
        knit_daemon_ops_close(d.ops);
        d.ops = NULL;
        knit_mpyc_sessions_close(d.mpyc);
        d.mpyc = NULL;
        knit_forwarder_close(d.forwarder);
        d.forwarder = NULL;
        knit_daemon_reach_close(d.reach);
        d.reach = NULL;
        knit_daemon_dht_close(d.dht);
        d.dht = NULL;
        if (d.driver)
            knit_uv_driver_close(d.driver);
        knit_control_close(d.control);
        uv_close((uv_handle_t *)&d.sigint, NULL);
        uv_close((uv_handle_t *)&d.sigterm, NULL);
        d.exit_code = KNIT_EXIT_FAIL;
        fprintf(stderr, "knit daemon: %s\n", err);
    }
    /* Runs until the signal handler (or a failed start) has closed every
     * handle; then the loop has nothing left and returns. */
    uv_run(&d.loop, UV_RUN_DEFAULT);
    knit_node_free(d.node);
    if (uv_loop_close(&d.loop) != 0)
        fprintf(stderr, "knit daemon: event loop closed with handles open\n");
    if (d.exit_code == KNIT_EXIT_OK)
        printf("stopped\n");
    return d.exit_code;
}
