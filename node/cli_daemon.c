/* `knit daemon`: parse the options, then hand over to node/daemon.c. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bootstrap_list.h"
#include "cli.h"
#include "daemon.h"
#include "datadir.h"
#include "proto/multiaddr.h"
#include "transport/error.h"

#define DAEMON_USAGE \
    "usage: knit daemon [options]\n" \
    "\n" \
    "Run a knit node in the foreground until SIGINT (Ctrl-C) or SIGTERM.\n" \
    "On first start it creates the node's identity key in the data\n" \
    "directory, then prints its peer ID and the addresses it listens on.\n" \
    "\n" \
    "options:\n" \
    "  --data-dir DIR      data directory (default: $KNIT_DATA_DIR, else\n" \
    "                      $XDG_DATA_HOME/knit, else ~/.local/share/knit)\n" \
    "  --listen MULTIADDR  a UDP address to listen on, repeatable, e.g.\n" \
    "                      /ip4/0.0.0.0/udp/4001 or /ip6/::/udp/4001\n" \
    "                      (default: both of those; if port 4001 is taken,\n" \
    "                      a free port, said plainly)\n" \
    "  --keepalive SECONDS idle time before a keepalive on a session we keep\n" \
    "                      (default 25, below the 30 s UDP timeout of many\n" \
    "                      NATs); a peer silent for three is taken as gone\n" \
    "  --bootstrap MULTIADDR\n" \
    "                      a peer to join the DHT through, repeatable:\n" \
    "                      /ip4/<ip>/udp/<port>/p2p/<peer-id> (or /ip6/...)\n" \
    "  --bootstrap-file FILE\n" \
    "                      more such peers, one multiaddr per line; blank\n" \
    "                      lines and lines starting with # are skipped\n" \
    "                      (at most 64 peers in all; a peer named twice\n" \
    "                      counts once)\n" \
    "  --dht-mode MODE     server (answer DHT requests), client (only ask)\n" \
    "                      or auto (default: server when AutoNAT finds the\n" \
    "                      node reachable; before it has a verdict, when\n" \
    "                      the node has a public address)\n" \
    "  --relay-allow PEER-ID\n" \
    "                      a peer this node relays for without the default\n" \
    "                      limits (when it is public and serves as a relay),\n" \
    "                      repeatable, at most 64; circuits between two\n" \
    "                      such peers have no byte or time limit\n" \
    "  --min-observers N   distinct peers (by IP) that must report the same\n" \
    "                      outside address before it is trusted, 1 to 16\n" \
    "                      (default 3; fewer do in a network that has fewer,\n" \
    "                      reported with low confidence)\n" \
    "  --no-port-mapping   do not ask the gateway (PCP, NAT-PMP, UPnP-IGD) to\n" \
    "                      forward a port to the node; without this it asks\n" \
    "                      for the main IPv4 socket's port, unless every\n" \
    "                      IPv4 socket is on loopback, and offers what it\n" \
    "                      gets to peers for hole punching\n" \
    "  --log-level LEVEL   error, warn, info (default) or debug\n" \
    "  -h, --help          show this help\n"

static int parse_log_level(const char *s, enum knit_log_level *out)
{
    static const char *names[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++) {
        if (!strcmp(s, names[i])) {
            *out = (enum knit_log_level)i;
            return 0;
        }
    }
    return -1;
}

/* A listen address is a bare UDP endpoint: /ip4|ip6/<ip>/udp/<port>. */
static int parse_listen(const char *text, struct knit_addr *out)
{
    struct knit_multiaddr ma;
    int err = knit_multiaddr_parse(&ma, text, strlen(text));
    if (err) {
        fprintf(stderr, "knit daemon: invalid --listen address '%s': %s\n",
                text, knit_strerror(err));
        return -1;
    }
    if (ma.count != 2 || knit_multiaddr_to_socket(&ma, out) != KNIT_OK) {
        fprintf(stderr, "knit daemon: --listen takes /ip4/<ip>/udp/<port> "
                        "or /ip6/<ip>/udp/<port>, not '%s'\n", text);
        return -1;
    }
    return 0;
}

static const char *bootstrap_reason(int err)
{
    switch (err) {
    case KNIT_E_SHAPE:
        return "a bootstrap peer is /ip4/<ip>/udp/<port>/p2p/<peer-id> "
               "(or /ip6/...)";
    case KNIT_E_BAD_IP:
        return "not an IP address a peer can be reached at";
    case KNIT_E_BAD_PORT:
        return "not a port a peer can be reached at (1..65535)";
    default:
        return knit_strerror(err);
    }
}

