/* Plots of a metrics folder, drawn by gnuplot (sim/plot.h).
 *
 * The CSV files are read only to check they are the metrics writer's (their
 * header) and to count their rows, which decides the plots to draw. The
 * script names files relative to the folder and gnuplot is started in it,
 * by fork and execvp with an argument vector: no shell ever sees the
 * folder's name. */
#include "sim/plot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sim/metrics_internal.h"
#include "transport/error.h"

#define PATH_CAP 4096
#define SCRIPT "plots.gp"
#define NO_GNUPLOT "gnuplot not found; install it: apt-get install gnuplot-nox"

enum { IN_CDF, IN_HOPS, IN_CONNECTS, IN_MATRIX, IN_NODES, IN_RELAYS, INPUTS };

static const struct {
    const char *name, *header;
} INPUT[INPUTS] = {
    [IN_CDF] = {"lookup_latency_cdf.csv", KNIT_SIM_CSV_LATENCY_CDF},
    [IN_HOPS] = {"lookup_hops.csv", KNIT_SIM_CSV_HOPS},
    [IN_CONNECTS] = {"connects.csv", KNIT_SIM_CSV_CONNECTS},
    [IN_MATRIX] = {"nat_matrix.csv", KNIT_SIM_CSV_NAT_MATRIX},
    [IN_NODES] = {"nodes.csv", KNIT_SIM_CSV_NODES},
    [IN_RELAYS] = {"relays.csv", KNIT_SIM_CSV_RELAYS},
};

/* ---- the script ---------------------------------------------------------- */

static const char PROLOGUE[] =
    "# Written by knit-sim plot from the CSV files beside it.\n"
    "# Rerun by hand: cd into this folder, then: gnuplot plots.gp\n"
    "# pngcairo draws better; gnuplot-nox may have only libgd's png.\n"
    "# noenhanced: class names such as full_cone are not subscripts.\n"
    "png_term = strstrt(GPVAL_TERMINALS, \"pngcairo\") > 0 ? \\\n"
    "    \"pngcairo noenhanced font 'sans,10'\" : \"png noenhanced\"\n";

/* Every plot starts from gnuplot's defaults and these. A plot's stats
 * come before its ranges: stats honours them. A CDF of one value gets an
 * x range of its own (gnuplot would widen it, with a warning). */
static const char RESET[] =
    "\nreset\n"
    "set terminal @png_term size 900,600\n"
    "set datafile separator \",\"\n"
    "set grid\n"
    "set key off\n";

static const char PLOT_LATENCY[] =
    "set output \"lookup_latency_cdf.png\"\n"
    "set title \"Lookup latency, successful lookups\"\n"
    "set xlabel \"latency (ms)\"\n"
    "set ylabel \"fraction of lookups at or below\"\n"
    "stats \"lookup_latency_cdf.csv\" skip 1 using 1 nooutput\n"
    "if (STATS_max == STATS_min) {\n"
    "    set xrange [STATS_min - 1:STATS_max + 1]\n"
    "}\n"
    "set yrange [0:1]\n"
    "if (STATS_min > 0 && STATS_max >= 20 * STATS_min) {\n"
    "    set logscale x\n"
    "}\n"
    "plot \"lookup_latency_cdf.csv\" skip 1 using 1:2 with steps lw 2\n";

static const char PLOT_HOPS[] =
    "set output \"lookup_hops.png\"\n"
    "set title \"Hops per successful lookup\"\n"
    "set xlabel \"hops\"\n"
    "set ylabel \"lookups\"\n"
    "set style fill solid 0.8 border -1\n"
    "set boxwidth 0.8\n"
    "stats \"lookup_hops.csv\" skip 1 using 1 nooutput\n"
    "set yrange [0:*]\n"
    "set xrange [-0.5:STATS_max + 0.5]\n"
    "if (STATS_max <= 30) {\n"
    "    set xtics 1\n"
    "}\n"
    "plot \"lookup_hops.csv\" skip 1 using 1:2 with boxes\n";

/* Cells are boxes centred on (target index, dialer index): grey under
 * every cell, coloured by connected_share where there were attempts (a NaN
 * x leaves the others out), and a label "66%\n2 of 3" (over 8 classes, a
 * bigger picture and "66%\n3", the attempts). Tic labels are the class
 * names. */
