/* `knit peers` and `knit dht table`: what the running daemon knows of other
 * peers right now, its sessions and its DHT routing table. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "control_client.h"
#include "transport/error.h"

#define PEERS_USAGE \
    "usage: knit peers [--json] [--data-dir DIR]\n" \
    "\n" \
    "List the peers the running daemon has sessions with: peer ID, whether\n" \
    "the session runs direct or through a relay, the address of the path in\n" \
    "use, the smoothed round-trip time (- until measured) and, for peers\n" \
    "the node punched holes with, how that went: \"punching\", \"direct\n" \
    "after N ms\" or, for a peer still relayed, why the last attempt\n" \
    "failed. A relayed path's address is the circuit's, <relay address>/\n" \
    "p2p/<relay ID>/p2p-circuit (the relay's address alone if its session\n" \
    "moved since).\n" \
    "\n" \
    "options:\n" \
    "  --json           print [{\"peer_id\": ..., \"path\": \"direct\" or\n" \
    "                   \"relayed\", \"addr\": ..., \"rtt_ms\": ... or null,\n" \
    "                   \"punch\": null (never punched) or {\"attempts\": N,\n" \
    "                   \"successes\": N, \"failures\": N, \"in_progress\":\n" \
    "                   bool, \"time_to_direct_ms\": ... or null,\n" \
    "                   \"last_failure\": text or null}}, ...]\n" \
    "  --data-dir DIR   the daemon's data directory (see knit --help)\n" \
    "  -h, --help       show this help\n"

#define DHT_USAGE \
    "usage: knit dht table [--json] [--data-dir DIR]\n" \
    "\n" \
    "Show the running daemon's DHT routing table: its mode (a server answers\n" \
    "DHT requests, a client only asks), the peers it holds, the records it\n" \
    "stores for others, and each non-empty bucket (bucket i holds peers\n" \
    "whose key shares i leading bits with ours) with its entries and the\n" \
    "replacements waiting for a slot.\n" \
    "\n" \
    "options:\n" \
    "  --json           print {\"mode\": ..., \"peers\": N, \"records\": M,\n" \
    "                   \"buckets\": [{\"bucket\": i, \"peers\": p,\n" \
    "                   \"replacements\": r}, ...]}\n" \
    "  --data-dir DIR   the daemon's data directory (see knit --help)\n" \
    "  -h, --help       show this help\n"

struct peer_row {
    const uint8_t *id, *path, *addr;
    size_t id_len, path_len, addr_len;
    uint64_t rtt_us;
    /* Hole punching (field 5); punched false when absent. */
    bool punched, in_progress, timed;
    uint64_t attempts, successes, failures, time_to_direct_us;
    const uint8_t *reason;          /* NULL when none */
    size_t reason_len;
};

static void get_row(const struct knit_msg *m, struct peer_row *r)
{
    r->id = knit_msg_bytes(m, 1, &r->id_len);
    r->path = knit_msg_bytes(m, 2, &r->path_len);
    r->addr = knit_msg_bytes(m, 3, &r->addr_len);
    r->rtt_us = knit_msg_uint(m, 4);
    struct knit_msg p;
    r->punched = knit_msg_get_map(m, 5, &p) == KNIT_OK;
    if (!r->punched)
        memset(&p, 0, sizeof p);
    r->attempts = knit_msg_uint(&p, 1);
    r->successes = knit_msg_uint(&p, 2);
    r->failures = knit_msg_uint(&p, 3);
    r->in_progress = knit_msg_uint(&p, 4);
    r->timed = knit_msg_has(&p, 5);
    r->time_to_direct_us = knit_msg_uint(&p, 5);
    r->reason = knit_msg_bytes(&p, 6, &r->reason_len);
}

static bool is_relayed(const struct peer_row *r)
{
    size_t n = strlen(KNIT_CONTROL_PATH_RELAYED);
    return r->path_len == n && !memcmp(r->path, KNIT_CONTROL_PATH_RELAYED, n);
}

/* The text column on hole punching: under way, why it failed for a peer
 * still relayed, or how long the last success took; "" if nothing. */
