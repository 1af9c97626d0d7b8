/* `knit ping` and `knit bench`: ask the running daemon to measure a peer
 * (node/daemon_ops.c does the work) and print what it reports. */
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cli.h"
#include "control_client.h"
#include "datadir.h"
#include "node/bench_stream.h"
#include "proto/multiaddr.h"
#include "transport/error.h"

#define PING_USAGE \
    "usage: knit ping <peer> [-c COUNT] [-i MS] [--json] [--data-dir DIR]\n" \
    "\n" \
    "Measure round trips to a peer through the running daemon: it sets up a\n" \
    "session if there is none, then sends COUNT 32-byte echoes over the\n" \
    "peer's /knit/ping/1 service, one every MS milliseconds.\n" \
    "The peer is /ip4/<ip>/udp/<port>/p2p/<peer-id> (or /ip6/...), or its\n" \
    "ID alone (12D3KooW... or /p2p/12D3KooW...), which the daemon first\n" \
    "looks up in the DHT.\n" \
    "\n" \
    "options:\n" \
    "  -c, --count COUNT    echoes to send (default 4, at most 100000)\n" \
    "  -i, --interval MS    milliseconds between echoes (default 1000)\n" \
    "  --json               print one JSON object at the end\n" \
    "  --data-dir DIR       the daemon's data directory (see knit --help)\n" \
    "  -h, --help           show this help\n"

#define BENCH_USAGE \
    "usage: knit bench <peer> [-b BYTES] [--json] [--data-dir DIR]\n" \
    "\n" \
    "Measure throughput to a peer through the running daemon, and check the\n" \
    "data arrives whole: the daemon sends BYTES of pseudo-random data (new\n" \
    "for every run) over one stream to the peer's /knit/bench/1 service,\n" \
    "which counts and hashes them (BLAKE2b-256) and answers both. The time\n" \
    "runs from the first byte written to the answer read back. 'sha: ok'\n" \
    "(\"hash_ok\": true with --json) says the count and the hash match what\n" \
    "was sent; if not, knit bench says what differs and exits with 1.\n" \
    "The peer is /ip4/<ip>/udp/<port>/p2p/<peer-id> (or /ip6/...), or its\n" \
    "ID alone (12D3KooW... or /p2p/12D3KooW...), which the daemon first\n" \
    "looks up in the DHT.\n" \
    "\n" \
    "options:\n" \
    "  -b, --bytes BYTES    how much to send (default 64M, at most 64G;\n" \
    "                       suffixes K, M, G)\n" \
    "  --json               print one JSON object\n" \
    "  --data-dir DIR       the daemon's data directory (see knit --help)\n" \
    "  -h, --help           show this help\n"

enum { OPT_DATA_DIR = 256, OPT_JSON };

struct probe_args {
    const char *data_dir_flag;
    const char *target;                 /* as the user gave it */
    char request[KNIT_MA_TEXT_MAX];     /* what the daemon is sent */
    bool lookup;                        /* the peer by its ID alone */
    bool json;
    uint64_t count, interval_ms, bytes;
};

static bool parse_number(const char *s, uint64_t max, uint64_t *out)
{
    char *end;
    if (!*s || *s == '-')
        return false;
    unsigned long long v = strtoull(s, &end, 10);
    uint64_t mult = 1;
    if (*end == 'K' || *end == 'k')
        mult = 1024, end++;
    else if (*end == 'M' || *end == 'm')
        mult = 1024 * 1024, end++;
    else if (*end == 'G' || *end == 'g')
        mult = 1024ull * 1024 * 1024, end++;
    if (*end || v > max / mult)
        return false;
    *out = v * mult;
    return *out <= max;
}

/* The peer as a full multiaddr, sent on as given, or by its ID alone,
 * sent as /p2p/<id> for the daemon to look up. -1 after saying why. */
