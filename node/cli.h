/* The knit command line: one binary, one subcommand per file (cli_*.c).
 *
 * Exit codes: 0 success, 1 the command failed, 2 bad usage (unknown option,
 * missing argument), always with a one-line message on stderr. */
#ifndef KNIT_CLI_H
#define KNIT_CLI_H

#include <stdio.h>

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

/* Prints "knit <cmd>: <problem> (try 'knit <cmd> --help')" and returns
 * KNIT_EXIT_USAGE; opt is what getopt returned, bad_opt its optopt. */
int knit_cli_usage_error(const char *cmd, int opt, int bad_opt,
                         char **argv, int optind_after);
/* Writes s as a JSON string literal, quotes included. */
void knit_cli_json_string(FILE *out, const char *s);

#endif
