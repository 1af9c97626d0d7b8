#include "cli.h"

#include <getopt.h>
#include <string.h>

#include "datadir.h"
#include "proto/multiaddr.h"
#include "transport/error.h"

#define TOP_USAGE \
    "usage: knit <command> [options]\n" \
    "\n" \
    "knit is a peer-to-peer overlay node: every node has a public-key\n" \
    "identity (its peer ID) and peers reach each other through NATs.\n" \
    "\n" \
    "commands:\n" \
    "  daemon    run a node in the foreground\n" \
    "  id        print this node's peer ID and addresses\n" \
    "  keygen    create an identity key\n" \
    "  ping      measure round trips to a peer (through the daemon)\n" \
    "  bench     measure throughput to a peer (through the daemon)\n" \
    "  find      look a peer's addresses up in the DHT (through the daemon)\n" \
    "  peers     list the peers the daemon has sessions with\n" \
    "  dht       show the daemon's DHT routing table (knit dht table)\n" \
    "  status    show how the Internet sees the node: reachability, NAT\n" \
    "            type, observed addresses, relays (through the daemon)\n" \
    "  expose    offer a local TCP port to named peers as a service\n" \
    "  forward   carry a local TCP port to a peer's exposed service\n" \
    "  forwards  list what the daemon exposes and forwards\n" \
    "  mpyc      run one party of an MPyC computation, the parties named\n" \
    "            by peer ID (through the daemon)\n" \
    "\n" \
    "options:\n" \
    "  -h, --help       show this help (knit <command> --help for a command)\n" \
    "  -V, --version    print the version\n" \
    "\n" \
    "The data directory is --data-dir, else $KNIT_DATA_DIR, else\n" \
    "$XDG_DATA_HOME/knit, else ~/.local/share/knit.\n"

struct command {
    const char *name;
    int (*run)(int argc, char **argv);
};

static const struct command commands[] = {
    {"daemon", knit_cli_daemon},
    {"id", knit_cli_id},
    {"keygen", knit_cli_keygen},
    {"ping", knit_cli_ping},
    {"bench", knit_cli_bench},
    {"find", knit_cli_find},
    {"peers", knit_cli_peers},
    {"dht", knit_cli_dht},
    {"status", knit_cli_status},
    {"expose", knit_cli_expose},
    {"forward", knit_cli_forward},
    {"forwards", knit_cli_forwards},
    {"mpyc", knit_cli_mpyc},
};

int knit_cli_usage_error(const char *cmd, int opt, int bad_opt, char **argv,
                         int optind_after)
{
    /* getopt has moved past the offending word, so it is argv[optind-1]. */
    const char *word = optind_after > 0 ? argv[optind_after - 1] : "?";
    if (opt == ':')
        fprintf(stderr, "knit %s: option %s needs an argument "
                        "(try 'knit %s --help')\n", cmd, word, cmd);
    else if (bad_opt && !(word[0] == '-' && word[1] == '-'))
        fprintf(stderr, "knit %s: unknown option -%c "
                        "(try 'knit %s --help')\n", cmd, bad_opt, cmd);
    else
        fprintf(stderr, "knit %s: unknown option %s (try 'knit %s --help')\n",
                cmd, word, cmd);
    return KNIT_EXIT_USAGE;
}

void knit_cli_json_string(FILE *out, const char *s)
{
    knit_cli_json_bytes(out, (const uint8_t *)s, strlen(s));
}

void knit_cli_json_bytes(FILE *out, const uint8_t *p, size_t len)
{
    fputc('"', out);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = p[i];
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c < 0x20)
            fprintf(out, "\\u%04x", c);
        else
            fputc(c, out);
    }
    fputc('"', out);
}

int knit_cli_parse_peer(const char *text, struct knit_peer_id *id)
{
    if (text[0] != '/')
        return knit_peer_id_from_text(id, text, strlen(text));
    struct knit_multiaddr ma;
    int err = knit_multiaddr_parse(&ma, text, strlen(text));
    if (err)
        return err;
    if (ma.count != 1 || ma.c[0].protocol != KNIT_MA_P2P)
        return KNIT_E_SHAPE;
    *id = ma.c[0].v.peer;
    return KNIT_OK;
}

