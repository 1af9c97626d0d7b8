/* `knit daemon`: parse the options, then hand over to node/daemon.c. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int knit_cli_daemon(int argc, char **argv)
{
    enum { OPT_DATA_DIR = 256, OPT_LISTEN, OPT_LOG_LEVEL, OPT_KEEPALIVE };
    static const struct option longopts[] = {
        {"data-dir", required_argument, NULL, OPT_DATA_DIR},
        {"listen", required_argument, NULL, OPT_LISTEN},
        {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
        {"keepalive", required_argument, NULL, OPT_KEEPALIVE},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct knit_daemon_options opts = {.log_level = KNIT_LOG_INFO};
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
