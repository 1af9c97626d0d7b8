/* `knit id` and `knit keygen`: the node's identity from the command line. */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "cli.h"
#include "control_client.h"
#include "datadir.h"
#include "keyfile.h"
#include "proto/multiaddr.h"
#include "transport/error.h"

#define ID_USAGE \
    "usage: knit id [--data-dir DIR] [--json]\n" \
    "\n" \
    "Print this node's peer ID on the first line and, when its daemon is\n" \
    "running, the addresses it listens on, one multiaddr per line.\n" \
    "\n" \
    "options:\n" \
    "  --data-dir DIR   data directory (see knit --help)\n" \
    "  --json           print {\"peer_id\": ..., \"addrs\": [...]}\n" \
    "  -h, --help       show this help\n"

#define KEYGEN_USAGE \
    "usage: knit keygen [--data-dir DIR | --output FILE] [--json]\n" \
    "\n" \
    "Create a new identity key and print its peer ID. Without --output the\n" \
    "key goes to the data directory, where the daemon uses it. An existing\n" \
    "key is never overwritten.\n" \
    "\n" \
    "options:\n" \
    "  --data-dir DIR   data directory (see knit --help)\n" \
    "  --output FILE    write the key to FILE instead (mode 0600)\n" \
    "  --json           print {\"peer_id\": ..., \"key_file\": ...}\n" \
    "  -h, --help       show this help\n"

enum { OPT_DATA_DIR = 256, OPT_JSON, OPT_OUTPUT };

struct id_args {
    const char *data_dir_flag;
    const char *output;
    bool json;
};

/* Shared option loop: id accepts --data-dir and --json, keygen also
 * --output. Returns false when the command should end at once with
 * *exit_code (after --help, or a usage error). */