bool knit_cli_parse_query(const char *cmd, const char *usage,
                          const char *arg_name, int argc, char **argv,
                          struct knit_cli_query *q, int *code)
{
    enum { OPT_DATA_DIR = 256, OPT_JSON };
    static const struct option longopts[] = {
        {"data-dir", required_argument, NULL, OPT_DATA_DIR},
        {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt;
    while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'h':
            fputs(usage, stdout);
            *code = KNIT_EXIT_OK;
            return false;
        case OPT_DATA_DIR:
            q->data_dir_flag = optarg;
            break;
        case OPT_JSON:
            q->json = true;
            break;
        default:
            *code = knit_cli_usage_error(cmd, opt, optopt, argv, optind);
            return false;
        }
    }
    int want = arg_name ? 1 : 0;
    if (argc - optind != want) {
        if (optind < argc && argc - optind > want)
            fprintf(stderr, "knit %s: unexpected argument '%s' (try 'knit %s "
                            "--help')\n", cmd, argv[optind + want], cmd);
        else
            fprintf(stderr, "knit %s: missing the %s (try 'knit %s --help')\n",
                    cmd, arg_name, cmd);
        *code = KNIT_EXIT_USAGE;
        return false;
    }
    q->arg = want ? argv[optind] : NULL;
    return true;
}


bool knit_cli_ask(const char *cmd, const char *data_dir_flag,
                  const uint8_t *request, size_t len, uint64_t response_type,
                  const struct knit_msg_schema *schema, int timeout_ms,
                  struct knit_control_reply *reply)
{
    char dir[KNIT_PATH_MAX], err[512];
    uint64_t type;
    const uint8_t *body;
    size_t body_len;
    int rc = knit_datadir_resolve(data_dir_flag, dir, sizeof dir, err,
                                  sizeof err);
    if (rc == KNIT_OK)
        rc = knit_control_connect(&reply->conn, dir, err, sizeof err);
    if (rc == KNIT_OK) {
        rc = knit_control_request(&reply->conn, request, len, err,
                                  sizeof err);
        if (rc == KNIT_OK)
            rc = knit_control_next(&reply->conn, timeout_ms, &type, &body,
                                   &body_len, err, sizeof err);
        knit_control_disconnect(&reply->conn);
    }
    if (rc == KNIT_OK && type != response_type) {
        snprintf(err, sizeof err, "daemon sent an unexpected answer (type "
                                  "%llu)", (unsigned long long)type);
        rc = KNIT_E_TYPE;
    }
    if (rc == KNIT_OK) {
        rc = knit_msg_decode(body, body_len, schema, &reply->msg);
        if (rc != KNIT_OK)
            snprintf(err, sizeof err, "daemon sent a malformed answer: %s",
                     knit_strerror(rc));
    }
    if (rc != KNIT_OK) {
        fprintf(stderr, "knit %s: %s\n", cmd, err);
        return false;
    }
    return true;
}

int knit_cli_main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(TOP_USAGE, stderr);
        return KNIT_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        fputs(TOP_USAGE, stdout);
        return KNIT_EXIT_OK;
    }
    if (!strcmp(cmd, "-V") || !strcmp(cmd, "--version")) {
        printf("knit %s\n", KNIT_VERSION);
        return KNIT_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (!strcmp(cmd, commands[i].name)) {
            optind = 0;     /* glibc: start a fresh scan of the sub-argv */
            opterr = 0;     /* we print our own one-line errors */
            return commands[i].run(argc - 1, argv + 1);
        }
    }
    if (cmd[0] == '-')
        fprintf(stderr, "knit: unknown option %s (try 'knit --help')\n", cmd);
    else
        fprintf(stderr, "knit: unknown command '%s' (try 'knit --help')\n",
                cmd);
    return KNIT_EXIT_USAGE;
}

bool knit_cli_ask_bare(const char *cmd, const char *data_dir_flag,
                       uint64_t request_type, uint64_t response_type,
                       const struct knit_msg_schema *schema,
                       struct knit_control_reply *reply)
{
    uint8_t request[16];
    struct knit_msg_writer w;
    size_t len = 0;
    knit_msg_writer_init(&w, request, sizeof request);
    knit_msg_begin(&w, request_type, 0);
    if (knit_msg_end(&w, &len) != KNIT_OK)
        return false;   /* cannot happen: a type alone fits */
    return knit_cli_ask(cmd, data_dir_flag, request, len, response_type,
                        schema, KNIT_CONTROL_TIMEOUT_MS, reply);
}