static const char PLOT_MATRIX[] =
    "stats \"nat_matrix.csv\" skip 1 using 1 nooutput\n"
    "classes = int(STATS_max) + 1\n"
    "big = classes > 8\n"
    "if (big) {\n"
    "    set terminal @png_term size 1400,1000\n"
    "}\n"
    "set output \"nat_matrix.png\"\n"
    "set title \"Connection attempts that connected (direct or relayed)\"\n"
    "set xlabel \"target class\"\n"
    "set ylabel \"dialer class\"\n"
    "set xrange [-0.5:classes - 0.5]\n"
    "set yrange [classes - 0.5:-0.5]\n"
    "set cbrange [0:1]\n"
    "set cblabel \"share connected\"\n"
    "set palette defined (0 \"#d73027\", 0.5 \"#fee08b\", 1 \"#1a9850\")\n"
    "set grid noxtics noytics\n"
    "set tics scale 0\n"
    "if (classes > 5) {\n"
    "    set xtics rotate by -30\n"
    "}\n"
    "label_font = big ? \",8\" : \",10\"\n"
    "# whole percent, rounded down: 199 of 200 is 99%, not 100%\n"
    "pct(ok, n) = int(floor(100.0 * ok / n + 1e-9))\n"
    "plot \"nat_matrix.csv\" skip 1 using 2:1:(0.5):(0.5):xtic(4):ytic(3) \\\n"
    "         with boxxyerror fs solid 1.0 noborder fc rgb \"#d0d0d0\", \\\n"
    "     \"\" skip 1 \\\n"
    "         using (column(5) > 0 ? column(2) : NaN):1:(0.5):(0.5):9 \\\n"
    "         with boxxyerror fs solid 1.0 noborder fc palette, \\\n"
    "     \"\" skip 1 using 2:1:(column(5) == 0 ? \\\n"
    "         (big ? \"-\" : \"no attempts\") : big ? \\\n"
    "         sprintf(\"%d%%\\n%d\", \\\n"
    "                 pct(column(6) + column(7), column(5)), column(5)) : \\\n"
    "         sprintf(\"%d%%\\n%d of %d\", pct(column(6) + column(7), \\\n"
    "                 column(5)), column(6) + column(7), column(5))) \\\n"
    "         with labels font label_font\n";

static const char PLOT_TRAFFIC[] =
    "set output \"traffic_cdf.png\"\n"
    "set title \"Bytes sent per node\"\n"
    "set xlabel \"bytes sent\"\n"
    "set ylabel \"fraction of nodes at or below\"\n"
    "stats \"nodes.csv\" skip 1 using 7 nooutput\n"
    "if (STATS_max == STATS_min) {\n"
    "    set xrange [STATS_min - 1:STATS_max + 1]\n"
    "}\n"
    "set yrange [0:1]\n"
    "set format x \"%.0s%cB\"\n"
    "if (STATS_min > 0 && STATS_max >= 20 * STATS_min) {\n"
    "    set logscale x\n"
    "}\n"
    "plot \"nodes.csv\" skip 1 using 7:(1.0) smooth cnormal with steps lw 2\n";

/* relays.csv is busiest first: column 1 the rank, 5 the bytes. A log y
 * axis when the busiest carried 20 times what the least busy did (a relay
 * that carried no bytes, only circuits, keeps it linear). */
static const char PLOT_RELAYS[] =
    "set output \"relay_load.png\"\n"
    "set title \"Relay load: bytes each relay carried\"\n"
    "set xlabel \"relay node, busiest first\"\n"
    "set ylabel \"bytes relayed\"\n"
    "set style fill solid 0.8 border -1\n"
    "set boxwidth 0.8 relative\n"
    "stats \"relays.csv\" skip 1 using 1 nooutput\n"
    "relays = int(STATS_max)\n"
    "stats \"relays.csv\" skip 1 using 5 nooutput\n"
    "set xrange [0.5:relays + 0.5]\n"
    "if (relays <= 30) {\n"
    "    set xtics 1\n"
    "}\n"
    "set format y \"%.0s%cB\"\n"
    "if (STATS_min > 0 && STATS_max >= 20 * STATS_min) {\n"
    "    set logscale y\n"
    "    set yrange [STATS_min / 2:STATS_max * 2]\n"
    "} else {\n"
    "    set yrange [0:STATS_max > 0 ? STATS_max * 1.1 : 1]\n"
    "}\n"
    "plot \"relays.csv\" skip 1 using 1:5 with boxes\n";

