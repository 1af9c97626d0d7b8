#include "cli.h"

#include <getopt.h>
#include <string.h>

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
    fputc('"', out);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c < 0x20)
            fprintf(out, "\\u%04x", c);
        else
            fputc(c, out);
    }
    fputc('"', out);
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
