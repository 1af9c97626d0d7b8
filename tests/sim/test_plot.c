/* knit-sim plot (sim/plot.h): metrics for a small known set are written,
 * gnuplot draws them, and each PNG must be there and be a PNG. gnuplot is
 * required (scripts/deps.sh test installs gnuplot-nox): without it these
 * tests fail and say so, they never skip. Also: plots with nothing to show
 * are skipped and their stale PNGs removed, a folder name no shell could
 * take is fine, and missing gnuplot, failing gnuplot and bad folders give
 * clear errors. Set KNIT_KEEP_PLOTS=1 to keep the folders and look at the
 * pictures. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "sim/metrics.h"
#include "sim/plot.h"
#include "tests/support/tmpdir_fixtures.h"
#include "transport/error.h"

#define NO KNIT_SIM_NO_TIME

static const char *const PNGS[] = {"lookup_latency_cdf.png", "lookup_hops.png",
                                   "nat_matrix.png", "traffic_cdf.png",
                                   "relay_load.png"};
#define NPNGS (sizeof PNGS / sizeof PNGS[0])

/* ---- helpers ------------------------------------------------------------- */

static void make_root(char *root, size_t cap)
{
    snprintf(root, cap, "/tmp/knit-plot-XXXXXX");
    assert_non_null(mkdtemp(root));
}

/* Drops a test's folder, unless KNIT_KEEP_PLOTS asks to look at it. */
static void drop_root(const char *path)
{
    if (getenv("KNIT_KEEP_PLOTS")) {
        fprintf(stderr, "kept %s\n", path);
        return;
    }
    remove_tree(path, 4);
}

/* Deterministic spread for the sample values (a 64-bit LCG). */
static uint64_t next(uint64_t *x)
{
    *x = *x * 6364136223846793005ull + 1442695040888963407ull;
    return *x >> 33;
}

static const char *const CLASSES[] = {"public", "full_cone", "port_restricted",
                                      "symmetric", "cgn"};
#define NCLASSES 5

/* 400 lookups (latencies 20 ms to a few s, 5 % failing), 200 connection
 * attempts whose outcome depends on the two classes, 100 nodes, the public
 * ones relaying (relays: from a kB to a few hundred MB each) or not. */
static struct knit_sim_metrics *sample_set(bool lookups, bool connects,
                                           bool nodes, bool relays)
{
    struct knit_sim_metrics *m;
    assert_int_equal(knit_sim_metrics_new(&m, CLASSES, NCLASSES), KNIT_OK);
    uint64_t x = 7;
    for (int i = 0; lookups && i < 400; i++) {
        uint64_t lat = 20000 + next(&x) % 200000;
        if (i % 10 == 0)
            lat *= 10;   /* a slow tail */
        struct knit_sim_lookup_sample s = {
            .at_us = (uint64_t)i * 100000, .latency_us = lat,
            .queries = (uint32_t)(3 + next(&x) % 12),
            .hops = (uint16_t)(1 + next(&x) % 5), .ok = i % 20 != 0,
            .target_class = (uint8_t)(next(&x) % NCLASSES)};
        assert_int_equal(knit_sim_metrics_lookup(m, &s), KNIT_OK);
    }
    for (int i = 0; connects && i < 200; i++) {
        uint8_t d = (uint8_t)(next(&x) % NCLASSES);
        uint8_t t = (uint8_t)(next(&x) % NCLASSES);
        uint64_t roll = next(&x) % 100;
        struct knit_sim_connect_sample s = {
            .at_us = (uint64_t)i * 200000, .dialer_class = d,
            .target_class = t, .first_byte_us = NO, .direct_us = NO};
        bool hard = d >= 3 && t >= 2;
        if (roll < (hard ? 10u : 80u)) {
            s.outcome = KNIT_SIM_OUTCOME_DIRECT;
            s.direct_us = 30000 + next(&x) % 100000;
            s.first_byte_us = s.direct_us + 20000;
        } else if (roll < 90) {
            s.outcome = KNIT_SIM_OUTCOME_RELAYED;
            s.first_byte_us = 80000 + next(&x) % 200000;
        } else {
            s.outcome = KNIT_SIM_OUTCOME_FAILED;
            s.fail = KNIT_SIM_FAIL_NO_SESSION;
        }
        assert_int_equal(knit_sim_metrics_connect(m, &s), KNIT_OK);
    }
    for (uint32_t i = 0; nodes && i < 100; i++) {
        uint64_t bytes = 2000 + next(&x) % 50000;
        if (i < 5)
            bytes *= 100;   /* bootstrap nodes carry much more */
        struct knit_sim_node_sample s = {
            .index = i, .class_index = (uint8_t)(i % NCLASSES),
            .bootstrap = i < 5, .joins = 1, .online_us = 600000000,
            .tx_packets = bytes / 100, .tx_bytes = bytes,
            .rx_packets = bytes / 110, .rx_bytes = bytes * 9 / 10,
            .handshakes = i % 7, .table_size = 20 + i % 30};
        if (relays && s.class_index == 0) {
            s.relay_circuits = 1 + next(&x) % 40;
            s.relay_bytes = s.relay_circuits * (1000 + next(&x) % 20000);
            if (i < 5)
                s.relay_bytes *= 500;   /* the bootstrap nodes, busiest */
        }
        assert_int_equal(knit_sim_metrics_node(m, &s), KNIT_OK);
    }
    return m;
}