static void punch_note(const struct peer_row *r, char *out, size_t cap)
{
    out[0] = '\0';
    if (!r->punched)
        return;
    if (r->in_progress)
        snprintf(out, cap, "punching");
    else if (is_relayed(r) && r->reason)
        snprintf(out, cap, "punch failed: %.*s", (int)r->reason_len,
                 (const char *)r->reason);
    else if (is_relayed(r) && r->failures)
        snprintf(out, cap, "punch failed");
    else if (r->timed)
        snprintf(out, cap, "direct after %" PRIu64 " ms",
                 (r->time_to_direct_us + 500) / 1000);
}

static void rtt_text(const struct peer_row *r, char *out, size_t cap)
{
    if (r->rtt_us)
        snprintf(out, cap, "%.2f ms", (double)r->rtt_us / 1000);
    else
        snprintf(out, cap, "-");
}

static size_t max_size(size_t a, size_t b)
{
    return a > b ? a : b;
}

static void print_punch_json(const struct peer_row *r)
{
    if (!r->punched) {
        printf(", \"punch\": null");
        return;
    }
    printf(", \"punch\": {\"attempts\": %" PRIu64 ", \"successes\": %" PRIu64
           ", \"failures\": %" PRIu64 ", \"in_progress\": %s, "
           "\"time_to_direct_ms\": ", r->attempts, r->successes,
           r->failures, r->in_progress ? "true" : "false");
    if (r->timed)
        printf("%.3f", (double)r->time_to_direct_us / 1000);
    else
        printf("null");
    printf(", \"last_failure\": ");
    if (r->reason)
        knit_cli_json_bytes(stdout, r->reason, r->reason_len);
    else
        printf("null");
    printf("}");
}

static void print_peers_json(const struct knit_msg *reply)
{
    struct knit_msg_iter it;
    struct knit_msg m;
    struct peer_row r;
    printf("[");
    knit_msg_iter_init(&it, reply, 1);
    for (int i = 0; knit_msg_next_map(&it, &m) == KNIT_OK; i++) {
        get_row(&m, &r);
        printf("%s{\"peer_id\": ", i ? ", " : "");
        knit_cli_json_bytes(stdout, r.id, r.id_len);
        printf(", \"path\": ");
        knit_cli_json_bytes(stdout, r.path, r.path_len);
        printf(", \"addr\": ");
        knit_cli_json_bytes(stdout, r.addr, r.addr_len);
        if (r.rtt_us)
            printf(", \"rtt_ms\": %.3f", (double)r.rtt_us / 1000);
        else
            printf(", \"rtt_ms\": null");
        print_punch_json(&r);
        printf("}");
    }
    printf("]\n");
}

static void print_peers_text(const struct knit_msg *reply)
{
    struct knit_msg_iter it;
    struct knit_msg m;
    struct peer_row r;
    char rtt[32], note[KNIT_CONTROL_PUNCH_REASON_MAX + 32];
    /* Two passes over the answer: column widths first. */
    size_t w_id = strlen("PEER ID"), w_path = strlen("PATH");
    size_t w_addr = strlen("ADDRESS"), w_rtt = strlen("RTT"), rows = 0;
    bool any_note = false;
    knit_msg_iter_init(&it, reply, 1);
    while (knit_msg_next_map(&it, &m) == KNIT_OK) {
        get_row(&m, &r);
        rtt_text(&r, rtt, sizeof rtt);
        punch_note(&r, note, sizeof note);
        w_id = max_size(w_id, r.id_len);
        w_path = max_size(w_path, r.path_len);
        w_addr = max_size(w_addr, r.addr_len);
        w_rtt = max_size(w_rtt, strlen(rtt));
        any_note = any_note || note[0];
        rows++;
    }
    if (rows == 0) {
        printf("no peers\n");
        return;
    }
    if (any_note)
        printf("%-*s  %-*s  %-*s  %-*s  HOLE PUNCHING\n", (int)w_id,
               "PEER ID", (int)w_path, "PATH", (int)w_addr, "ADDRESS",
               (int)w_rtt, "RTT");
    else
        printf("%-*s  %-*s  %-*s  RTT\n", (int)w_id, "PEER ID", (int)w_path,
               "PATH", (int)w_addr, "ADDRESS");
    knit_msg_iter_init(&it, reply, 1);
    while (knit_msg_next_map(&it, &m) == KNIT_OK) {
        get_row(&m, &r);
        rtt_text(&r, rtt, sizeof rtt);
        punch_note(&r, note, sizeof note);
        /* %-*.*s pads by bytes; these are ASCII (base58, multiaddrs). */
        printf("%-*.*s  %-*.*s  %-*.*s  ", (int)w_id, (int)r.id_len,
               (const char *)r.id, (int)w_path, (int)r.path_len,
               (const char *)r.path, (int)w_addr, (int)r.addr_len,
               (const char *)r.addr);
        if (note[0])
            printf("%-*s  %s\n", (int)w_rtt, rtt, note);
        else
            printf("%s\n", rtt);
    }
}