static int parse_bootstrap(const char *text, struct knit_daemon_options *o)
{
    struct knit_bootstrap_peer p;
    int err = knit_bootstrap_parse_one(text, strlen(text), &p);
    if (err) {
        fprintf(stderr, "knit daemon: invalid --bootstrap multiaddr '%s': "
                        "%s\n", text, bootstrap_reason(err));
        return -1;
    }
    if (knit_bootstrap_add(o->bootstrap, KNIT_DAEMON_MAX_BOOTSTRAP,
                           &o->bootstrap_count, &p) != KNIT_OK) {
        fprintf(stderr, "knit daemon: more than %d bootstrap peers\n",
                KNIT_DAEMON_MAX_BOOTSTRAP);
        return -1;
    }
    return 0;
}

/* --relay-allow: a peer ID in text; the same peer twice counts once. */
static int parse_relay_allow(const char *text, struct knit_daemon_options *o)
{
    struct knit_peer_id id;
    int err = knit_peer_id_from_text(&id, text, strlen(text));
    if (err) {
        fprintf(stderr, "knit daemon: invalid --relay-allow peer ID '%s': "
                        "%s\n", text, knit_strerror(err));
        return -1;
    }
    for (size_t i = 0; i < o->relay_allow_count; i++)
        if (knit_peer_id_equal(&o->relay_allow[i], &id))
            return 0;
    if (o->relay_allow_count == KNIT_DAEMON_MAX_RELAY_ALLOW) {
        fprintf(stderr, "knit daemon: more than %d --relay-allow peers\n",
                KNIT_DAEMON_MAX_RELAY_ALLOW);
        return -1;
    }
    o->relay_allow[o->relay_allow_count++] = id;
    return 0;
}

/* A bootstrap list is a few lines; a larger file is surely a mistake. */
#define BOOTSTRAP_FILE_MAX (1024 * 1024)

/* Reads the whole file into a buffer the caller frees; NULL after saying
 * why. */