static void write_set(struct knit_sim_metrics *m, const char *dir)
{
    char err[512];
    int rc = knit_sim_metrics_write(m, dir, err, sizeof err);
    if (rc)
        fail_msg("metrics write: %s", err);
    knit_sim_metrics_free(m);
}

/* Runs the plot with its lines captured; fails the test, saying what to
 * install, when gnuplot is missing. */
static int plot(const char *dir, const char *gnuplot, char *lines,
                size_t cap, char *err, size_t errlen)
{
    FILE *out = tmpfile();
    assert_non_null(out);
    int rc = knit_sim_plot_with(dir, gnuplot, out, err, errlen);
    if (rc && strstr(err, "gnuplot not found") &&
        strcmp(gnuplot, "gnuplot") == 0)
        fail_msg("gnuplot is not installed: install gnuplot-nox "
                 "(apt-get install gnuplot-nox; make test does it through "
                 "scripts/deps.sh test). %s", err);
    rewind(out);
    size_t n = fread(lines, 1, cap - 1, out);
    lines[n] = '\0';
    fclose(out);
    return rc;
}

static void assert_png(const char *dir, const char *name)
{
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G',
                                         '\r', '\n', 0x1a, '\n'};
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("%s was not written", path);
    unsigned char head[8];
    size_t got = fread(head, 1, sizeof head, f);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fclose(f);
    assert_int_equal(got, sizeof head);
    assert_memory_equal(head, sig, sizeof sig);
    assert_true(size > 2000);   /* a picture, not just a header */
}

