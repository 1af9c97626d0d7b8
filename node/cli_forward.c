/* `knit expose`, `knit forward` and `knit forwards`: port forwarding over
 * the overlay, carried out by the running daemon (node/forward.h). */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "control_client.h"
#include "service_msg.h"
#include "transport/error.h"

#define EXPOSE_USAGE \
    "usage: knit expose <service> <local-port> (--allow <peer-id>)...\n" \
    "       knit expose <service> <local-port> --allow-any\n" \
    "       knit expose --remove <service>\n" \
    "\n" \
    "Offer the TCP port 127.0.0.1:<local-port> of this machine, through the\n" \
    "running daemon, as <service> to the peers named with --allow (up to\n" \
    "64; 12D3KooW... or /p2p/12D3KooW...). A peer reaches it with\n" \
    "'knit forward'. Other peers are refused, and the daemon logs each\n" \
    "refusal. Exposing to every peer must be asked for with --allow-any.\n" \
    "The service name is 1 to 64 of A-Z a-z 0-9 . _ / : -. An expose lasts\n" \
    "until removed or until the daemon stops; removing it leaves the\n" \
    "connections already made to finish.\n" \
    "\n" \
    "options:\n" \
    "  --allow PEER-ID  a peer that may connect (repeat for more)\n" \
    "  --allow-any      any peer may connect\n" \
    "  --remove         stop offering <service>\n" \
    "  --data-dir DIR   the daemon's data directory (see knit --help)\n" \
    "  -h, --help       show this help\n"

#define FORWARD_USAGE \
    "usage: knit forward <local-port> <peer-id> <service>\n" \
    "       knit forward --remove <local-port>\n" \
    "\n" \
    "Listen on 127.0.0.1:<local-port> through the running daemon; every\n" \
    "connection made there is carried over the overlay to <service> exposed\n" \
    "by the peer (see knit expose). The daemon finds the peer by its ID in\n" \
    "the DHT and sets up a session if there is none (up to 30 s). Port 0\n" \
    "picks a free port; the port is printed. A connection the peer refuses\n" \
    "(service unknown, not allowed, its port closed) is reset, and the\n" \
    "daemon logs why. A forward lasts until removed or until the daemon\n" \
    "stops; removing it closes the listener and leaves the connections\n" \
    "already made to finish.\n" \
    "\n" \
    "options:\n" \
    "  --remove         close the listener on <local-port>\n" \
    "  --data-dir DIR   the daemon's data directory (see knit --help)\n" \
    "  -h, --help       show this help\n"

#define FORWARDS_USAGE \
    "usage: knit forwards [--json] [--data-dir DIR]\n" \
    "\n" \
    "List what the running daemon exposes (service, local port, the peers\n" \
    "allowed) and forwards (local port, peer, service), each with the\n" \
    "connections bridged through it now.\n" \
    "\n" \
    "options:\n" \
    "  --json           print {\"exposes\": [{\"service\": ..., \"port\": N,\n" \
    "                   \"allow\": [peer IDs], \"any\": bool, \"connections\":\n" \
    "                   N}], \"forwards\": [{\"port\": N, \"peer_id\": ...,\n" \
    "                   \"service\": ..., \"listening\": bool,\n" \
    "                   \"connections\": N}]}\n" \
    "  --data-dir DIR   the daemon's data directory (see knit --help)\n" \
    "  -h, --help       show this help\n"

enum { OPT_DATA_DIR = 256, OPT_ALLOW, OPT_ALLOW_ANY, OPT_REMOVE, OPT_JSON };

static bool parse_port(const char *s, bool zero_ok, uint16_t *out)
{
    char *end;
    if (!*s || *s < '0' || *s > '9')
        return false;
    unsigned long v = strtoul(s, &end, 10);
    if (*end || v > 65535 || (v == 0 && !zero_ok))
        return false;
    *out = (uint16_t)v;
    return true;
}

/* "knit <cmd>: <problem> <arg><rest> (try ...)"; arg and rest may be "". */
static int bad_usage(const char *cmd, const char *problem, const char *arg,
                     const char *rest)
{
    fprintf(stderr, "knit %s: %s%s%s (try 'knit %s --help')\n", cmd,
            problem, arg, rest, cmd);
    return KNIT_EXIT_USAGE;
}

