/* `knit find`: ask the running daemon to look a peer up in the DHT and
 * print the addresses from its signed record (node/daemon_ops.c does the
 * lookup). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "control_client.h"
#include "proto/multiaddr.h"
#include "transport/error.h"

#define FIND_USAGE \
    "usage: knit find <peer-id> [--json] [--data-dir DIR]\n" \
    "\n" \
    "Look a peer up in the DHT through the running daemon and print its\n" \
    "peer ID, the addresses in its signed peer record (one per line,\n" \
    "indented), and how the lookup went: hops, queries sent and time.\n" \
    "The peer is given by its ID, 12D3KooW... or /p2p/12D3KooW....\n" \
    "\n" \
    "options:\n" \
    "  --json           print {\"peer_id\": ..., \"addrs\": [...], \"hops\": H,\n" \
    "                   \"queries\": Q, \"ms\": T}\n" \
    "  --data-dir DIR   the daemon's data directory (see knit --help)\n" \
    "  -h, --help       show this help\n"

int knit_cli_find(int argc, char **argv)
{
    struct knit_cli_query q = {0};
    int code;
    if (!knit_cli_parse_query("find", FIND_USAGE, "peer ID", argc, argv, &q,
                              &code))
        return code;
    struct knit_peer_id id;
    int err = knit_cli_parse_peer(q.arg, &id);
    if (err == KNIT_E_SHAPE) {
        fprintf(stderr, "knit find: give the peer as its ID (12D3KooW... or "
                        "/p2p/12D3KooW...), not '%s'\n", q.arg);
        return KNIT_EXIT_USAGE;
    }
    if (err) {
        fprintf(stderr, "knit find: invalid peer ID '%s': %s\n", q.arg,
                knit_strerror(err));
        return KNIT_EXIT_USAGE;
    }
    /* The canonical text, whatever spelling the user gave. */
    char id_text[KNIT_PEER_ID_TEXT_MAX];
    knit_peer_id_to_text(&id, id_text, sizeof id_text);

    uint8_t request[128];
    size_t len;
    struct knit_msg_writer w;
    knit_msg_writer_init(&w, request, sizeof request);
    knit_msg_begin(&w, KNIT_CTL_FIND_REQUEST, 1);
    knit_msg_put_str(&w, 1, id_text, strlen(id_text));
    if (knit_msg_end(&w, &len) != KNIT_OK)
        return KNIT_EXIT_FAIL;
    static struct knit_control_reply reply;
    if (!knit_cli_ask("find", q.data_dir_flag, request, len,
                      KNIT_CTL_FIND_RESPONSE, &knit_control_find_response,
                      KNIT_CONTROL_FIND_TIMEOUT_MS, &reply))
        return KNIT_EXIT_FAIL;

    size_t found_len;
    const uint8_t *found = knit_msg_bytes(&reply.msg, 1, &found_len);
    struct knit_peer_id found_id;
    if (knit_peer_id_from_text(&found_id, (const char *)found, found_len) ||
        !knit_peer_id_equal(&found_id, &id)) {
        fprintf(stderr, "knit find: the daemon answered for another peer "
                        "(%.*s)\n", (int)found_len, (const char *)found);
        return KNIT_EXIT_FAIL;
    }
    uint64_t hops = knit_msg_uint(&reply.msg, 3);
    uint64_t queries = knit_msg_uint(&reply.msg, 4);
    double ms = (double)knit_msg_uint(&reply.msg, 5) / 1000;

    struct knit_msg_iter it;
    const uint8_t *addr;
    size_t addr_len;
    if (q.json) {
        printf("{\"peer_id\": ");
        knit_cli_json_string(stdout, id_text);
        printf(", \"addrs\": [");
    } else {
        printf("%s\n", id_text);
    }
    if (knit_msg_iter_init(&it, &reply.msg, 2) == KNIT_OK) {
        for (int i = 0; knit_msg_next_bytes(&it, &addr, &addr_len) == KNIT_OK;
             i++) {
            if (q.json) {
                printf(i ? ", " : "");
                knit_cli_json_bytes(stdout, addr, addr_len);
            } else {
                printf("  %.*s\n", (int)addr_len, (const char *)addr);
            }
        }
    }
    if (q.json)
        printf("], \"hops\": %" PRIu64 ", \"queries\": %" PRIu64
               ", \"ms\": %.1f}\n", hops, queries, ms);
    else
        printf("found in %" PRIu64 " hops, %" PRIu64 " queries, %.1f ms\n",
               hops, queries, ms);
    return KNIT_EXIT_OK;
}