enum { PLOTS = 5 };

static const struct {
    const char *png, *script, *nothing;
    int input;   /* the plot is drawn when this CSV has rows */
} PLOT[PLOTS] = {
    {"lookup_latency_cdf.png", PLOT_LATENCY, "no successful lookups", IN_CDF},
    {"lookup_hops.png", PLOT_HOPS, "no successful lookups", IN_HOPS},
    {"nat_matrix.png", PLOT_MATRIX, "no connection attempts", IN_CONNECTS},
    {"traffic_cdf.png", PLOT_TRAFFIC, "no nodes", IN_NODES},
    {"relay_load.png", PLOT_RELAYS, "no relayed circuits", IN_RELAYS},
};

/* ---- helpers ------------------------------------------------------------- */

static int fail(char *err, size_t errlen, int rc, const char *fmt,
                const char *a, const char *b)
{
    if (err && errlen)
        snprintf(err, errlen, fmt, a, b);
    return rc;
}

static int join(char *path, const char *dir, const char *name, char *err,
                size_t errlen)
{
    int n = snprintf(path, PATH_CAP, "%s/%s", dir, name);
    if (n < 0 || n >= PATH_CAP)
        return fail(err, errlen, KNIT_E_IO, "%s: %s", dir, "path too long");
    return KNIT_OK;
}

/* Checks that path starts with the header line and counts the rows after
 * it (a last row without its newline counts too). */
static int count_rows(const char *path, const char *header, uint64_t *rows,
                      char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return fail(err, errlen, KNIT_E_IO, "%s: %s (not a knit-sim metrics "
                    "folder?)", path, strerror(errno));
    size_t hlen = strlen(header);
    char head[256];
    size_t got = fread(head, 1, hlen + 1, f);
    if (got != hlen + 1 || memcmp(head, header, hlen) != 0 ||
        head[hlen] != '\n') {
        bool bad_read = ferror(f);
        fclose(f);
        if (bad_read)
            return fail(err, errlen, KNIT_E_IO, "%s: %s", path, "read error");
        return fail(err, errlen, KNIT_E_MALFORMED,
                    "%s: does not start with the header \"%s\"", path, header);
    }
    uint64_t n = 0;
    int c, last = '\n';
    while ((c = getc(f)) != EOF) {
        if (c == '\n')
            n++;
        last = c;
    }
    if (last != '\n')
        n++;
    bool bad = ferror(f);
    fclose(f);
    if (bad)
        return fail(err, errlen, KNIT_E_IO, "%s: %s", path, "read error");
    *rows = n;
    return KNIT_OK;
}

static int write_script(const char *path, const bool draw[PLOTS], char *err,
                        size_t errlen)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return fail(err, errlen, KNIT_E_IO, "%s: %s", path, strerror(errno));
    fputs(PROLOGUE, f);
    for (int i = 0; i < PLOTS; i++)
        if (draw[i]) {
            fputs(RESET, f);
            fputs(PLOT[i].script, f);
        }
    fputs("\nunset output\n", f);
    bool bad = ferror(f) != 0;
    if (fclose(f) != 0)
        bad = true;
    if (bad)
        return fail(err, errlen, KNIT_E_IO, "%s: %s", path, "write failed");
    return KNIT_OK;
}

/* Runs `gnuplot plots.gp` in dir and waits for it. A pipe closed on exec
 * tells a failed chdir or exec (the child writes its errno) from gnuplot's
 * own exit status. */