/* Sends the request and expects KNIT_CTL_OK. */
static int ask_ok(const char *cmd, const char *data_dir,
                  struct knit_msg_writer *w)
{
    size_t len;
    if (knit_msg_end(w, &len) != KNIT_OK) {
        fprintf(stderr, "knit %s: the request does not fit\n", cmd);
        return KNIT_EXIT_FAIL;
    }
    static struct knit_control_reply reply;
    return knit_cli_ask(cmd, data_dir, w->buf, len, KNIT_CTL_OK,
                        &knit_control_ok, KNIT_CONTROL_TIMEOUT_MS, &reply)
               ? KNIT_EXIT_OK : KNIT_EXIT_FAIL;
}

static bool check_service(const char *cmd, const char *name, int *code)
{
    if (knit_service_name_valid(name, strlen(name)))
        return true;
    *code = bad_usage(cmd, "invalid service name '", name,
                      "': use 1 to 64 of A-Z a-z 0-9 . _ / : -");
    return false;
}

int knit_cli_expose(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"allow", required_argument, NULL, OPT_ALLOW},
        {"allow-any", no_argument, NULL, OPT_ALLOW_ANY},
        {"remove", no_argument, NULL, OPT_REMOVE},
        {"data-dir", required_argument, NULL, OPT_DATA_DIR},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static char allow[64][KNIT_PEER_ID_TEXT_MAX];
    size_t allow_count = 0;
    bool any = false, remove = false;
    const char *data_dir = NULL;
    int opt, code;
    while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'h':
            fputs(EXPOSE_USAGE, stdout);
            return KNIT_EXIT_OK;
        case OPT_ALLOW: {
            struct knit_peer_id id;
            int err = knit_cli_parse_peer(optarg, &id);
            if (err) {
                fprintf(stderr, "knit expose: invalid peer ID '%s' for "
                                "--allow: %s\n", optarg, knit_strerror(err));
                return KNIT_EXIT_USAGE;
            }
            if (allow_count == 64)
                return bad_usage("expose", "more than 64 peers for --allow",
                                 "", "");
            knit_peer_id_to_text(&id, allow[allow_count++],
                                 KNIT_PEER_ID_TEXT_MAX);
            break;
        }
        case OPT_ALLOW_ANY:
            any = true;
            break;
        case OPT_REMOVE:
            remove = true;
            break;
        case OPT_DATA_DIR:
            data_dir = optarg;
            break;
        default:
            return knit_cli_usage_error("expose", opt, optopt, argv, optind);
        }
    }
    int want = remove ? 1 : 2;
    if (argc - optind != want)
        return bad_usage("expose", argc - optind < want
                                       ? "missing "
                                       : "too many arguments",
                         argc - optind >= want ? ""
                         : remove ? "the service"
                                  : "the service or the local port", "");
    const char *service = argv[optind];
    if (!check_service("expose", service, &code))
        return code;
    uint8_t request[KNIT_MSG_HEADER_LEN + 8192];
    struct knit_msg_writer w;
    knit_msg_writer_init(&w, request, sizeof request);
    if (remove) {
        if (allow_count || any)
            return bad_usage("expose", "--remove takes no --allow or "
                             "--allow-any", "", "");
        knit_msg_begin(&w, KNIT_CTL_UNEXPOSE_REQUEST, 1);
        knit_msg_put_str(&w, 1, service, strlen(service));
        code = ask_ok("expose", data_dir, &w);
        if (code == KNIT_EXIT_OK)
            printf("no longer exposing %s\n", service);
        return code;
    }
    uint16_t port;
    if (!parse_port(argv[optind + 1], false, &port))
        return bad_usage("expose", "invalid local port '", argv[optind + 1],
                         "': give 1 to 65535");
    if (!any && allow_count == 0)
        return bad_usage("expose", "name the peers that may connect with "
                         "--allow <peer-id>, or expose to every peer "
                         "explicitly with --allow-any", "", "");
    if (any && allow_count)
        return bad_usage("expose", "--allow-any and --allow exclude each "
                         "other", "", "");
    knit_msg_begin(&w, KNIT_CTL_EXPOSE_REQUEST, 4);
    knit_msg_put_str(&w, 1, service, strlen(service));
    knit_msg_put_uint(&w, 2, port);
    knit_msg_put_array_begin(&w, 3, (uint32_t)allow_count);
    for (size_t i = 0; i < allow_count; i++)
        knit_msg_add_str(&w, allow[i], strlen(allow[i]));
    knit_msg_array_end(&w);
    knit_msg_put_bool(&w, 4, any);
    code = ask_ok("expose", data_dir, &w);
    if (code == KNIT_EXIT_OK) {
        if (any)
            printf("exposing %s (127.0.0.1:%u) to any peer\n", service,
                   port);
        else
            printf("exposing %s (127.0.0.1:%u) to %zu peer%s\n", service,
                   port, allow_count, allow_count == 1 ? "" : "s");
    }
    return code;
}