int knit_cli_peers(int argc, char **argv)
{
    struct knit_cli_query q = {0};
    int code;
    if (!knit_cli_parse_query("peers", PEERS_USAGE, NULL, argc, argv, &q,
                              &code))
        return code;
    static struct knit_control_reply reply;
    if (!knit_cli_ask_bare("peers", q.data_dir_flag,
                           KNIT_CTL_PEERS_REQUEST,
                           KNIT_CTL_PEERS_RESPONSE,
                           &knit_control_peers_response, &reply))
        return KNIT_EXIT_FAIL;
    if (q.json)
        print_peers_json(&reply.msg);
    else
        print_peers_text(&reply.msg);
    return KNIT_EXIT_OK;
}

static int dht_table(int argc, char **argv)
{
    struct knit_cli_query q = {0};
    int code;
    if (!knit_cli_parse_query("dht table", DHT_USAGE, NULL, argc, argv, &q,
                              &code))
        return code;
    static struct knit_control_reply reply;
    if (!knit_cli_ask_bare("dht table", q.data_dir_flag,
                           KNIT_CTL_DHT_TABLE_REQUEST,
                           KNIT_CTL_DHT_TABLE_RESPONSE,
                           &knit_control_dht_table_response, &reply))
        return KNIT_EXIT_FAIL;
    size_t mode_len;
    const uint8_t *mode = knit_msg_bytes(&reply.msg, 1, &mode_len);
    uint64_t peers = knit_msg_uint(&reply.msg, 2);
    uint64_t records = knit_msg_uint(&reply.msg, 3);
    if (q.json) {
        printf("{\"mode\": ");
        knit_cli_json_bytes(stdout, mode, mode_len);
        printf(", \"peers\": %" PRIu64 ", \"records\": %" PRIu64
               ", \"buckets\": [", peers, records);
    } else {
        printf("mode: %.*s\npeers: %" PRIu64 "\nrecords: %" PRIu64 "\n",
               (int)mode_len, (const char *)mode, peers, records);
    }
    struct knit_msg_iter it;
    struct knit_msg b;
    knit_msg_iter_init(&it, &reply.msg, 4);
    for (int i = 0; knit_msg_next_map(&it, &b) == KNIT_OK; i++) {
        uint64_t index = knit_msg_uint(&b, 1), entries = knit_msg_uint(&b, 2);
        uint64_t spare = knit_msg_uint(&b, 3);
        if (q.json)
            printf("%s{\"bucket\": %" PRIu64 ", \"peers\": %" PRIu64
                   ", \"replacements\": %" PRIu64 "}", i ? ", " : "", index,
                   entries, spare);
        else
            printf("bucket  %3" PRIu64 "  peers %" PRIu64
                   "  replacements %" PRIu64 "\n", index, entries, spare);
    }
    if (q.json)
        printf("]}\n");
    return KNIT_EXIT_OK;
}

int knit_cli_dht(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "knit dht: missing the subcommand, e.g. 'knit dht "
                        "table' (try 'knit dht --help')\n");
        return KNIT_EXIT_USAGE;
    }
    const char *sub = argv[1];
    if (!strcmp(sub, "-h") || !strcmp(sub, "--help")) {
        fputs(DHT_USAGE, stdout);
        return KNIT_EXIT_OK;
    }
    if (!strcmp(sub, "table"))
        return dht_table(argc - 1, argv + 1);
    fprintf(stderr, "knit dht: unknown subcommand '%s' (try 'knit dht "
                    "--help')\n", sub);
    return KNIT_EXIT_USAGE;
}