static int run_gnuplot(const char *dir, const char *gnuplot, char *err,
                       size_t errlen)
{
    int fds[2];
    if (pipe(fds) != 0)
        return fail(err, errlen, KNIT_E_IO, "%s: pipe: %s", dir,
                    strerror(errno));
    fcntl(fds[0], F_SETFD, FD_CLOEXEC);
    fcntl(fds[1], F_SETFD, FD_CLOEXEC);
    fflush(NULL);   /* nothing buffered is written twice */
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(fds[0]);
        close(fds[1]);
        return fail(err, errlen, KNIT_E_IO, "%s: fork: %s", dir, strerror(e));
    }
    if (pid == 0) {
        close(fds[0]);
        struct { int stage, err; } why = {0, 0};
        if (chdir(dir) == 0) {
            char *const argv[] = {(char *)gnuplot, (char *)SCRIPT, NULL};
            execvp(gnuplot, argv);
            why.stage = 1;
        }
        why.err = errno;
        ssize_t w = write(fds[1], &why, sizeof why);
        (void)w;
        _exit(127);
    }
    close(fds[1]);
    struct { int stage, err; } why;
    ssize_t got;
    do
        got = read(fds[0], &why, sizeof why);
    while (got < 0 && errno == EINTR);
    close(fds[0]);
    int status = 0;
    pid_t w;
    do
        w = waitpid(pid, &status, 0);
    while (w < 0 && errno == EINTR);
    if (got == (ssize_t)sizeof why) {
        if (why.stage == 0)
            return fail(err, errlen, KNIT_E_IO, "%s: %s", dir,
                        strerror(why.err));
        if (why.err == ENOENT)
            return fail(err, errlen, KNIT_E_IO, "%s%s", NO_GNUPLOT, "");
        return fail(err, errlen, KNIT_E_IO, "%s: cannot run: %s", gnuplot,
                    strerror(why.err));
    }
    if (w < 0)
        return fail(err, errlen, KNIT_E_IO, "%s: wait: %s", gnuplot,
                    strerror(errno));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        if (err && errlen)
            snprintf(err, errlen, "%s/%s: gnuplot %s %d (its messages are "
                     "above)", dir, SCRIPT,
                     WIFEXITED(status) ? "exited with status"
                                       : "was killed by signal",
                     WIFEXITED(status) ? WEXITSTATUS(status)
                                       : WTERMSIG(status));
        return KNIT_E_IO;
    }
    return KNIT_OK;
}

/* A PNG gnuplot was to write: there, and more than the 8-byte signature. */
static bool png_written(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 8;
}

/* ---- the command --------------------------------------------------------- */

int knit_sim_plot_with(const char *dir, const char *gnuplot, FILE *out,
                       char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!dir || !dir[0] || !gnuplot || !gnuplot[0])
        return fail(err, errlen, KNIT_E_INVAL, "%s%s",
                    "no metrics folder or no gnuplot given", "");
    char path[PATH_CAP];
    uint64_t rows[INPUTS];
    for (int i = 0; i < INPUTS; i++) {
        int rc = join(path, dir, INPUT[i].name, err, errlen);
        if (!rc)
            rc = count_rows(path, INPUT[i].header, &rows[i], err, errlen);
        if (rc)
            return rc;
    }

    /* Old PNGs go first, so what is there afterwards is this run's. */
    bool draw[PLOTS], any = false;
    for (int i = 0; i < PLOTS; i++) {
        draw[i] = rows[PLOT[i].input] > 0;
        any |= draw[i];
        int rc = join(path, dir, PLOT[i].png, err, errlen);
        if (rc)
            return rc;
        if (unlink(path) != 0 && errno != ENOENT)
            return fail(err, errlen, KNIT_E_IO, "%s: %s", path,
                        strerror(errno));
    }
    int rc = join(path, dir, SCRIPT, err, errlen);
    if (!rc)
        rc = write_script(path, draw, err, errlen);
    if (!rc && any)
        rc = run_gnuplot(dir, gnuplot, err, errlen);
    if (rc)
        return rc;

    for (int i = 0; i < PLOTS; i++) {
        rc = join(path, dir, PLOT[i].png, err, errlen);
        if (rc)
            return rc;
        if (!draw[i]) {
            if (out)
                fprintf(out, "skipped %s: %s\n", PLOT[i].png, PLOT[i].nothing);
            continue;
        }
        if (!png_written(path))
            return fail(err, errlen, KNIT_E_IO,
                        "%s: gnuplot did not write it (see %s)", path, SCRIPT);
        if (out)
            fprintf(out, "%s\n", path);
    }
    if (out)
        fflush(out);
    return KNIT_OK;
}

int knit_sim_plot(const char *dir, char *err, size_t errlen)
{
    return knit_sim_plot_with(dir, "gnuplot", stdout, err, errlen);
}