static int parse_target(const char *cmd, struct probe_args *a)
{
    const char *t = a->target;
    struct knit_peer_id peer;
    if (t[0] != '/') {
        int err = knit_peer_id_from_text(&peer, t, strlen(t));
        if (err) {
            fprintf(stderr, "knit %s: invalid peer ID '%s': %s\n", cmd, t,
                    knit_strerror(err));
            return -1;
        }
    } else {
        struct knit_multiaddr ma;
        struct knit_addr addr;
        int err = knit_multiaddr_parse(&ma, t, strlen(t));
        if (err) {
            fprintf(stderr, "knit %s: invalid multiaddr '%s': %s\n", cmd, t,
                    knit_strerror(err));
            return -1;
        }
        bool bare = ma.count == 1 && ma.c[0].protocol == KNIT_MA_P2P;
        if (!bare && (knit_multiaddr_to_socket(&ma, &addr) != 0 ||
                      knit_multiaddr_peer(&ma, &peer) != 0 ||
                      knit_multiaddr_is_circuit(&ma))) {
            fprintf(stderr, "knit %s: give the peer as <peer-id>, /p2p/"
                            "<peer-id> or /ip4/<ip>/udp/<port>/p2p/<peer-id> "
                            "(or /ip6/...), not '%s'\n", cmd, t);
            return -1;
        }
        if (!bare) {
            snprintf(a->request, sizeof a->request, "%s", t);
            return 0;
        }
        peer = ma.c[0].v.peer;
    }
    char id[KNIT_PEER_ID_TEXT_MAX];
    knit_peer_id_to_text(&peer, id, sizeof id);
    snprintf(a->request, sizeof a->request, "/p2p/%s", id);
    a->lookup = true;
    return 0;
}

