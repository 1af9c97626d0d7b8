/* `knit mpyc`: run one party of an MPyC computation whose parties are
 * named by peer ID. The daemon (node/mpyc_session.c) reaches every other
 * party, agrees on the run with their daemons and forwards a local port to
 * each; this command then runs the MPyC program with -M, -I and one -P
 * 127.0.0.1:<port> per party appended, passes its exit code through, and
 * closing the control connection at the end tears the session down. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "control_client.h"
#include "datadir.h"
#include "node/party_msg.h"
#include "transport/error.h"

#define MPYC_USAGE \
    "usage: knit mpyc --parties ID,ID,... [--order given|sorted]\n" \
    "                 [--session NAME] [--timeout SECONDS] [--data-dir DIR]\n" \
    "                 -- COMMAND [ARGS...]\n" \
    "\n" \
    "Run one party of an MPyC computation whose parties are named by peer\n" \
    "ID, through the running daemon. Every party runs knit mpyc with the\n" \
    "same list; this node's index is its position in the list. The daemon\n" \
    "reaches every other party (DHT lookup, direct or relayed, hole\n" \
    "punching), checks with each that it runs the same session with the\n" \
    "same list, and forwards one local port to each party's MPyC program.\n" \
    "Then COMMAND runs with these arguments appended:\n" \
    "  -M <parties> -I <index> -P 127.0.0.1:<port>  (one -P per party)\n" \
    "Its output and exit code pass through (128+N if killed by signal N);\n" \
    "SIGINT and SIGTERM are passed on to it. If another party leaves the\n" \
    "session, its node stops answering for 10 s, or the daemon goes away\n" \
    "while it runs, the command gets 3 s to end by itself, then is\n" \
    "stopped (exit 1). When it ends the session's ports and forwards go.\n" \
    "MPyC's --ssl works unchanged: TLS runs end to end.\n" \
    "\n" \
    "options:\n" \
    "  --parties LIST     2 to 32 peer IDs (12D3KooW... or /p2p/12D3KooW...),\n" \
    "                     separated by commas, this node among them\n" \
    "  --order ORDER      given (default): the party index is the position\n" \
    "                     as written; sorted: the IDs are sorted first (by\n" \
    "                     their text), so each party may list them in any\n" \
    "                     order\n" \
    "  --session NAME     tells runs of the same parties apart: 1 to 32 of\n" \
    "                     A-Z a-z 0-9 . _ - (default: default)\n" \
    "  --timeout SECONDS  how long to wait for every party to be reached and\n" \
    "                     to join, 1 to 3600 (default 60)\n" \
    "  --data-dir DIR     the daemon's data directory (see knit --help)\n" \
    "  -h, --help         show this help\n" \
    "\n" \
    "Errors name the party: a malformed or duplicate ID, this node missing\n" \
    "from the list (exit 2 for these), a party not reached or not joining\n" \
    "within the timeout, a party that uses another list (exit 1).\n"

enum { OPT_PARTIES = 256, OPT_ORDER, OPT_SESSION, OPT_TIMEOUT, OPT_DATA_DIR };

struct mpyc_args {
    const char *data_dir_flag;
    const char *session;
    bool sorted;
    unsigned timeout_s;
    size_t count;
    struct knit_peer_id ids[KNIT_PARTY_MAX];
    char text[KNIT_PARTY_MAX][KNIT_PEER_ID_TEXT_MAX];
    char **command;
};

/* How long a command whose session ended may take to end by itself. */
#define KNIT_MPYC_GRACE_MS 3000

static volatile sig_atomic_t child_pid;

static int usage_fail(const char *fmt, const char *a, const char *b)
{
    fprintf(stderr, "knit mpyc: ");
    fprintf(stderr, fmt, a, b);
    fprintf(stderr, " (try 'knit mpyc --help')\n");
    return KNIT_EXIT_USAGE;
}