static bool parse_args(const char *cmd, const char *usage, bool with_output,
                       int argc, char **argv, struct id_args *a,
                       int *exit_code)
{
    static const struct option id_opts[] = {
        {"data-dir", required_argument, NULL, OPT_DATA_DIR},
        {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static const struct option keygen_opts[] = {
        {"data-dir", required_argument, NULL, OPT_DATA_DIR},
        {"json", no_argument, NULL, OPT_JSON},
        {"output", required_argument, NULL, OPT_OUTPUT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt;
    while ((opt = getopt_long(argc, argv, ":h",
                              with_output ? keygen_opts : id_opts, NULL)) != -1) {
        switch (opt) {
        case 'h':
            fputs(usage, stdout);
            *exit_code = KNIT_EXIT_OK;
            return false;
        case OPT_DATA_DIR:
            a->data_dir_flag = optarg;
            break;
        case OPT_JSON:
            a->json = true;
            break;
        case OPT_OUTPUT:
            a->output = optarg;
            break;
        default:
            *exit_code = knit_cli_usage_error(cmd, opt, optopt, argv, optind);
            return false;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "knit %s: unexpected argument '%s' "
                        "(try 'knit %s --help')\n", cmd, argv[optind], cmd);
        *exit_code = KNIT_EXIT_USAGE;
        return false;
    }
    if (a->output && a->data_dir_flag) {
        fprintf(stderr, "knit %s: --output and --data-dir exclude each other\n",
                cmd);
        *exit_code = KNIT_EXIT_USAGE;
        return false;
    }
    return true;
}

int knit_cli_id(int argc, char **argv)
{
    struct id_args a = {0};
    int rc;
    if (!parse_args("id", ID_USAGE, false, argc, argv, &a, &rc))
        return rc;
    char dir[KNIT_PATH_MAX], path[KNIT_PATH_MAX], err[512];
    if (knit_datadir_resolve(a.data_dir_flag, dir, sizeof dir, err,
                             sizeof err) != KNIT_OK ||
        knit_datadir_path(dir, KNIT_KEYFILE_NAME, path, sizeof path) != 0) {
        fprintf(stderr, "knit id: %s\n", err);
        return KNIT_EXIT_FAIL;
    }
    if (sodium_init() < 0) {
        fprintf(stderr, "knit id: libsodium failed to initialise\n");
        return KNIT_EXIT_FAIL;
    }
    struct knit_identity ident;
    rc = knit_keyfile_load(path, &ident, err, sizeof err);
    if (rc == KNIT_E_NOT_FOUND) {
        fprintf(stderr, "knit id: no identity in %s yet; start the daemon "
                        "once or run 'knit keygen'\n", dir);
        return KNIT_EXIT_FAIL;
    }
    if (rc != KNIT_OK) {
        fprintf(stderr, "knit id: %s\n", err);
        return KNIT_EXIT_FAIL;
    }
    char id_text[KNIT_PEER_ID_TEXT_MAX];
    knit_peer_id_to_text(&ident.id, id_text, sizeof id_text);
    knit_identity_wipe(&ident);

    /* The addresses are the running daemon's; without one there are none. */
    static struct knit_control_reply reply;
    struct knit_msg_iter it;
    const uint8_t *addr;
    size_t addr_len;
    bool have_daemon = false;
    uint8_t request[64];
    size_t request_len;
    struct knit_msg_writer w;
    knit_msg_writer_init(&w, request, sizeof request);
    knit_msg_begin(&w, KNIT_CTL_ID_REQUEST, 0);
    rc = knit_msg_end(&w, &request_len);
    if (rc == KNIT_OK)
        rc = knit_control_call(dir, request, request_len, KNIT_CTL_ID_RESPONSE,
                               &knit_control_id_response, &reply, err,
                               sizeof err);
    if (rc == KNIT_OK) {
        size_t len;
        const uint8_t *daemon_id = knit_msg_bytes(&reply.msg, 1, &len);
        if (len != strlen(id_text) || memcmp(daemon_id, id_text, len) != 0) {
            fprintf(stderr, "knit id: the daemon of %s runs another identity "
                            "than its key file holds\n", dir);
            return KNIT_EXIT_FAIL;
        }
        have_daemon = true;
    } else if (rc != KNIT_E_NOT_FOUND) {
        fprintf(stderr, "knit id: %s\n", err);
        return KNIT_EXIT_FAIL;
    }

    if (a.json) {
        printf("{\"peer_id\": ");
        knit_cli_json_string(stdout, id_text);
        printf(", \"addrs\": [");
    } else {
        printf("%s\n", id_text);
    }
    if (have_daemon && knit_msg_iter_init(&it, &reply.msg, 2) == KNIT_OK) {
        for (int i = 0; knit_msg_next_bytes(&it, &addr, &addr_len) == KNIT_OK;
             i++) {
            char text[KNIT_MA_TEXT_MAX];
            snprintf(text, sizeof text, "%.*s", (int)addr_len,
                     (const char *)addr);
            if (a.json) {
                printf(i ? ", " : "");
                knit_cli_json_string(stdout, text);
            } else {
                printf("%s\n", text);
            }
        }
    }
    if (a.json)
        printf("]}\n");
    return KNIT_EXIT_OK;
}

int knit_cli_keygen(int argc, char **argv)
{
    struct id_args a = {0};
    int rc;
    if (!parse_args("keygen", KEYGEN_USAGE, true, argc, argv, &a, &rc))
        return rc;
    char dir[KNIT_PATH_MAX], path[KNIT_PATH_MAX], err[512];
    if (a.output) {
        if (snprintf(path, sizeof path, "%s", a.output) >= (int)sizeof path) {
            fprintf(stderr, "knit keygen: --output path is too long\n");
            return KNIT_EXIT_USAGE;
        }
    } else if (knit_datadir_resolve(a.data_dir_flag, dir, sizeof dir, err,
                                    sizeof err) != KNIT_OK ||
               knit_datadir_create(dir, err, sizeof err) != KNIT_OK ||
               knit_datadir_path(dir, KNIT_KEYFILE_NAME, path,
                                 sizeof path) != KNIT_OK) {
        fprintf(stderr, "knit keygen: %s\n", err);
        return KNIT_EXIT_FAIL;
    }
    if (sodium_init() < 0) {
        fprintf(stderr, "knit keygen: libsodium failed to initialise\n");
        return KNIT_EXIT_FAIL;
    }
    struct knit_identity ident;
    if (knit_keyfile_create(path, &ident, err, sizeof err) != KNIT_OK) {
        fprintf(stderr, "knit keygen: %s\n", err);
        return KNIT_EXIT_FAIL;
    }
    char id_text[KNIT_PEER_ID_TEXT_MAX];
    knit_peer_id_to_text(&ident.id, id_text, sizeof id_text);
    knit_identity_wipe(&ident);
    if (a.json) {
        printf("{\"peer_id\": ");
        knit_cli_json_string(stdout, id_text);
        printf(", \"key_file\": ");
        knit_cli_json_string(stdout, path);
        printf("}\n");
    } else {
        printf("%s\n", id_text);
        fprintf(stderr, "key written to %s\n", path);
    }
    return KNIT_EXIT_OK;
}