int knit_cli_forward(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"remove", no_argument, NULL, OPT_REMOVE},
        {"data-dir", required_argument, NULL, OPT_DATA_DIR},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool remove = false;
    const char *data_dir = NULL;
    int opt, code;
    while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'h':
            fputs(FORWARD_USAGE, stdout);
            return KNIT_EXIT_OK;
        case OPT_REMOVE:
            remove = true;
            break;
        case OPT_DATA_DIR:
            data_dir = optarg;
            break;
        default:
            return knit_cli_usage_error("forward", opt, optopt, argv, optind);
        }
    }
    int want = remove ? 1 : 3;
    if (argc - optind != want)
        return bad_usage("forward", argc - optind < want
                                        ? "missing "
                                        : "too many arguments",
                         argc - optind >= want ? ""
                         : remove ? "the local port"
                                  : "arguments: <local-port> <peer-id> "
                                    "<service>", "");
    uint16_t port;
    if (!parse_port(argv[optind], !remove, &port))
        return bad_usage("forward", "invalid local port '", argv[optind],
                         remove ? "': give 1 to 65535"
                                : "': give 0 to 65535 (0 picks one)");
    uint8_t request[KNIT_MSG_HEADER_LEN + 512];
    struct knit_msg_writer w;
    knit_msg_writer_init(&w, request, sizeof request);
    if (remove) {
        knit_msg_begin(&w, KNIT_CTL_UNFORWARD_REQUEST, 1);
        knit_msg_put_uint(&w, 1, port);
        code = ask_ok("forward", data_dir, &w);
        if (code == KNIT_EXIT_OK)
            printf("closed the forward on 127.0.0.1:%u\n", port);
        return code;
    }
    struct knit_peer_id peer;
    const char *peer_arg = argv[optind + 1], *service = argv[optind + 2];
    int err = knit_cli_parse_peer(peer_arg, &peer);
    if (err) {
        fprintf(stderr, "knit forward: invalid peer ID '%s' (the second "
                        "argument): %s\n", peer_arg, knit_strerror(err));
        return KNIT_EXIT_USAGE;
    }
    if (!check_service("forward", service, &code))
        return code;
    char id[KNIT_PEER_ID_TEXT_MAX];
    knit_peer_id_to_text(&peer, id, sizeof id);
    knit_msg_begin(&w, KNIT_CTL_FORWARD_REQUEST, 3);
    knit_msg_put_uint(&w, 1, port);
    knit_msg_put_str(&w, 2, id, strlen(id));
    knit_msg_put_str(&w, 3, service, strlen(service));
    size_t len;
    if (knit_msg_end(&w, &len) != KNIT_OK)
        return KNIT_EXIT_FAIL;
    static struct knit_control_reply reply;
    if (!knit_cli_ask("forward", data_dir, request, len,
                      KNIT_CTL_FORWARD_RESPONSE,
                      &knit_control_forward_response,
                      KNIT_CONTROL_TIMEOUT_MS, &reply))
        return KNIT_EXIT_FAIL;
    printf("forwarding 127.0.0.1:%" PRIu64 " to %s service %s\n",
           knit_msg_uint(&reply.msg, 1), id, service);
    return KNIT_EXIT_OK;
}