/* Splits LIST at commas; every entry must be a peer ID, none twice. */
static int parse_parties(const char *list, struct mpyc_args *a)
{
    const char *p = list;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char word[256];
        size_t pos = a->count;
        if (pos == KNIT_PARTY_MAX) {
            fprintf(stderr, "knit mpyc: --parties lists more than %d peer "
                            "IDs\n", KNIT_PARTY_MAX);
            return KNIT_EXIT_USAGE;
        }
        if (len == 0 || len >= sizeof word) {
            fprintf(stderr, "knit mpyc: --parties: position %zu: %s\n", pos,
                    len ? "too long to be a peer ID" : "empty (two commas "
                    "in a row, or one at an end?)");
            return KNIT_EXIT_USAGE;
        }
        memcpy(word, p, len);
        word[len] = '\0';
        int err = knit_cli_parse_peer(word, &a->ids[pos]);
        if (err) {
            fprintf(stderr, "knit mpyc: --parties: position %zu: '%s' is "
                            "not a peer ID: %s\n", pos, word,
                    knit_strerror(err));
            return KNIT_EXIT_USAGE;
        }
        knit_peer_id_to_text(&a->ids[pos], a->text[pos], sizeof a->text[0]);
        for (size_t k = 0; k < pos; k++)
            if (knit_peer_id_equal(&a->ids[k], &a->ids[pos])) {
                fprintf(stderr, "knit mpyc: --parties: %s is listed twice "
                                "(positions %zu and %zu)\n", a->text[pos], k,
                        pos);
                return KNIT_EXIT_USAGE;
            }
        a->count++;
        if (!end)
            break;
        p = end + 1;
    }
    if (a->count < 2) {
        fprintf(stderr, "knit mpyc: --parties needs at least 2 peer IDs, "
                        "this node's and another's (got %zu)\n", a->count);
        return KNIT_EXIT_USAGE;
    }
    return KNIT_EXIT_OK;
}

/* false = exit with *code (help printed, or a usage error said). */
static bool parse(int argc, char **argv, struct mpyc_args *a, int *code)
{
    static const struct option longopts[] = {
        {"parties", required_argument, NULL, OPT_PARTIES},
        {"order", required_argument, NULL, OPT_ORDER},
        {"session", required_argument, NULL, OPT_SESSION},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"data-dir", required_argument, NULL, OPT_DATA_DIR},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *parties = NULL;
    int opt;
    /* '+': the command's own options are not ours. */
    while ((opt = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'h':
            fputs(MPYC_USAGE, stdout);
            *code = KNIT_EXIT_OK;
            return false;
        case OPT_PARTIES:
            parties = optarg;
            break;
        case OPT_ORDER:
            if (strcmp(optarg, "given") && strcmp(optarg, "sorted")) {
                *code = usage_fail("--order is given or sorted, not '%s'%s",
                                   optarg, "");
                return false;
            }
            a->sorted = strcmp(optarg, "sorted") == 0;
            break;
        case OPT_SESSION:
            if (!knit_party_session_valid(optarg, strlen(optarg))) {
                *code = usage_fail("invalid session name '%s': give 1 to 32 "
                                   "of A-Z a-z 0-9 . _ -%s", optarg, "");
                return false;
            }
            a->session = optarg;
            break;
        case OPT_TIMEOUT: {
            char *end;
            unsigned long v = strtoul(optarg, &end, 10);
            if (!*optarg || *optarg == '-' || *end || v < 1 || v > 3600) {
                *code = usage_fail("invalid --timeout '%s': give 1 to 3600 "
                                   "seconds%s", optarg, "");
                return false;
            }
            a->timeout_s = (unsigned)v;
            break;
        }
        case OPT_DATA_DIR:
            a->data_dir_flag = optarg;
            break;
        default:
            *code = knit_cli_usage_error("mpyc", opt, optopt, argv, optind);
            return false;
        }
    }
    if (!parties) {
        *code = usage_fail("missing --parties%s%s", "", "");
        return false;
    }
    if (optind >= argc) {
        *code = usage_fail("missing the command to run, after --%s%s", "",
                           "");
        return false;
    }
    a->command = argv + optind;
    *code = parse_parties(parties, a);
    return *code == KNIT_EXIT_OK;
}

static int cmp_text(const void *x, const void *y)
{
    return strcmp(x, y);
}

/* The daemon's own ID, and where it is in the (sorted) list. */
static int find_self(struct mpyc_args *a, uint32_t *index)
{
    struct knit_control_reply *reply = malloc(sizeof *reply);
    if (!reply)
        return KNIT_EXIT_FAIL;
    if (!knit_cli_ask_bare("mpyc", a->data_dir_flag, KNIT_CTL_ID_REQUEST,
                           KNIT_CTL_ID_RESPONSE, &knit_control_id_response,
                           reply)) {
        free(reply);
        return KNIT_EXIT_FAIL;
    }
    size_t len;
    const uint8_t *own = knit_msg_bytes(&reply->msg, 1, &len);
    char own_text[KNIT_PEER_ID_TEXT_MAX];
    snprintf(own_text, sizeof own_text, "%.*s", (int)len, (const char *)own);
    free(reply);
    if (a->sorted) {
        qsort(a->text, a->count, sizeof a->text[0], cmp_text);
        for (size_t i = 0; i < a->count; i++)
            knit_peer_id_from_text(&a->ids[i], a->text[i],
                                   strlen(a->text[i]));
    }
    for (size_t i = 0; i < a->count; i++)
        if (strcmp(a->text[i], own_text) == 0) {
            *index = (uint32_t)i;
            return KNIT_EXIT_OK;
        }
    fprintf(stderr, "knit mpyc: this node (%s) is not in --parties\n",
            own_text);
    return KNIT_EXIT_USAGE;
}