static bool exists(const char *dir, const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

static void assert_contains(const char *text, const char *part)
{
    if (!strstr(text, part))
        fail_msg("missing \"%s\" in:\n%s", part, text);
}

/* ---- tests --------------------------------------------------------------- */

static void test_all_plots(void **state)
{
    (void)state;
    char root[64], dir[128], lines[2048], err[512];
    make_root(root, sizeof root);
    snprintf(dir, sizeof dir, "%s/run", root);
    write_set(sample_set(true, true, true, true), dir);
    int rc = plot(dir, "gnuplot", lines, sizeof lines, err, sizeof err);
    if (rc)
        fail_msg("plot: %s", err);
    for (size_t i = 0; i < NPNGS; i++) {
        assert_png(dir, PNGS[i]);
        char line[256];
        snprintf(line, sizeof line, "%s/%s\n", dir, PNGS[i]);
        assert_contains(lines, line);
    }
    assert_true(exists(dir, "plots.gp"));
    assert_null(strstr(lines, "skipped"));

    /* the plain entry point (lines on stdout) gives the same */
    assert_int_equal(knit_sim_plot(dir, err, sizeof err), KNIT_OK);
    for (size_t i = 0; i < NPNGS; i++)
        assert_png(dir, PNGS[i]);
    drop_root(root);
}

/* No connection attempts: no heat map, and the one an earlier run left is
 * removed. No data at all: nothing drawn, gnuplot not even started. */
static void test_skipped_plots(void **state)
{
    (void)state;
    char root[64], dir[128], lines[2048], err[512];
    make_root(root, sizeof root);
    snprintf(dir, sizeof dir, "%s/run", root);
    write_set(sample_set(true, true, true, true), dir);
    assert_int_equal(plot(dir, "gnuplot", lines, sizeof lines, err,
                          sizeof err), KNIT_OK);
    assert_true(exists(dir, "nat_matrix.png"));
    assert_true(exists(dir, "relay_load.png"));

    write_set(sample_set(true, false, true, false), dir);
    assert_int_equal(plot(dir, "gnuplot", lines, sizeof lines, err,
                          sizeof err), KNIT_OK);
    assert_contains(lines, "skipped nat_matrix.png: no connection attempts\n");
    assert_false(exists(dir, "nat_matrix.png"));
    /* nodes, none of them relaying: no relay load either */
    assert_contains(lines, "skipped relay_load.png: no relayed circuits\n");
    assert_false(exists(dir, "relay_load.png"));
    assert_png(dir, "lookup_latency_cdf.png");
    assert_png(dir, "lookup_hops.png");
    assert_png(dir, "traffic_cdf.png");

    write_set(sample_set(false, false, false, false), dir);
    assert_int_equal(plot(dir, "knit-test-no-such-gnuplot", lines,
                          sizeof lines, err, sizeof err), KNIT_OK);
    assert_contains(lines, "skipped lookup_latency_cdf.png: no successful "
                           "lookups\n");
    assert_contains(lines, "skipped lookup_hops.png: no successful lookups\n");
    assert_contains(lines, "skipped nat_matrix.png: no connection attempts\n");
    assert_contains(lines, "skipped traffic_cdf.png: no nodes\n");
    assert_contains(lines, "skipped relay_load.png: no relayed circuits\n");
    for (size_t i = 0; i < NPNGS; i++)
        assert_false(exists(dir, PNGS[i]));
    drop_root(root);
}

/* gnuplot gets the folder through chdir and an argument vector: quotes,
 * spaces and a leading dash in its name change nothing. */
static void test_awkward_folder_name(void **state)
{
    (void)state;
    char root[64], dir[256], lines[4096], err[512];
    make_root(root, sizeof root);
    snprintf(dir, sizeof dir, "%s/-it's a \"run\"; $(false) `x`", root);
    write_set(sample_set(true, true, true, true), dir);
    int rc = plot(dir, "gnuplot", lines, sizeof lines, err, sizeof err);
    if (rc)
        fail_msg("plot: %s", err);
    for (size_t i = 0; i < NPNGS; i++)
        assert_png(dir, PNGS[i]);
    drop_root(root);
}

static void test_errors(void **state)
{
    (void)state;
    char root[64], dir[128], path[256], lines[2048], err[512];
    make_root(root, sizeof root);
    snprintf(dir, sizeof dir, "%s/run", root);

    /* no such folder */
    assert_int_equal(plot(dir, "gnuplot", lines, sizeof lines, err,
                          sizeof err), KNIT_E_IO);
    assert_contains(err, dir);

    write_set(sample_set(true, true, true, true), dir);

    /* gnuplot missing, or failing */
    assert_int_equal(plot(dir, "knit-test-no-such-gnuplot", lines,
                          sizeof lines, err, sizeof err), KNIT_E_IO);
    assert_string_equal(err, "gnuplot not found; install it: apt-get install "
                             "gnuplot-nox");
    assert_int_equal(plot(dir, "false", lines, sizeof lines, err, sizeof err),
                     KNIT_E_IO);
    assert_contains(err, "gnuplot exited with status 1");
    /* a program that succeeds without drawing anything */
    assert_int_equal(plot(dir, "true", lines, sizeof lines, err, sizeof err),
                     KNIT_E_IO);
    assert_contains(err, "lookup_latency_cdf.png: gnuplot did not write it");

    /* a CSV that is not the metrics writer's */
    snprintf(path, sizeof path, "%s/nodes.csv", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("index,class\n0,public\n", f);
    fclose(f);
    assert_int_equal(plot(dir, "gnuplot", lines, sizeof lines, err,
                          sizeof err), KNIT_E_MALFORMED);
    assert_contains(err, path);
    unlink(path);
    assert_int_equal(plot(dir, "gnuplot", lines, sizeof lines, err,
                          sizeof err), KNIT_E_IO);
    assert_contains(err, path);

    assert_int_equal(knit_sim_plot_with(NULL, "gnuplot", NULL, err,
                                        sizeof err), KNIT_E_INVAL);
    assert_int_equal(knit_sim_plot_with("", "gnuplot", NULL, NULL, 0),
                     KNIT_E_INVAL);
    assert_int_equal(knit_sim_plot_with(dir, "", NULL, NULL, 0),
                     KNIT_E_INVAL);
    drop_root(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_plots),
        cmocka_unit_test(test_skipped_plots),
        cmocka_unit_test(test_awkward_folder_name),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