static void print_exposes(const struct knit_msg *top, bool json)
{
    struct knit_msg_iter it, ids;
    struct knit_msg e;
    const uint8_t *p;
    size_t n;
    if (!json && knit_msg_iter_init(&it, top, 1) == KNIT_OK && it.left)
        printf("exposed:\n");
    knit_msg_iter_init(&it, top, 1);
    for (int i = 0; knit_msg_next_map(&it, &e) == KNIT_OK; i++) {
        p = knit_msg_bytes(&e, 1, &n);
        bool any = knit_msg_uint(&e, 4) != 0;
        if (json) {
            printf("%s{\"service\": ", i ? ", " : "");
            knit_cli_json_bytes(stdout, p, n);
            printf(", \"port\": %" PRIu64 ", \"allow\": [",
                   knit_msg_uint(&e, 2));
        } else {
            printf("  %.*s  127.0.0.1:%" PRIu64 "  %s", (int)n,
                   (const char *)p, knit_msg_uint(&e, 2),
                   any ? "any peer" : "allowed:");
        }
        knit_msg_iter_init(&ids, &e, 3);
        for (int j = 0; knit_msg_next_bytes(&ids, &p, &n) == KNIT_OK; j++) {
            if (json) {
                printf(j ? ", " : "");
                knit_cli_json_bytes(stdout, p, n);
            } else {
                printf(" %.*s", (int)n, (const char *)p);
            }
        }
        if (json)
            printf("], \"any\": %s, \"connections\": %" PRIu64 "}",
                   any ? "true" : "false", knit_msg_uint(&e, 5));
        else
            printf("  connections: %" PRIu64 "\n", knit_msg_uint(&e, 5));
    }
}

static void print_forwards(const struct knit_msg *top, bool json)
{
    struct knit_msg_iter it;
    struct knit_msg e;
    if (!json && knit_msg_iter_init(&it, top, 2) == KNIT_OK && it.left)
        printf("forwarded:\n");
    knit_msg_iter_init(&it, top, 2);
    for (int i = 0; knit_msg_next_map(&it, &e) == KNIT_OK; i++) {
        size_t idn, sn;
        const uint8_t *id = knit_msg_bytes(&e, 2, &idn);
        const uint8_t *svc = knit_msg_bytes(&e, 3, &sn);
        bool listening = knit_msg_uint(&e, 4) != 0;
        if (json) {
            printf("%s{\"port\": %" PRIu64 ", \"peer_id\": ", i ? ", " : "",
                   knit_msg_uint(&e, 1));
            knit_cli_json_bytes(stdout, id, idn);
            printf(", \"service\": ");
            knit_cli_json_bytes(stdout, svc, sn);
            printf(", \"listening\": %s, \"connections\": %" PRIu64 "}",
                   listening ? "true" : "false", knit_msg_uint(&e, 5));
        } else {
            printf("  127.0.0.1:%" PRIu64 " -> %.*s service %.*s  %s  "
                   "connections: %" PRIu64 "\n", knit_msg_uint(&e, 1),
                   (int)idn, (const char *)id, (int)sn, (const char *)svc,
                   listening ? "listening" : "not listening yet",
                   knit_msg_uint(&e, 5));
        }
    }
}

int knit_cli_forwards(int argc, char **argv)
{
    struct knit_cli_query q = {0};
    int code;
    if (!knit_cli_parse_query("forwards", FORWARDS_USAGE, NULL, argc, argv,
                              &q, &code))
        return code;
    static struct knit_control_reply reply;
    if (!knit_cli_ask_bare("forwards", q.data_dir_flag,
                           KNIT_CTL_FORWARDS_REQUEST,
                           KNIT_CTL_FORWARDS_RESPONSE,
                           &knit_control_forwards_response, &reply))
        return KNIT_EXIT_FAIL;
    struct knit_msg_iter a, b;
    knit_msg_iter_init(&a, &reply.msg, 1);
    knit_msg_iter_init(&b, &reply.msg, 2);
    if (q.json) {
        printf("{\"exposes\": [");
        print_exposes(&reply.msg, true);
        printf("], \"forwards\": [");
        print_forwards(&reply.msg, true);
        printf("]}\n");
    } else if (a.left == 0 && b.left == 0) {
        printf("nothing exposed or forwarded\n");
    } else {
        print_exposes(&reply.msg, false);
        print_forwards(&reply.msg, false);
    }
    return KNIT_EXIT_OK;
}
