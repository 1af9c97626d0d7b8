/* knit-sim: runs a scenario on the simulator and plots what it measured.
 *
 *   knit-sim run SCENARIO [--seed N] [--nodes N] [--out DIR] [--quiet]
 *   knit-sim plot DIR
 *
 * Exit codes: 0 done, 1 the run or the plot failed, 2 usage or scenario
 * error (with one line on stderr saying what and where). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <sodium.h>

#include "sim/metrics.h"
#include "sim/plot.h"
#include "sim/run.h"
#include "sim/scenario.h"
#include "transport/error.h"

#ifndef KNIT_VERSION
#define KNIT_VERSION "0"
#endif

#define USAGE \
    "usage: knit-sim run SCENARIO [--seed N] [--nodes N] [--out DIR] [--quiet]\n" \
    "       knit-sim plot DIR\n" \
    "\n" \
    "The knit network simulator: thousands of unmodified knit node cores on\n" \
    "virtual hosts, behind modelled NATs, on virtual time, with real\n" \
    "cryptography. docs/simulator.md describes the model and the scenario\n" \
    "format; sim/scenarios/ has examples.\n" \
    "\n" \
    "commands:\n" \
    "  run SCENARIO   run the scenario file and write its metrics (CSV, JSON)\n" \
    "  plot DIR       draw PNG plots of a run's metrics with gnuplot\n" \
    "\n" \
    "run options:\n" \
    "  --seed N       the run's seed (default: the scenario's); the same\n" \
    "                 scenario and seed give byte-identical output files\n" \
    "  --nodes N      override the scenario's node count\n" \
    "  --out DIR      where the files go (default: SCENARIO-NAME-seedN)\n" \
    "  --quiet        no summary on stdout, no progress bar\n" \
    "\n" \
    "options:\n" \
    "  -h, --help     show this help\n" \
    "  -V, --version  print the version\n" \
    "\n" \
    "A progress bar with the time left is drawn on stderr when it is a\n" \
    "terminal. Wall time, events per second and peak memory go to stderr.\n"

static int usage_error(const char *msg, const char *arg)
{
    fprintf(stderr, "knit-sim: %s%s%s (try 'knit-sim --help')\n", msg,
            arg ? ": " : "", arg ? arg : "");
    return 2;
}

static bool parse_u64(const char *text, uint64_t max, uint64_t *out)
{
    if (!text[0] || text[0] == '-' || text[0] == '+')
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || *end || v > max)
        return false;
    *out = v;
    return true;
}

/* "sim/scenarios/home-mix.scn" -> "home-mix". */
static void scenario_stem(const char *path, char *out, size_t cap)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strcspn(base, ".");
    if (n == 0)
        n = strlen(base);
    snprintf(out, cap, "%.*s", (int)n, base);
}

static void print_ms(const char *label, uint64_t us)
{
    if (us == KNIT_SIM_NO_TIME)
        printf(" %s -", label);
    else
        printf(" %s %" PRIu64 ".%03" PRIu64 " ms", label, us / 1000,
               us % 1000);
}

static void print_summary(const struct knit_sim_metrics *m, const char *dir)
{
    size_t ok = 0;
    size_t total = knit_sim_metrics_lookups(m, &ok);
    printf("lookups: %zu, found %zu", total, ok);
    if (total)
        printf(" (%.2f %%)", 100.0 * (double)ok / (double)total);
    printf(", median hops %u, latency",
           knit_sim_metrics_median_hops(m));
    print_ms("p50", knit_sim_metrics_lookup_percentile(m, 50));
    print_ms("p90", knit_sim_metrics_lookup_percentile(m, 90));
    print_ms("p99", knit_sim_metrics_lookup_percentile(m, 99));
    printf("\nmetrics written to %s/ (summary.json, *.csv); "
           "plot them with: knit-sim plot %s\n", dir, dir);
}