static char *read_bootstrap_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "knit daemon: cannot read bootstrap file %s: %s\n",
                path, strerror(errno));
        return NULL;
    }
    /* One byte more than allowed tells a file at the limit from a larger
     * one without trusting a size from stat (a pipe has none). */
    char *buf = malloc(BOOTSTRAP_FILE_MAX + 1);
    size_t n = buf ? fread(buf, 1, BOOTSTRAP_FILE_MAX + 1, f) : 0;
    int failed = !buf || ferror(f);
    int e = errno;
    fclose(f);
    if (failed) {
        fprintf(stderr, "knit daemon: cannot read bootstrap file %s: %s\n",
                path, buf ? strerror(e) : "out of memory");
        free(buf);
        return NULL;
    }
    if (n > BOOTSTRAP_FILE_MAX) {
        fprintf(stderr, "knit daemon: bootstrap file %s is larger than "
                        "1 MiB\n", path);
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static int load_bootstrap_file(const char *path, struct knit_daemon_options *o)
{
    size_t len, bad_line;
    char *text = read_bootstrap_file(path, &len);
    if (!text)
        return -1;
    int err = knit_bootstrap_parse_text(text, len, o->bootstrap,
                                        KNIT_DAEMON_MAX_BOOTSTRAP,
                                        &o->bootstrap_count, &bad_line);
    const char *line;
    size_t n;
    if (err && knit_bootstrap_line(text, len, bad_line, &line, &n) == 0) {
        /* The parser checks in this order, so the line tells which. */
        if (memchr(line, '\0', n)) {
            fprintf(stderr, "knit daemon: %s:%zu: a NUL byte (is this a "
                            "text file?)\n", path, bad_line);
        } else if (n > KNIT_MA_TEXT_MAX - 1) {
            fprintf(stderr, "knit daemon: %s:%zu: line longer than %d "
                            "bytes\n", path, bad_line, KNIT_MA_TEXT_MAX - 1);
        } else if (err == KNIT_E_TOO_BIG) {
            fprintf(stderr, "knit daemon: %s:%zu: more than %d bootstrap "
                            "peers\n", path, bad_line,
                    KNIT_DAEMON_MAX_BOOTSTRAP);
        } else {
            while (n && is_blank(*line))
                line++, n--;
            while (n && is_blank(line[n - 1]))
                n--;
            fprintf(stderr, "knit daemon: %s:%zu: invalid multiaddr '%.*s': "
                            "%s\n", path, bad_line, (int)n, line,
                    bootstrap_reason(err));
        }
    } else if (err) {
        fprintf(stderr, "knit daemon: %s:%zu: %s\n", path, bad_line,
                knit_strerror(err));
    }
    free(text);
    return err ? -1 : 0;
}

static int parse_dht_mode(const char *s, enum knit_dht_mode *out)
{
    if (!strcmp(s, "auto"))
        *out = KNIT_DHT_MODE_AUTO;
    else if (!strcmp(s, "server"))
        *out = KNIT_DHT_MODE_SERVER;
    else if (!strcmp(s, "client"))
        *out = KNIT_DHT_MODE_CLIENT;
    else
        return -1;
    return 0;
}

int knit_cli_daemon(int argc, char **argv)
{
    enum {
        OPT_DATA_DIR = 256, OPT_LISTEN, OPT_LOG_LEVEL, OPT_KEEPALIVE,
        OPT_BOOTSTRAP, OPT_BOOTSTRAP_FILE, OPT_DHT_MODE, OPT_RELAY_ALLOW,
        OPT_MIN_OBSERVERS, OPT_NO_PORT_MAPPING,
    };
    static const struct option longopts[] = {
        {"data-dir", required_argument, NULL, OPT_DATA_DIR},
        {"listen", required_argument, NULL, OPT_LISTEN},
        {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
        {"keepalive", required_argument, NULL, OPT_KEEPALIVE},
        {"bootstrap", required_argument, NULL, OPT_BOOTSTRAP},
        {"bootstrap-file", required_argument, NULL, OPT_BOOTSTRAP_FILE},
        {"dht-mode", required_argument, NULL, OPT_DHT_MODE},
        {"relay-allow", required_argument, NULL, OPT_RELAY_ALLOW},
        {"min-observers", required_argument, NULL, OPT_MIN_OBSERVERS},
        {"no-port-mapping", no_argument, NULL, OPT_NO_PORT_MAPPING},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct knit_daemon_options opts = {
        .log_level = KNIT_LOG_INFO,
        .dht_mode = KNIT_DHT_MODE_AUTO,
    };
    const char *data_dir_flag = NULL;
    int opt;
    while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'h':
            fputs(DAEMON_USAGE, stdout);
            return KNIT_EXIT_OK;
        case OPT_DATA_DIR:
            data_dir_flag = optarg;
            break;
        case OPT_LISTEN:
            if (opts.listen_count == KNIT_DAEMON_MAX_LISTEN) {
                fprintf(stderr, "knit daemon: at most %d --listen addresses\n",
                        KNIT_DAEMON_MAX_LISTEN);
                return KNIT_EXIT_USAGE;
            }
            if (parse_listen(optarg, &opts.listen[opts.listen_count]) < 0)
                return KNIT_EXIT_USAGE;
            opts.listen_count++;
            break;
        case OPT_LOG_LEVEL:
            if (parse_log_level(optarg, &opts.log_level) < 0) {
                fprintf(stderr, "knit daemon: --log-level takes error, warn, "
                                "info or debug, not '%s'\n", optarg);
                return KNIT_EXIT_USAGE;
            }
            break;
        case OPT_KEEPALIVE: {
            char *end;
            unsigned long v = strtoul(optarg, &end, 10);
            if (*optarg < '1' || *optarg > '9' || *end || v > 3600) {
                fprintf(stderr, "knit daemon: --keepalive takes 1 to 3600 "
                                "seconds, not '%s'\n", optarg);
                return KNIT_EXIT_USAGE;
            }
            opts.keepalive_s = (uint32_t)v;
            break;
        }
        case OPT_BOOTSTRAP:
            if (parse_bootstrap(optarg, &opts) < 0)
                return KNIT_EXIT_USAGE;
            break;
        case OPT_BOOTSTRAP_FILE:
            if (load_bootstrap_file(optarg, &opts) < 0)
                return KNIT_EXIT_USAGE;
            break;
        case OPT_DHT_MODE:
            if (parse_dht_mode(optarg, &opts.dht_mode) < 0) {
                fprintf(stderr, "knit daemon: --dht-mode takes auto, server "
                                "or client, not '%s'\n", optarg);
                return KNIT_EXIT_USAGE;
            }
            break;
        case OPT_RELAY_ALLOW:
            if (parse_relay_allow(optarg, &opts) < 0)
                return KNIT_EXIT_USAGE;
            break;
        case OPT_MIN_OBSERVERS: {
            char *end;
            unsigned long v = strtoul(optarg, &end, 10);
            if (*optarg < '1' || *optarg > '9' || *end || v > 16) {
                fprintf(stderr, "knit daemon: --min-observers takes 1 to 16, "
                                "not '%s'\n", optarg);
                return KNIT_EXIT_USAGE;
            }
            opts.min_observers = (uint32_t)v;
            break;
        }
        case OPT_NO_PORT_MAPPING:
            opts.no_port_mapping = true;
            break;
        default:
            return knit_cli_usage_error("daemon", opt, optopt, argv, optind);
        }
    }
    if (optind < argc) {
        fprintf(stderr, "knit daemon: unexpected argument '%s' "
                        "(try 'knit daemon --help')\n", argv[optind]);
        return KNIT_EXIT_USAGE;
    }
    char data_dir[KNIT_PATH_MAX], err[256];
    if (knit_datadir_resolve(data_dir_flag, data_dir, sizeof data_dir, err,
                             sizeof err) != KNIT_OK) {
        fprintf(stderr, "knit daemon: %s\n", err);
        return KNIT_EXIT_FAIL;
    }
    opts.data_dir = data_dir;
    return knit_daemon_run(&opts);
}
