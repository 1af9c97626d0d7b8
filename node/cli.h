/* The knit command line: one binary, one subcommand per file (cli_*.c).
 *
 * Exit codes: 0 success, 1 the command failed, 2 bad usage (unknown option,
 * missing argument), always with a one-line message on stderr. */
#ifndef KNIT_CLI_H
#define KNIT_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "control_client.h"
#include "proto/peer_id.h"

#define KNIT_EXIT_OK 0
#define KNIT_EXIT_FAIL 1
#define KNIT_EXIT_USAGE 2

int knit_cli_main(int argc, char **argv);

/* The subcommands; argv[0] is the subcommand name. */
int knit_cli_daemon(int argc, char **argv);
int knit_cli_id(int argc, char **argv);
int knit_cli_keygen(int argc, char **argv);
int knit_cli_ping(int argc, char **argv);
int knit_cli_bench(int argc, char **argv);
int knit_cli_find(int argc, char **argv);
int knit_cli_peers(int argc, char **argv);
int knit_cli_dht(int argc, char **argv);
int knit_cli_status(int argc, char **argv);
/* node/cli_forward.c */
int knit_cli_expose(int argc, char **argv);
int knit_cli_forward(int argc, char **argv);
int knit_cli_forwards(int argc, char **argv);
int knit_cli_mpyc(int argc, char **argv);

/* Prints "knit <cmd>: <problem> (try 'knit <cmd> --help')" and returns
 * KNIT_EXIT_USAGE; opt is what getopt returned, bad_opt its optopt. */
int knit_cli_usage_error(const char *cmd, int opt, int bad_opt,
                         char **argv, int optind_after);
/* Writes s as a JSON string literal, quotes included. */
void knit_cli_json_string(FILE *out, const char *s);
/* The same for len bytes that need no NUL. */
void knit_cli_json_bytes(FILE *out, const uint8_t *p, size_t len);

/* A peer named by its ID alone, "12D3KooW..." or "/p2p/12D3KooW...".
 * Errors: the peer ID's (KNIT_E_BASE58, KNIT_E_LENGTH, KNIT_E_PREFIX) or the
 * multiaddr's, and KNIT_E_SHAPE for a multiaddr that is more than /p2p. */
int knit_cli_parse_peer(const char *text, struct knit_peer_id *id);

/* A command that asks the running daemon one question (find, peers, dht
 * table, status): [--json] [--data-dir DIR] [-h], and one positional
 * argument when arg_name is not NULL (arg_name says what it is in the
 * error message). */
struct knit_cli_query {
    const char *data_dir_flag;
    const char *arg;
    bool json;
};
/* false = the command ends at once with *code (after --help or a usage
 * error, already printed). */
bool knit_cli_parse_query(const char *cmd, const char *usage,
                          const char *arg_name, int argc, char **argv,
                          struct knit_cli_query *q, int *code);

/* Sends one request frame to the daemon of the data directory and waits up
 * to timeout_ms for its answer, which must be of response_type and decode
 * with schema into reply->msg. false after printing "knit <cmd>: <why>"
 * (no daemon, an error answer, a timeout, a malformed answer). */
bool knit_cli_ask(const char *cmd, const char *data_dir_flag,
                  const uint8_t *request, size_t len, uint64_t response_type,
                  const struct knit_msg_schema *schema, int timeout_ms,
                  struct knit_control_reply *reply);
/* knit_cli_ask for a request that is its type alone (peers, status, dht
 * table), with the usual timeout. */
bool knit_cli_ask_bare(const char *cmd, const char *data_dir_flag,
                       uint64_t request_type, uint64_t response_type,
                       const struct knit_msg_schema *schema,
                       struct knit_control_reply *reply);

#endif