static int cmd_run(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"seed", required_argument, NULL, 's'},
        {"nodes", required_argument, NULL, 'n'},
        {"out", required_argument, NULL, 'o'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    uint64_t seed = 0, nodes = 0;
    bool seed_set = false, quiet = false;
    const char *out = NULL;
    int opt;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (opt) {
        case 's':
            if (!parse_u64(optarg, UINT64_MAX, &seed))
                return usage_error("--seed takes a number 0..2^64-1", optarg);
            seed_set = true;
            break;
        case 'n':
            if (!parse_u64(optarg, KNIT_SCN_MAX_NODES, &nodes) || nodes == 0)
                return usage_error("--nodes takes a number 1..1000000",
                                   optarg);
            break;
        case 'o':
            if (!optarg[0])
                return usage_error("--out takes a folder", NULL);
            out = optarg;
            break;
        case 'q':
            quiet = true;
            break;
        case 'h':
            fputs(USAGE, stdout);
            return 0;
        case ':':
            return usage_error("option needs an argument", argv[optind - 1]);
        default:
            return usage_error("unknown option", argv[optind - 1]);
        }
    }
    if (optind != argc - 1)
        return usage_error(optind >= argc ? "run needs a scenario file"
                                          : "run takes one scenario file",
                           NULL);
    const char *path = argv[optind];
    struct knit_scenario s;
    char err[512];
    if (knit_scenario_load(path, &s, err, sizeof err) != KNIT_OK) {
        fprintf(stderr, "knit-sim: %s\n", err);
        return 2;
    }
    if (seed_set)
        s.seed = seed;
    if (nodes) {
        s.nodes = (uint32_t)nodes;
        if (knit_scenario_public_nodes(&s) > s.nodes ||
            s.bootstrap > knit_scenario_public_nodes(&s)) {
            fprintf(stderr, "knit-sim: --nodes %" PRIu64 " leaves fewer "
                    "public nodes than the %u bootstrap nodes of %s\n",
                    nodes, s.bootstrap, path);
            return 2;
        }
    }
    char stem[128], dir_buf[256];
    if (!out) {
        scenario_stem(path, stem, sizeof stem);
        snprintf(dir_buf, sizeof dir_buf, "%s-seed%" PRIu64, stem, s.seed);
        out = dir_buf;
    }
    struct knit_sim_run_options opts = {
        .progress = quiet || !isatty(STDERR_FILENO) ? NULL : stderr,
    };
    struct knit_sim_run_report rep;
    struct knit_sim_metrics *m = NULL;
    if (knit_sim_run(&s, &opts, &m, &rep, err, sizeof err) != KNIT_OK) {
        fprintf(stderr, "knit-sim: %s: %s\n", path, err);
        return 1;
    }
    int rc = knit_sim_metrics_write(m, out, err, sizeof err);
    if (rc != KNIT_OK) {
        fprintf(stderr, "knit-sim: %s\n", err);
        knit_sim_metrics_free(m);
        return 1;
    }
    if (!quiet)
        print_summary(m, out);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double rss_mib = (double)ru.ru_maxrss / 1024.0;
    fprintf(stderr,
            "knit-sim: %u nodes (at most %" PRIu64 " online), %.1f s wall, "
            "%" PRIu64 " events (%.0f/s), %" PRIu64 " sessions set up, "
            "peak RSS %.0f MiB (%.1f KiB per node)\n",
            s.nodes, rep.peak_hosts, rep.wall_s, rep.events,
            rep.wall_s > 0 ? (double)rep.events / rep.wall_s : 0.0,
            rep.handshakes, rss_mib,
            rep.peak_hosts ? (double)ru.ru_maxrss / (double)rep.peak_hosts
                           : 0.0);
    if (rep.lookups_abandoned || rep.connects_abandoned)
        fprintf(stderr, "knit-sim: %" PRIu64 " lookups and %" PRIu64
                " connection attempts not counted: their node left or the "
                "run ended before an answer\n",
                rep.lookups_abandoned, rep.connects_abandoned);
    knit_sim_metrics_free(m);
    return 0;
}

static int cmd_plot(int argc, char **argv)
{
    if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        fputs(USAGE, stdout);
        return 0;
    }
    if (argc != 2)
        return usage_error("plot takes one folder (a run's --out)", NULL);
    char err[512];
    if (knit_sim_plot(argv[1], err, sizeof err) != KNIT_OK) {
        fprintf(stderr, "knit-sim: %s\n", err);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage_error("no command given", NULL);
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        fputs(USAGE, stdout);
        return 0;
    }
    if (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version")) {
        printf("knit-sim %s\n", KNIT_VERSION);
        return 0;
    }
    if (!strcmp(argv[1], "plot"))
        return cmd_plot(argc - 1, argv + 1);
    if (strcmp(argv[1], "run"))
        return usage_error("unknown command", argv[1]);
    if (sodium_init() < 0) {
        fprintf(stderr, "knit-sim: libsodium failed to initialise\n");
        return 1;
    }
    return cmd_run(argc - 1, argv + 1);
}