/* Parses argv for ping (bench = false) or bench; false = exit with *code. */
static bool parse(bool bench, int argc, char **argv, struct probe_args *a,
                  int *code)
{
    const char *cmd = bench ? "bench" : "ping";
    static const struct option longopts[] = {
        {"count", required_argument, NULL, 'c'},
        {"interval", required_argument, NULL, 'i'},
        {"bytes", required_argument, NULL, 'b'},
        {"json", no_argument, NULL, OPT_JSON},
        {"data-dir", required_argument, NULL, OPT_DATA_DIR},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt;
    while ((opt = getopt_long(argc, argv, bench ? ":hb:" : ":hc:i:", longopts,
                              NULL)) != -1) {
        bool ok = true;
        switch (opt) {
        case 'h':
            fputs(bench ? BENCH_USAGE : PING_USAGE, stdout);
            *code = KNIT_EXIT_OK;
            return false;
        case 'c':
            ok = !bench && parse_number(optarg, KNIT_CONTROL_PING_MAX_COUNT,
                                        &a->count) && a->count > 0;
            break;
        case 'i':
            ok = !bench && parse_number(optarg,
                                        KNIT_CONTROL_PING_MAX_INTERVAL_MS,
                                        &a->interval_ms);
            break;
        case 'b':
            ok = bench && parse_number(optarg, KNIT_CONTROL_BENCH_MAX_BYTES,
                                       &a->bytes) && a->bytes > 0;
            break;
        case OPT_JSON:
            a->json = true;
            break;
        case OPT_DATA_DIR:
            a->data_dir_flag = optarg;
            break;
        default:
            *code = knit_cli_usage_error(cmd, opt, optopt, argv, optind);
            return false;
        }
        if (!ok) {
            fprintf(stderr, "knit %s: invalid value '%s' for %s%s (try "
                            "'knit %s --help')\n", cmd, optarg,
                    opt == 'c' ? "--count" : opt == 'i' ? "--interval"
                                                        : "--bytes",
                    opt == 'b' ? ": give 1 to 64G bytes, as a number with "
                                 "an optional K, M or G" : "", cmd);
            *code = KNIT_EXIT_USAGE;
            return false;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "knit %s: %s (try 'knit %s --help')\n", cmd,
                optind >= argc ? "missing the peer"
                               : "too many arguments", cmd);
        *code = KNIT_EXIT_USAGE;
        return false;
    }
    a->target = argv[optind];
    if (parse_target(cmd, a) < 0) {
        *code = KNIT_EXIT_USAGE;
        return false;
    }
    return true;
}

/* Connects to the daemon and sends the request; false = exit with *code. */
static bool send_request(const char *cmd, const struct probe_args *a,
                         const uint8_t *frame, size_t len,
                         struct knit_control_conn *conn, int *code)
{
    char dir[KNIT_PATH_MAX], err[512];
    if (knit_datadir_resolve(a->data_dir_flag, dir, sizeof dir, err,
                             sizeof err) != KNIT_OK ||
        knit_control_connect(conn, dir, err, sizeof err) != KNIT_OK ||
        knit_control_request(conn, frame, len, err, sizeof err) != KNIT_OK) {
        fprintf(stderr, "knit %s: %s\n", cmd, err);
        knit_control_disconnect(conn);
        *code = KNIT_EXIT_FAIL;
        return false;
    }
    return true;
}

int knit_cli_ping(int argc, char **argv)
{
    struct probe_args a = {.count = 4, .interval_ms = 1000};
    int code;
    if (!parse(false, argc, argv, &a, &code))
        return code;
    uint8_t frame[512];
    size_t len;
    struct knit_msg_writer w;
    knit_msg_writer_init(&w, frame, sizeof frame);
    knit_msg_begin(&w, KNIT_CTL_PING_REQUEST, 3);
    knit_msg_put_str(&w, 1, a.request, strlen(a.request));
    knit_msg_put_uint(&w, 2, a.count);
    knit_msg_put_uint(&w, 3, a.interval_ms);
    if (knit_msg_end(&w, &len) != KNIT_OK)
        return KNIT_EXIT_USAGE;
    static struct knit_control_conn conn;
    if (!send_request("ping", &a, frame, len, &conn, &code))
        return code;
    if (!a.json)
        printf("PING %s\n", a.target);
    /* Set-up may take the daemon's connect timeout; each echo up to 10 s. */
    int timeout_ms = 40000 + (int)(a.interval_ms < 10000 ? 10000 : a.interval_ms);
    /* Before the first echo the daemon may have to look the peer up. */
    int first_timeout_ms =
        timeout_ms + (a.lookup ? KNIT_CONTROL_FIND_TIMEOUT_MS : 0);
    uint64_t min = UINT64_MAX, max = 0, sum = 0, n = 0;
    uint64_t *rtts = calloc(a.count, sizeof *rtts);
    if (!rtts)
        return KNIT_EXIT_FAIL;
    int rc = KNIT_EXIT_FAIL;
    for (;;) {
        uint64_t type;
        const uint8_t *body;
        size_t blen;
        char err[512];
        struct knit_msg m;
        if (knit_control_next(&conn, n ? timeout_ms : first_timeout_ms,
                              &type, &body, &blen, err,
                              sizeof err) != KNIT_OK) {
            fprintf(stderr, "knit ping: %s\n", err);
            break;
        }
        if (type == KNIT_CTL_PING_REPLY &&
            knit_msg_decode(body, blen, &knit_control_ping_reply, &m) == 0) {
            uint64_t seq = knit_msg_uint(&m, 1), rtt = knit_msg_uint(&m, 2);
            if (n < a.count)
                rtts[n] = rtt;
            n++;
            sum += rtt;
            min = rtt < min ? rtt : min;
            max = rtt > max ? rtt : max;
            if (!a.json)
                printf("32 bytes: seq=%" PRIu64 " time=%.3f ms\n", seq,
                       (double)rtt / 1000);
            fflush(stdout);
        } else if (type == KNIT_CTL_PING_DONE &&
                   knit_msg_decode(body, blen, &knit_control_ping_done,
                                   &m) == 0) {
            size_t idlen;
            const uint8_t *id = knit_msg_bytes(&m, 1, &idlen);
            uint64_t sent = knit_msg_uint(&m, 2), recv = knit_msg_uint(&m, 3);
            uint64_t setup = knit_msg_uint(&m, 4);
            if (a.json) {
                printf("{\"peer_id\": \"%.*s\", \"sent\": %" PRIu64
                       ", \"received\": %" PRIu64 ", \"setup_ms\": %.3f, "
                       "\"rtt_ms\": [", (int)idlen, (const char *)id, sent,
                       recv, (double)setup / 1000);
                for (uint64_t i = 0; i < n && i < a.count; i++)
                    printf("%s%.3f", i ? ", " : "", (double)rtts[i] / 1000);
                printf("]}\n");
            } else {
                printf("--- %.*s ---\n", (int)idlen, (const char *)id);
                if (setup)
                    printf("session set up in %.3f ms\n",
                           (double)setup / 1000);
                printf("%" PRIu64 " sent, %" PRIu64 " received, %.0f%% lost",
                       sent, recv,
                       sent ? 100.0 * (double)(sent - recv) / (double)sent
                            : 0.0);
                if (n)
                    printf(", rtt min/avg/max = %.3f/%.3f/%.3f ms",
                           (double)min / 1000, (double)sum / (double)n / 1000,
                           (double)max / 1000);
                printf("\n");
            }
            rc = recv == sent ? KNIT_EXIT_OK : KNIT_EXIT_FAIL;
            break;
        } else {
            fprintf(stderr, "knit ping: daemon sent an unexpected answer\n");
            break;
        }
    }
    free(rtts);
    knit_control_disconnect(&conn);
    return rc;
}

int knit_cli_bench(int argc, char **argv)
{
    struct probe_args a = {.bytes = 64ull << 20};
    int code;
    if (!parse(true, argc, argv, &a, &code))
        return code;
    uint8_t frame[512];
    size_t len;
    struct knit_msg_writer w;
    knit_msg_writer_init(&w, frame, sizeof frame);
    knit_msg_begin(&w, KNIT_CTL_BENCH_REQUEST, 2);
    knit_msg_put_str(&w, 1, a.request, strlen(a.request));
    knit_msg_put_uint(&w, 2, a.bytes);
    if (knit_msg_end(&w, &len) != KNIT_OK)
        return KNIT_EXIT_USAGE;
    static struct knit_control_conn conn;
    if (!send_request("bench", &a, frame, len, &conn, &code))
        return code;
    uint64_t type;
    const uint8_t *body;
    size_t blen;
    char err[512];
    struct knit_msg m;
    /* No fixed limit on a transfer's time: the daemon ends it if the
     * session dies, and then answers. One hour guards against a hang. */
    int rc = knit_control_next(&conn, 3600 * 1000, &type, &body, &blen, err,
                               sizeof err);
    knit_control_disconnect(&conn);
    if (rc != KNIT_OK) {
        fprintf(stderr, "knit bench: %s\n", err);
        return KNIT_EXIT_FAIL;
    }
    if (type != KNIT_CTL_BENCH_DONE ||
        knit_msg_decode(body, blen, &knit_control_bench_done, &m) != 0) {
        fprintf(stderr, "knit bench: daemon sent an unexpected answer\n");
        return KNIT_EXIT_FAIL;
    }
    size_t idlen, hlen;
    const uint8_t *id = knit_msg_bytes(&m, 1, &idlen);
    uint64_t bytes = knit_msg_uint(&m, 2), us = knit_msg_uint(&m, 3);
    uint64_t srtt = knit_msg_uint(&m, 4), lost = knit_msg_uint(&m, 5);
    uint64_t setup = knit_msg_uint(&m, 6), packets = knit_msg_uint(&m, 7);
    uint64_t sent = knit_msg_uint(&m, 8);
    /* The schema holds both hashes to KNIT_BENCH_HASH_LEN bytes. */
    const uint8_t *sent_hash = knit_msg_bytes(&m, 9, &hlen);
    const uint8_t *peer_hash = knit_msg_bytes(&m, 10, &hlen);
    const char *wrong = knit_bench_verify(sent, sent_hash, bytes, peer_hash);
    if (!wrong && sent != a.bytes)
        wrong = "the daemon sent another number of bytes than asked";
    double secs = (double)(us ? us : 1) / 1e6;
    double mbit = (double)sent * 8 / secs / 1e6;
    if (a.json) {
        printf("{\"peer_id\": \"%.*s\", \"bytes\": %" PRIu64
               ", \"bytes_sent\": %" PRIu64 ", \"hash_ok\": %s"
               ", \"seconds\": %.6f, \"mbit_per_s\": %.1f, \"srtt_ms\": %.3f, "
               "\"packets_sent\": %" PRIu64 ", \"packets_lost\": %" PRIu64
               ", \"setup_ms\": %.3f}\n",
               (int)idlen, (const char *)id, bytes, sent,
               wrong ? "false" : "true", secs, mbit, (double)srtt / 1000,
               packets, lost, (double)setup / 1000);
    } else {
        printf("sent %.1f MiB to %.*s in %.3f s: %.1f Mbit/s\n",
               (double)sent / 1048576, (int)idlen, (const char *)id, secs,
               mbit);
        printf("srtt %.3f ms, %" PRIu64 " of %" PRIu64
               " packets lost in the session so far\n",
               (double)srtt / 1000, lost, packets);
        printf(wrong ? "sha: FAILED\n"
                     : "sha: ok (BLAKE2b-256 and count match at both ends)\n");
    }
    if (wrong) {
        char ours[2 * KNIT_BENCH_HASH_LEN + 1], theirs[sizeof ours];
        sodium_bin2hex(ours, sizeof ours, sent_hash, KNIT_BENCH_HASH_LEN);
        sodium_bin2hex(theirs, sizeof theirs, peer_hash, KNIT_BENCH_HASH_LEN);
        fprintf(stderr, "knit bench: %s (sent %" PRIu64 " bytes, BLAKE2b-256 "
                        "%s; the peer read %" PRIu64 " bytes, BLAKE2b-256 "
                        "%s)\n", wrong, sent, ours, bytes, theirs);
        return KNIT_EXIT_FAIL;
    }
    return KNIT_EXIT_OK;
}