static void pass_signal(int sig)
{
    if (child_pid > 0)
        kill((pid_t)child_pid, sig);
}

/* Runs the command with MPyC's arguments appended. */
static pid_t start_command(const struct mpyc_args *a, uint32_t me,
                           const uint16_t *ports)
{
    size_t words = 0;
    while (a->command[words])
        words++;
    size_t n = words + 4 + 2 * a->count + 1;
    char **argv = calloc(n, sizeof *argv);
    char (*text)[32] = calloc(a->count + 2, sizeof *text);
    if (!argv || !text) {
        free(argv);
        free(text);
        return -1;
    }
    size_t k = 0;
    for (size_t i = 0; i < words; i++)
        argv[k++] = a->command[i];
    snprintf(text[0], sizeof text[0], "%zu", a->count);
    snprintf(text[1], sizeof text[1], "%u", me);
    argv[k++] = "-M";
    argv[k++] = text[0];
    argv[k++] = "-I";
    argv[k++] = text[1];
    for (size_t i = 0; i < a->count; i++) {
        snprintf(text[i + 2], sizeof text[0], "127.0.0.1:%u", ports[i]);
        argv[k++] = "-P";
        argv[k++] = text[i + 2];
    }
    fprintf(stderr, "knit mpyc: all %zu parties agreed; running:", a->count);
    for (size_t i = 0; i < k; i++)
        fprintf(stderr, " %s", argv[i]);
    fprintf(stderr, "\n");
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        execvp(argv[0], argv);
        fprintf(stderr, "knit mpyc: cannot run '%s': %s\n", argv[0],
                strerror(errno));
        _exit(127);
    }
    free(argv);
    free(text);
    return pid;
}

static void print_progress(const struct mpyc_args *a, const uint8_t *body,
                           size_t len)
{
    struct knit_msg m;
    if (knit_msg_decode(body, len, &knit_control_mpyc_party, &m) != 0)
        return;
    uint64_t j = knit_msg_uint(&m, 1);
    size_t tlen;
    const uint8_t *text = knit_msg_bytes(&m, 2, &tlen);
    if (j < a->count)
        fprintf(stderr, "knit mpyc: party %u (%s): %.*s\n", (unsigned)j,
                a->text[j], (int)tlen, (const char *)text);
}

/* The session ended under the command (a party left, the daemon went).
 * At the normal end of a run the parties leave one after the other, so
 * the command gets a moment to end by itself; an MPyC program still
 * waiting for a party that has gone would wait forever, and is stopped. */
static int stop_command(pid_t pid, const char *why)
{
    int status;
    for (int i = 0; i < KNIT_MPYC_GRACE_MS / 100; i++) {
        if (waitpid(pid, &status, WNOHANG) == pid) {
            child_pid = 0;
            if (WIFEXITED(status))
                return WEXITSTATUS(status);
            return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
        }
        usleep(100 * 1000);
    }
    fprintf(stderr, "knit mpyc: %s; stopping the command\n", why);
    kill(pid, SIGTERM);
    waitpid(pid, &status, 0);
    child_pid = 0;
    return KNIT_EXIT_FAIL;
}

/* Waits for the command while watching the daemon; the exit code. */
static int wait_command(const struct mpyc_args *a,
                        struct knit_control_conn *conn, pid_t pid)
{
    for (;;) {
        int status;
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid) {
            child_pid = 0;
            if (WIFEXITED(status))
                return WEXITSTATUS(status);
            return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
        }
        uint64_t type;
        const uint8_t *body;
        size_t len;
        char err[512];
        int rc = knit_control_next(conn, 100, &type, &body, &len, err,
                                   sizeof err);
        if (rc == KNIT_OK && type == KNIT_CTL_MPYC_PARTY) {
            print_progress(a, body, len);
        } else if (rc != KNIT_OK && rc != KNIT_E_AGAIN) {
            return stop_command(pid, err);
        }
    }
}

