#include "daemon.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>
#include <uv.h>

#include "cli.h"
#include "datadir.h"
#include "keyfile.h"
#include "node.h"
#include "proto/multiaddr.h"
#include "transport/error.h"
#include "transport/uv_driver.h"

struct daemon {
    const struct knit_daemon_options *opts;
    uv_loop_t loop;
    uv_signal_t sigint, sigterm;
    struct knit_uv_driver *driver;
    struct knit_node *node;
    struct knit_addr bound[KNIT_DAEMON_MAX_LISTEN];
    size_t bound_count;
    int exit_code;
};

static const char *level_names[] = {"error", "warn", "info", "debug"};

static void on_node_event(void *ctx, const struct knit_event *ev)
{
    struct daemon *d = ctx;
    if (ev->type == KNIT_EVENT_LOG && ev->u.log.level <= d->opts->log_level)
        fprintf(stderr, "knit: [%s] %s\n", level_names[ev->u.log.level],
                ev->u.log.message);
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
    printf("received %s, shutting down\n",
           signum == SIGINT ? "SIGINT" : "SIGTERM");
    fflush(stdout);
    knit_uv_driver_close(d->driver);
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

static void print_addr(const struct knit_addr *a, const struct knit_peer_id *id)
{
    struct knit_multiaddr ma;
    char text[KNIT_MA_TEXT_MAX];
    if (knit_multiaddr_from_socket(&ma, a, id) == KNIT_OK &&
        knit_multiaddr_format(&ma, text, sizeof text) == KNIT_OK)
        printf("  %s\n", text);
}

/* A socket bound to 0.0.0.0 or :: is reachable at every interface address of
 * its family; list those, as a user would dial them. IPv6 link-local
 * addresses are left out: they need a zone, which multiaddrs cannot carry. */
static void print_listen_addresses(struct daemon *d)
{
    const struct knit_peer_id *id = knit_node_peer_id(d->node);
    uv_interface_address_t *ifs = NULL;
    int count = 0;
    if (uv_interface_addresses(&ifs, &count) != 0)
        count = 0;
    printf("listening on:\n");
    for (size_t i = 0; i < d->bound_count; i++) {
        const struct knit_addr *b = &d->bound[i];
        if (!knit_addr_is_unspecified(b)) {
            print_addr(b, id);
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
            print_addr(&a, id);
        }
    }
    uv_free_interface_addresses(ifs, count);
}

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
        struct knit_node_config cfg = {.identity = ident};
        rc = knit_node_new(&d->node, &cfg, &io,
                           knit_uv_driver_now(d->driver));
    }
    if (rc != KNIT_OK) {
        snprintf(err, errcap, "cannot start: %s", knit_strerror(rc));
        return rc;
    }
    return bind_listen_addresses(d, err, errcap);
}

int knit_daemon_run(const struct knit_daemon_options *opts)
{
    char err[512];
    char key_path[KNIT_PATH_MAX];
    if (sodium_init() < 0) {
        fprintf(stderr, "knit daemon: libsodium failed to initialise\n");
        return KNIT_EXIT_FAIL;
    }
    if (knit_datadir_path(opts->data_dir, KNIT_KEY_FILE_NAME, key_path,
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
        print_listen_addresses(&d);
        printf("no bootstrap peers configured\n");
        printf("running; stop with Ctrl-C (SIGINT) or SIGTERM\n");
        uv_signal_init(&d.loop, &d.sigint);
        uv_signal_init(&d.loop, &d.sigterm);
        d.sigint.data = d.sigterm.data = &d;
        uv_signal_start(&d.sigint, on_signal, SIGINT);
        uv_signal_start(&d.sigterm, on_signal, SIGTERM);
    } else {
        if (d.driver)
            knit_uv_driver_close(d.driver);
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