static int send_request(const struct mpyc_args *a, uint32_t me,
                        struct knit_control_conn *conn)
{
    uint8_t frame[256 + KNIT_PARTY_MAX * KNIT_PEER_ID_TEXT_MAX];
    size_t len;
    struct knit_msg_writer w;
    knit_msg_writer_init(&w, frame, sizeof frame);
    knit_msg_begin(&w, KNIT_CTL_MPYC_REQUEST, 4);
    knit_msg_put_str(&w, 1, a->session, strlen(a->session));
    knit_msg_put_array_begin(&w, 2, (uint32_t)a->count);
    for (size_t i = 0; i < a->count; i++)
        knit_msg_add_str(&w, a->text[i], strlen(a->text[i]));
    knit_msg_array_end(&w);
    knit_msg_put_uint(&w, 3, me);
    knit_msg_put_uint(&w, 4, (uint64_t)a->timeout_s * 1000);
    char dir[KNIT_PATH_MAX], err[512];
    int rc = knit_msg_end(&w, &len);
    if (rc == KNIT_OK)
        rc = knit_datadir_resolve(a->data_dir_flag, dir, sizeof dir, err,
                                  sizeof err);
    else
        snprintf(err, sizeof err, "cannot write the request: %s",
                 knit_strerror(rc));
    if (rc == KNIT_OK)
        rc = knit_control_connect(conn, dir, err, sizeof err);
    if (rc == KNIT_OK)
        rc = knit_control_request(conn, frame, len, err, sizeof err);
    if (rc != KNIT_OK)
        fprintf(stderr, "knit mpyc: %s\n", err);
    return rc;
}

/* Progress until READY; the ports, or false after saying why. */
static bool wait_ready(const struct mpyc_args *a, uint32_t me,
                       struct knit_control_conn *conn, uint16_t *ports)
{
    /* The daemon gives up at the timeout itself; this is for a daemon
     * that hangs. */
    int timeout_ms = (int)a->timeout_s * 1000 + 15000;
    for (;;) {
        uint64_t type;
        const uint8_t *body;
        size_t len;
        char err[512];
        struct knit_msg m;
        if (knit_control_next(conn, timeout_ms, &type, &body, &len, err,
                              sizeof err) != KNIT_OK) {
            fprintf(stderr, "knit mpyc: %s\n", err);
            return false;
        }
        if (type == KNIT_CTL_MPYC_PARTY) {
            print_progress(a, body, len);
            continue;
        }
        struct knit_msg_iter it;
        uint64_t port;
        size_t n = 0;
        if (type != KNIT_CTL_MPYC_READY ||
            knit_msg_decode(body, len, &knit_control_mpyc_ready, &m) != 0 ||
            knit_msg_uint(&m, 1) != me ||
            knit_msg_iter_init(&it, &m, 2) != KNIT_OK) {
            fprintf(stderr, "knit mpyc: daemon sent an unexpected answer\n");
            return false;
        }
        while (n < a->count && knit_msg_next_uint(&it, &port) == KNIT_OK)
            ports[n++] = (uint16_t)port;
        if (n != a->count || knit_msg_next_uint(&it, &port) == KNIT_OK) {
            fprintf(stderr, "knit mpyc: daemon sent %s ports than parties\n",
                    n < a->count ? "fewer" : "more");
            return false;
        }
        return true;
    }
}

int knit_cli_mpyc(int argc, char **argv)
{
    static struct mpyc_args a;
    memset(&a, 0, sizeof a);
    a.session = "default";
    a.timeout_s = 60;
    int code;
    uint32_t me = 0;
    if (!parse(argc, argv, &a, &code))
        return code;
    if ((code = find_self(&a, &me)) != KNIT_EXIT_OK)
        return code;
    /* The connection is the session: it stays open while the command
     * runs, and closing it tears the session down in the daemon. */
    static struct knit_control_conn conn;
    uint16_t ports[KNIT_PARTY_MAX];
    if (send_request(&a, me, &conn) != KNIT_OK)
        return KNIT_EXIT_FAIL;
    fprintf(stderr, "knit mpyc: session %s, party %u of %zu; reaching the "
                    "other parties (timeout %u s)\n", a.session, me, a.count,
            a.timeout_s);
    if (!wait_ready(&a, me, &conn, ports)) {
        knit_control_disconnect(&conn);
        return KNIT_EXIT_FAIL;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = pass_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    pid_t pid = start_command(&a, me, ports);
    if (pid < 0) {
        fprintf(stderr, "knit mpyc: cannot start the command: %s\n",
                strerror(errno));
        knit_control_disconnect(&conn);
        return KNIT_EXIT_FAIL;
    }
    child_pid = pid;
    code = wait_command(&a, &conn, pid);
    knit_control_disconnect(&conn);
    return code;
}
